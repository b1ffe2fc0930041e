// SaslAuthenticate (key 36), versions 0-2 (flexible from 2): one SASL token per request after
// SaslHandshake v1 (KIP-152). A failed step answers SASL_AUTHENTICATION_FAILED with the
// mechanism's message (never a hint whether the user exists), logs the reason and closes the
// connection once the answer is written. session_lifetime_ms is 0 (no re-authentication,
// KIP-368). Outside the handshaken state: ILLEGAL_SASL_STATE (and close on a SASL listener).
#include "protocol/messages/sasl_authenticate.h"

#include "base/log.h"
#include "broker/broker.h"
#include "broker/handlers/handlers.h"
#include "broker/sasl_session.h"
#include "protocol/error_codes.h"

namespace kaffa::broker {

void handle_sasl_authenticate(RequestContext& ctx, Responder respond) {
  protocol::SaslAuthenticateRequest req;
  if (!ctx.decode(req)) return respond.close();
  Broker& broker = ctx.broker;
  protocol::SaslAuthenticateResponse resp;
  SaslSession* s = SaslSession::of(ctx.conn, broker.sasl_listener(ctx.conn.listener_name));
  if (s == nullptr || s->state != SaslSession::State::handshaken || s->raw_tokens) {
    resp.error_code = protocol::code(protocol::ErrorCode::illegal_sasl_state);
    resp.error_message = "Unexpected SaslAuthenticate request";
    if (s == nullptr) return respond.send(resp);
    return respond.send_and_close(resp);
  }
  auto step = s->mechanism->step(req.auth_bytes);
  if (step.state == security::SaslStep::State::failed) {
    log::warn("SASL {} authentication failed on connection {} from {}: {}", s->mechanism->name(),
              ctx.conn.id, ctx.conn.peer, step.detail);
    broker.metrics().on_sasl_failure();
    resp.error_code = protocol::code(protocol::ErrorCode::sasl_authentication_failed);
    resp.error_message = step.error;
    return respond.send_and_close(resp);
  }
  if (step.state == security::SaslStep::State::done) {
    s->state = SaslSession::State::authenticated;
    s->principal = step.principal;
    broker.metrics().on_sasl_success();
    log::info("connection {} from {} authenticated as {} ({})", ctx.conn.id, ctx.conn.peer,
              s->principal, s->mechanism->name());
  }
  resp.error_message = std::nullopt;
  resp.auth_bytes = std::move(step.token);
  respond.send(resp);
}

}  // namespace kaffa::broker
