// AddPartitionsToTxn (key 24), versions 0-5 (flexible from 3).
//
// Versions 0-3 come from clients. Kafka's order: WRITE on the transactional id (else every
// partition gets TRANSACTIONAL_ID_AUTHORIZATION_FAILED); then per topic WRITE
// (TOPIC_AUTHORIZATION_FAILED) and existence (UNKNOWN_TOPIC_OR_PARTITION) — if any partition fails
// those, nothing is added and the others get OPERATION_NOT_ATTEMPTED; otherwise the coordinator's
// answer (txn/txn_rules.h) is every partition's.
//
// Versions 4-5 come from brokers (KIP-890): CLUSTER_ACTION on the cluster (else the top-level
// error CLUSTER_AUTHORIZATION_FAILED and no results), several transactions per request, each
// answered on its own. A verify_only transaction (a partition leader checking a transactional
// produce, txn/partition_verifier.h) gets txn::rules::verify_partitions' answer per partition,
// TRANSACTION_ABORTABLE as INVALID_TXN_STATE below v5; the others are added like a client's,
// without the topic ACLs.
#include "protocol/messages/add_partitions_to_txn.h"

#include "broker/authorize.h"
#include "broker/broker.h"
#include "broker/handlers/gathered_response.h"
#include "broker/handlers/handlers.h"
#include "broker/handlers/txn_common.h"
#include "txn/txn_rules.h"

namespace kaffa::broker {
namespace {

using protocol::ErrorCode;
using Batched = GatheredResponse<protocol::AddPartitionsToTxnResponse>;

// v4+: one transaction of a broker's request; fills results_by_transaction[slot].
void handle_transaction(Broker& broker, const std::shared_ptr<Batched>& op, size_t slot,
                        protocol::AddPartitionsToTxnRequest::AddPartitionsToTxnTransaction txn,
                        int16_t version) {
  auto& result = op->resp.results_by_transaction[slot];
  std::vector<txn::TopicPartition> partitions;
  bool unknown = false;
  for (const auto& topic : txn.topics) {
    auto& t = result.topic_results.emplace_back();
    t.name = topic.name;
    const auto info = broker.topics().find(topic.name);
    for (const int32_t p : topic.partitions) {
      auto& r = t.results.emplace_back();
      r.partition_index = p;
      const bool exists = info && p >= 0 && p < info->partitions;
      r.partition_error_code =
          protocol::code(exists ? ErrorCode::none : ErrorCode::unknown_topic_or_partition);
      unknown = unknown || !exists;
      partitions.emplace_back(topic.name, p);
    }
  }
  // Each partition's code, in request order (the order of `partitions`).
  auto set_each = [op, slot](auto code_of) {
    size_t i = 0;
    for (auto& t : op->resp.results_by_transaction[slot].topic_results) {
      for (auto& r : t.results) r.partition_error_code = protocol::code(code_of(i++, r));
    }
  };
  if (txn.transactional_id.empty() || unknown) {
    const bool empty = txn.transactional_id.empty();
    set_each([empty](size_t, const auto& r) {
      if (empty) return ErrorCode::invalid_request;
      return r.partition_error_code == 0 ? ErrorCode::operation_not_attempted
                                         : ErrorCode::unknown_topic_or_partition;
    });
    return op->finish_one();
  }
  const std::string id = txn.transactional_id;  // `txn` moves into the callback
  broker.txn_coordinator().with_shard(
      id, [op, txn = std::move(txn), partitions = std::move(partitions), set_each, version](
              txn::TxnShard* shard, ErrorCode e) mutable {
        if (shard == nullptr) {
          set_each([e](size_t, const auto&) { return e; });
          return op->finish_one();
        }
        if (txn.verify_only) {
          const auto errors = txn::rules::verify_partitions(
              shard->find(txn.transactional_id), txn.producer_id, txn.producer_epoch, partitions);
          set_each([&errors, version](size_t i, const auto&) {
            return errors[i] == ErrorCode::transaction_abortable && version < 5
                       ? ErrorCode::invalid_txn_state
                       : errors[i];
          });
          return op->finish_one();
        }
        shard->add_partitions(txn.transactional_id, txn.producer_id, txn.producer_epoch,
                              std::move(partitions), [op, set_each](ErrorCode e) {
                                set_each([e](size_t, const auto&) { return e; });
                                op->finish_one();
                              });
      });
}

void handle_from_broker(RequestContext& ctx, protocol::AddPartitionsToTxnRequest req,
                        Responder respond) {
  auto op = std::make_shared<Batched>();
  op->respond.emplace(std::move(respond));
  if (!authorize_cluster(ctx, AclOperation::cluster_action)) {
    op->resp.error_code = protocol::code(ErrorCode::cluster_authorization_failed);
    return op->finish_one();
  }
  // Every slot exists before the first one is handed to a shard's loop.
  for (const auto& txn : req.transactions) {
    op->resp.results_by_transaction.emplace_back().transactional_id = txn.transactional_id;
  }
  op->pending.fetch_add(req.transactions.size(), std::memory_order_relaxed);
  for (size_t i = 0; i < req.transactions.size(); ++i) {
    handle_transaction(ctx.broker, op, i, std::move(req.transactions[i]), ctx.version());
  }
  op->finish_one();
}

}  // namespace

void handle_add_partitions_to_txn(RequestContext& ctx, Responder respond) {
  protocol::AddPartitionsToTxnRequest req;
  if (!ctx.decode(req)) return respond.close();
  if (ctx.version() >= 4) return handle_from_broker(ctx, std::move(req), std::move(respond));
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
