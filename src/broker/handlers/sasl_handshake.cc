// SaslHandshake (key 17), versions 0-1 (never flexible). On a SASL listener it selects the
// mechanism of the connection (broker/sasl_session.h); v0 switches the connection to raw token
// frames. An unknown or disabled mechanism gets UNSUPPORTED_SASL_MECHANISM with the enabled list
// and the connection is closed; a second handshake gets ILLEGAL_SASL_STATE and is closed too. On
// a listener without SASL the answer is ILLEGAL_SASL_STATE (Kafka's KafkaApis answer).
#include "protocol/messages/sasl_handshake.h"

#include "base/log.h"
#include "broker/broker.h"
#include "broker/handlers/handlers.h"
#include "broker/sasl_session.h"
#include "protocol/error_codes.h"

namespace kaffa::broker {

void handle_sasl_handshake(RequestContext& ctx, Responder respond) {
  protocol::SaslHandshakeRequest req;
  if (!ctx.decode(req)) return respond.close();
  Broker& broker = ctx.broker;
  protocol::SaslHandshakeResponse resp;
  SaslSession* s = SaslSession::of(ctx.conn, broker.sasl_listener(ctx.conn.listener_name));
  if (s == nullptr) {
    resp.error_code = protocol::code(protocol::ErrorCode::illegal_sasl_state);
    return respond.send(resp);
  }
  for (const auto& m : broker.config().sasl_mechanisms_of(ctx.conn.listener_name)) {
    resp.mechanisms.push_back(m);
  }
  if (s->state != SaslSession::State::initial) {
    resp.error_code = protocol::code(protocol::ErrorCode::illegal_sasl_state);
    return respond.send_and_close(resp);
  }
  auto mechanism = broker.sasl_mechanism(ctx.conn.listener_name, req.mechanism);
  if (!mechanism) {
    log::warn("connection {} from {}: SASL mechanism '{}' is not enabled; closing", ctx.conn.id,
              ctx.conn.peer, req.mechanism);
    resp.error_code = protocol::code(protocol::ErrorCode::unsupported_sasl_mechanism);
    return respond.send_and_close(resp);
  }
  s->mechanism = std::move(mechanism);
  s->state = SaslSession::State::handshaken;
  s->raw_tokens = ctx.version() == 0;
  respond.send(resp);
}

}  // namespace kaffa::broker
