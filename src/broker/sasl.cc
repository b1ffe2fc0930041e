// Broker: the SASL gate of SASL listeners (which requests may pass before authentication) and
// the raw token frames that follow SaslHandshake v0. The handshake and authenticate handlers are
// handlers/sasl_handshake.cc and handlers/sasl_authenticate.cc.
#include "base/log.h"
#include "broker/broker.h"
#include "broker/sasl_session.h"

namespace kaffa::broker {
namespace {

constexpr int16_t kSaslHandshake = 17;
constexpr int16_t kApiVersions = 18;
constexpr int16_t kSaslAuthenticate = 36;

}  // namespace

bool Broker::sasl_listener(std::string_view listener) const {
  for (const auto& l : config_.listeners) {
    if (l.name == listener) {
      return l.security_protocol == "SASL_PLAINTEXT" || l.security_protocol == "SASL_SSL";
    }
  }
  return false;
}

std::unique_ptr<security::SaslMechanism> Broker::sasl_mechanism(std::string_view listener,
                                                                std::string_view name) const {
  const auto& enabled = config_.sasl_mechanisms_of(listener);
  if (std::find(enabled.begin(), enabled.end(), name) == enabled.end()) return nullptr;
  if (name == security::kScramSha256 || name == security::kScramSha512) {
    return security::make_scram(
        name, [store = scram_](std::string_view user, std::string_view mechanism) {
          return store->find(user, mechanism);
        });
  }
  if (name == security::kPlain) {
    const auto it = config_.plain_users.find(std::string(listener));
    if (it == config_.plain_users.end()) return nullptr;
    return security::make_plain(it->second);
  }
  if (name == security::kOAuthBearer) {
    const auto it = config_.oauthbearer.find(std::string(listener));
    if (it == config_.oauthbearer.end()) return nullptr;
    return security::make_oauthbearer(it->second);
  }
  return nullptr;
}

bool Broker::sasl_gate(const net::ConnectionInfo& conn, int16_t api_key) {
  SaslSession* s = SaslSession::of(conn, sasl_listener(conn.listener_name));
  if (s == nullptr || s->state == SaslSession::State::authenticated) return true;
  if (api_key == kApiVersions || api_key == kSaslHandshake || api_key == kSaslAuthenticate) {
    return true;
  }
  log::warn("closing connection {} from {}: API key {} before SASL authentication", conn.id,
            conn.peer, api_key);
  return false;
}

bool Broker::handle_raw_sasl_token(const net::ConnectionInfo& conn, net::RequestFrame& frame,
                                   net::Completion& done) {
  SaslSession* s = SaslSession::of(conn, sasl_listener(conn.listener_name));
  if (s == nullptr || !s->raw_tokens || s->state != SaslSession::State::handshaken) return false;
  const auto step = s->mechanism->step(frame.bytes());
  if (step.state == security::SaslStep::State::failed) {
    // No error can be sent in the raw token exchange: Kafka closes the connection.
    log::warn("SASL {} authentication failed on connection {} from {}: {}", s->mechanism->name(),
              conn.id, conn.peer, step.detail);
    metrics_.on_sasl_failure();
    done.close();
    return true;
  }
  if (step.state == security::SaslStep::State::done) {
    s->state = SaslSession::State::authenticated;
    s->principal = step.principal;
    metrics_.on_sasl_success();
    log::info("connection {} from {} authenticated as {} ({})", conn.id, conn.peer, s->principal,
              s->mechanism->name());
  }
  net::ResponseFrame out;
  const auto n = static_cast<uint32_t>(step.token.size());
  out.bytes = {static_cast<char>(n >> 24), static_cast<char>(n >> 16), static_cast<char>(n >> 8),
               static_cast<char>(n)};
  out.bytes += step.token;
  done.send(std::move(out));
  return true;
}

}  // namespace kaffa::broker
