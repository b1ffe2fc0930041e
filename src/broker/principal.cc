// Broker: which principal a connection's requests act as, for authorization and logging.
//
//   SASL_PLAINTEXT, SASL_SSL  the SASL identity once authenticated (a client certificate on
//                             SASL_SSL does not change it, as in Kafka)
//   SSL with a verified client certificate
//                             "User:" + the subject mapped by ssl.principal.mapping.rules
//   otherwise                 User:ANONYMOUS
#include "base/log.h"
#include "broker/broker.h"
#include "broker/request_context.h"
#include "broker/sasl_session.h"
#include "broker/tls_config.h"

namespace kaffa::broker {

std::optional<std::string> Broker::certificate_principal(const net::ConnectionInfo& conn) const {
  if (conn.tls_peer_subject.empty()) return std::nullopt;
  const auto it = config_.tls.find(conn.listener_name);
  if (it == config_.tls.end() || !it->second->mapper) return std::nullopt;
  auto name = it->second->mapper->apply(conn.tls_peer_subject);
  if (!name) return std::nullopt;
  return "User:" + *name;
}

std::string Broker::principal_of(const net::ConnectionInfo& conn) const {
  const bool sasl = sasl_listener(conn.listener_name);
  if (const SaslSession* s = SaslSession::of(conn, sasl);
      s != nullptr && s->state == SaslSession::State::authenticated) {
    return s->principal;
  }
  if (!sasl) {
    if (auto p = certificate_principal(conn)) return *p;
  }
  return "User:ANONYMOUS";
}

bool Broker::on_tls_established(const net::ConnectionInfo& conn) {
  if (conn.tls_peer_subject.empty()) return true;
  auto principal = certificate_principal(conn);
  if (!principal) {
    log::warn(
        "closing connection {} from {} on listener {}: no ssl.principal.mapping.rules rule "
        "applies to the client certificate subject '{}'",
        conn.id, conn.peer, conn.listener_name, conn.tls_peer_subject);
    return false;
  }
  log::info("connection {} from {} on listener {}: TLS client certificate '{}', principal {}",
            conn.id, conn.peer, conn.listener_name, conn.tls_peer_subject,
            sasl_listener(conn.listener_name) ? "from SASL" : *principal);
  return true;
}

std::string RequestContext::principal() const {
  return broker.principal_of(conn);
}

}  // namespace kaffa::broker
