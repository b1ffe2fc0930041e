// Broker: which principal a connection's requests act as, for authorization and logging.
#include "broker/broker.h"
#include "broker/request_context.h"
#include "broker/sasl_session.h"

namespace kaffa::broker {

std::string Broker::principal_of(const net::ConnectionInfo& conn) const {
  if (const SaslSession* s = SaslSession::of(conn, sasl_listener(conn.listener_name));
      s != nullptr && s->state == SaslSession::State::authenticated) {
    return s->principal;
  }
  return "User:ANONYMOUS";
}

std::string RequestContext::principal() const {
  return broker.principal_of(conn);
}

}  // namespace kaffa::broker
