// FindCoordinator (key 10), versions 0-6 (flexible from 3; v4+ carries several keys).
// On a single node every group and transactional id is coordinated by this broker, so the answer
// is always this node; the first lookup creates __consumer_offsets or __transaction_state (as
// Kafka does). In a cluster a group's coordinator is the leader of its __consumer_offsets
// partition; while that topic does not exist yet (it is created on the first lookup, once
// offsets.topic.replication.factor brokers are alive) or the partition has no leader the answer is
// COORDINATOR_NOT_AVAILABLE, and the client asks again. A transactional id's coordinator is the
// leader of its
// __transaction_state partition, found and created the same way. Key types: 0 group,
// 1 transaction; others are INVALID_REQUEST. An empty key is INVALID_REQUEST too
// (Kafka: a group id must not be empty here).
//
// librdkafka also reads the presence of FindCoordinator v0 as "broker >= 0.8.2" and only then
// compresses with LZ4 (protocol-notes trap 3).
#include "protocol/messages/find_coordinator.h"

#include "broker/authorize.h"
#include "broker/broker.h"
#include "broker/handlers/handlers.h"
#include "coordinator/group_coordinator.h"
#include "protocol/error_codes.h"

namespace kaffa::broker {
namespace {

// Kafka's order: the key's authorization (DESCRIBE on the group or transactional id), then its
// validity. Returns the error and its message (none: the key is answered with this node).
std::pair<protocol::ErrorCode, const char*> key_error(const RequestContext& ctx, int8_t key_type,
                                                      const std::string& key) {
  using protocol::ErrorCode;
  if (key_type == 0 && !authorize(ctx, AclOperation::describe, ResourceType::group, key)) {
    return {ErrorCode::group_authorization_failed, "Group authorization failed."};
  }
  if (key_type == 1 &&
      !authorize(ctx, AclOperation::describe, ResourceType::transactional_id, key)) {
    return {ErrorCode::transactional_id_authorization_failed,
            "Transactional Id authorization failed."};
  }
  if (key_type != 0 && key_type != 1) {
    return {ErrorCode::invalid_request, "Unknown coordinator key type"};
  }
  if (key.empty()) return {ErrorCode::invalid_request, "Empty coordinator key"};
  return {ErrorCode::none, nullptr};
}

// The coordinator of a valid key, or COORDINATOR_NOT_AVAILABLE.
std::pair<protocol::ErrorCode, AdvertisedBroker> locate(const RequestContext& ctx, int8_t key_type,
                                                        const std::string& key) {
  Broker& broker = ctx.broker;
  const auto self = broker.advertised(ctx.conn.listener_name);
  const auto image = broker.image();
  if (!image) {
    // A single node: __consumer_offsets and __transaction_state are created on the first lookup
    // (as Kafka).
    if (key_type == 0 && !broker.coordinator().ensure_started()) {
      return {protocol::ErrorCode::coordinator_not_available, {-1, "", -1}};
    }
    if (key_type == 1 && !broker.txn_coordinator().ensure_started()) {
      return {protocol::ErrorCode::coordinator_not_available, {-1, "", -1}};
    }
    return {protocol::ErrorCode::none, self};
  }
  const bool group = key_type == 0;
  const auto* topic = image->topic(group ? coordinator::kOffsetsTopic : txn::kTransactionTopic);
  if (topic == nullptr) {
    if (group) {
      broker.create_offsets_topic();
    } else {
      broker.create_txn_topic();
    }
    return {protocol::ErrorCode::coordinator_not_available, {-1, "", -1}};
  }
  const int32_t p =
      group ? broker.coordinator().partition_for(key) : broker.txn_coordinator().partition_for(key);
  if (p >= static_cast<int32_t>(topic->partitions.size())) {
    return {protocol::ErrorCode::coordinator_not_available, {-1, "", -1}};
  }
  const int32_t leader = topic->partitions[static_cast<size_t>(p)].leader;
  auto node = leader >= 0 ? broker.node(*image, leader, ctx.conn.listener_name) : std::nullopt;
  if (!node) return {protocol::ErrorCode::coordinator_not_available, {-1, "", -1}};
  return {protocol::ErrorCode::none, *node};
}

}  // namespace

void handle_find_coordinator(RequestContext& ctx, Responder respond) {
  protocol::FindCoordinatorRequest req;
  if (!ctx.decode(req)) return respond.close();
  protocol::FindCoordinatorResponse resp;
  if (ctx.version() <= 3) {
    if (const auto [e, why] = key_error(ctx, req.key_type, req.key);
        e != protocol::ErrorCode::none) {
      resp.error_code = protocol::code(e);
      resp.error_message = why;
      resp.node_id = -1;
      resp.port = -1;
    } else if (const auto [found, node] = locate(ctx, req.key_type, req.key);
               found != protocol::ErrorCode::none) {
      resp.error_code = protocol::code(found);
      resp.error_message = "The coordinator is not available.";
      resp.node_id = -1;
      resp.port = -1;
    } else {
      resp.error_message = std::nullopt;
      resp.node_id = node.node_id;
      resp.host = node.host;
      resp.port = node.port;
    }
    return respond.send(resp);
  }
  for (const auto& key : req.coordinator_keys) {
    auto& c = resp.coordinators.emplace_back();
    c.key = key;
    if (const auto [e, why] = key_error(ctx, req.key_type, key); e != protocol::ErrorCode::none) {
      c.error_code = protocol::code(e);
      c.error_message = why;
      c.node_id = -1;
      c.port = -1;
      continue;
    }
    const auto [found, node] = locate(ctx, req.key_type, key);
    if (found != protocol::ErrorCode::none) {
      c.error_code = protocol::code(found);
      c.error_message = "The coordinator is not available.";
      c.node_id = -1;
      c.port = -1;
      continue;
    }
    c.error_message = std::nullopt;
    c.node_id = node.node_id;
    c.host = node.host;
    c.port = node.port;
  }
  respond.send(resp);
}

}  // namespace kaffa::broker
