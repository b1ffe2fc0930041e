// FindCoordinator (key 10), versions 0-6 (flexible from 3; v4+ carries several keys).
// On a single node every group and transactional id is coordinated by this broker, so the answer
// is always this node. Key types: 0 group, 1 transaction; others are INVALID_REQUEST. An empty key
// is INVALID_REQUEST too (Kafka: a group id must not be empty here).
//
// librdkafka also reads the presence of FindCoordinator v0 as "broker >= 0.8.2" and only then
// compresses with LZ4 (protocol-notes trap 3).
#include "protocol/messages/find_coordinator.h"

#include "broker/broker.h"
#include "broker/handlers/handlers.h"
#include "protocol/error_codes.h"

namespace kaffa::broker {

void handle_find_coordinator(RequestContext& ctx, Responder respond) {
  protocol::FindCoordinatorRequest req;
  if (!ctx.decode(req)) return respond.close();
  const auto adv = ctx.broker.advertised(ctx.conn.listener_name);
  const bool known_type = req.key_type == 0 || req.key_type == 1;
  protocol::FindCoordinatorResponse resp;
  if (ctx.version() <= 3) {
    if (!known_type || req.key.empty()) {
      resp.error_code = protocol::code(protocol::ErrorCode::invalid_request);
      resp.error_message = known_type ? "Empty coordinator key" : "Unknown coordinator key type";
      resp.node_id = -1;
      resp.port = -1;
    } else {
      resp.error_message = std::nullopt;
      resp.node_id = adv.node_id;
      resp.host = adv.host;
      resp.port = adv.port;
    }
    return respond.send(resp);
  }
  for (const auto& key : req.coordinator_keys) {
    auto& c = resp.coordinators.emplace_back();
    c.key = key;
    if (!known_type || key.empty()) {
      c.error_code = protocol::code(protocol::ErrorCode::invalid_request);
      c.error_message = known_type ? "Empty coordinator key" : "Unknown coordinator key type";
      c.node_id = -1;
      c.port = -1;
      continue;
    }
    c.error_message = std::nullopt;
    c.node_id = adv.node_id;
    c.host = adv.host;
    c.port = adv.port;
  }
  respond.send(resp);
}

}  // namespace kaffa::broker
