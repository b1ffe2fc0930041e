// SaslSession: the SASL state of one connection on a SASL listener (Kafka's
// SaslServerAuthenticator), kept in net::ConnectionInfo::handler_state.
//
//   initial --SaslHandshake(mechanism)--> handshaken --tokens--> authenticated
//                                              \--(failure)--> the connection is closed
//
// Before authentication only ApiVersions, SaslHandshake and SaslAuthenticate are served; any other
// request closes the connection (Kafka does the same). After SaslHandshake v0 the client sends
// its tokens as raw size-prefixed frames without a request header, answered the same way
// (`raw_tokens`); after v1 they come in SaslAuthenticate requests.
//
// Threading: only on the connection's loop thread (Broker::handle and the SASL handlers run
// there, in request order).
#pragma once

#include <memory>
#include <string>

#include "net/server.h"
#include "security/sasl.h"

namespace kaffa::broker {

struct SaslSession {
  enum class State { initial, handshaken, authenticated };
  State state = State::initial;
  bool raw_tokens = false;  // after SaslHandshake v0
  std::unique_ptr<security::SaslMechanism> mechanism;
  std::string principal;  // "User:<name>" once authenticated

  // The session of a connection, created on first use; nullptr on a listener without SASL.
  static SaslSession* of(const net::ConnectionInfo& conn, bool sasl_listener) {
    if (!sasl_listener) return nullptr;
    if (!conn.handler_state) conn.handler_state = std::make_shared<SaslSession>();
    return static_cast<SaslSession*>(conn.handler_state.get());
  }
};

}  // namespace kaffa::broker
