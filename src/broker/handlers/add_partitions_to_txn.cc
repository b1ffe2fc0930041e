// AddPartitionsToTxn (key 24), versions 0-3 (flexible from 3): the client versions; v4+ (KIP-890,
// batched and sent by brokers) is not advertised.
//
// Kafka's order: WRITE on the transactional id (else every partition gets
// TRANSACTIONAL_ID_AUTHORIZATION_FAILED); then per topic WRITE (TOPIC_AUTHORIZATION_FAILED) and
// existence (UNKNOWN_TOPIC_OR_PARTITION) — if any partition fails those, nothing is added and the
// others get OPERATION_NOT_ATTEMPTED; otherwise the coordinator's answer (txn/txn_rules.h) is
// every partition's.
#include "protocol/messages/add_partitions_to_txn.h"

#include "broker/authorize.h"
#include "broker/broker.h"
#include "broker/handlers/handlers.h"
#include "broker/handlers/txn_common.h"

namespace kaffa::broker {

void handle_add_partitions_to_txn(RequestContext& ctx, Responder respond) {
  using protocol::ErrorCode;
  protocol::AddPartitionsToTxnRequest req;
  if (!ctx.decode(req)) return respond.close();
  protocol::AddPartitionsToTxnResponse resp;
  const bool id_allowed =
      authorize(ctx, AclOperation::write, ResourceType::transactional_id, req.transactional_id);
  bool refused = false;
  std::vector<txn::TopicPartition> partitions;
  for (const auto& topic : req.topics) {
    auto& t = resp.results.emplace_back();
    t.name = topic.name;
    const bool allowed =
        id_allowed && authorize(ctx, AclOperation::write, ResourceType::topic, topic.name);
    const auto info = allowed ? ctx.broker.topics().find(topic.name) : std::nullopt;
    for (const int32_t p : topic.partitions) {
      auto& r = t.results.emplace_back();
      r.partition_index = p;
      ErrorCode e = ErrorCode::none;
      if (!id_allowed) {
        e = ErrorCode::transactional_id_authorization_failed;
      } else if (!allowed) {
        e = ErrorCode::topic_authorization_failed;
      } else if (!info || p < 0 || p >= info->partitions) {
        e = ErrorCode::unknown_topic_or_partition;
      }
      r.partition_error_code = protocol::code(e);
      refused = refused || e != ErrorCode::none;
      partitions.emplace_back(topic.name, p);
    }
  }
  auto set_all = [](protocol::AddPartitionsToTxnResponse& resp, ErrorCode e, bool only_clean) {
    for (auto& t : resp.results) {
      for (auto& r : t.results) {
        if (!only_clean || r.partition_error_code == 0) r.partition_error_code = protocol::code(e);
      }
    }
  };
  if (refused) {
    set_all(resp, ErrorCode::operation_not_attempted, true);
    return respond.send(resp);
  }
  auto out = std::make_shared<Responder>(std::move(respond));
  const int16_t version = ctx.version();
  const std::string id = req.transactional_id;  // `req` moves into the callback
  ctx.broker.txn_coordinator().with_shard(
      id, [req = std::move(req), resp = std::move(resp), partitions, out, version, set_all](
              txn::TxnShard* shard, ErrorCode e) mutable {
        if (shard == nullptr) {
          set_all(resp, e, false);
          return out->send(resp);
        }
        shard->add_partitions(req.transactional_id, req.producer_id, req.producer_epoch,
                              std::move(partitions),
                              [resp = std::move(resp), out, version, set_all](ErrorCode e) mutable {
                                set_all(resp, txn_error_for_version(e, version, 2), false);
                                out->send(resp);
                              });
      });
}

}  // namespace kaffa::broker
