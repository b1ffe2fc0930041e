// TxnOffsetCommit (key 28), versions 0-3 (flexible from 3).
// A transactional producer commits a group's offsets inside its transaction. v2 adds the leader
// epoch; v3 the generation, member id and static instance id (checked when given).
//
// Authorization, in Kafka's order: WRITE on the transactional id (else every partition answers
// TRANSACTIONAL_ID_AUTHORIZATION_FAILED), READ on the group (GROUP_AUTHORIZATION_FAILED), READ on
// each topic (TOPIC_AUTHORIZATION_FAILED); then partitions of unknown topics answer
// UNKNOWN_TOPIC_OR_PARTITION, and when none is left the coordinator is not asked. The other
// errors go to the remaining partitions only: INVALID_GROUP_ID for an empty group id; the
// coordinator's routing errors (NOT_COORDINATOR, COORDINATOR_LOAD_IN_PROGRESS — v0-1 get
// COORDINATOR_NOT_AVAILABLE instead, as Kafka answers clients older than the loading fix); the
// group check (GroupManager::validate_txn_offset_commit: ILLEGAL_GENERATION, UNKNOWN_MEMBER_ID,
// FENCED_INSTANCE_ID when a member is named); per partition OFFSET_METADATA_TOO_LARGE above
// offset.metadata.max.bytes.
//
// The offsets are written as ONE transactional batch of the producer (its id and epoch, no
// sequence) to the group's __consumer_offsets partition; once durable the client is answered and
// the offsets are pending for the producer: OffsetFetch does not show them (require_stable answers
// UNSTABLE_OFFSET_COMMIT) until the transaction's commit marker (coordinator_shard.h). A producer
// epoch older than one this partition saw answers INVALID_PRODUCER_EPOCH. As Kafka's classic
// coordinator, a producer id of -1 makes an ordinary (visible at once) commit.
//
// KIP-890 (transaction.partition.verification.enable): when the producer has no transaction
// ongoing on the group's partition, the transaction coordinator is asked first whether
// AddOffsetsToTxn put that partition in the producer's transaction (txn/partition_verifier.h),
// and the write presents the partition's verification guard; its errors go to every remaining
// partition (INVALID_TXN_STATE when the partition is not in the transaction; NETWORK_EXCEPTION,
// no answer, as COORDINATOR_LOAD_IN_PROGRESS, as Kafka's maybeConvertOffsetCommitError). So a
// late TxnOffsetCommit cannot leave offsets pending for a transaction that already ended.
#include "protocol/messages/txn_offset_commit.h"

#include <memory>
#include <optional>

#include "broker/broker.h"
#include "broker/handlers/handlers.h"
#include "broker/handlers/known_partitions.h"
#include "broker/handlers/offset_commit_common.h"
#include "coordinator/group_coordinator.h"
#include "coordinator/group_manager.h"
#include "coordinator/offset_store.h"
#include "coordinator/records.h"
#include "protocol/error_codes.h"

namespace kaffa::broker {
namespace {

using coordinator::CommittedOffset;
using coordinator::CoordinatorShard;
using protocol::ErrorCode;
using protocol::TxnOffsetCommitRequest;
using protocol::TxnOffsetCommitResponse;

struct TxnOffsetCommitOp {
  TxnOffsetCommitRequest req;
  TxnOffsetCommitResponse resp;
  std::optional<Responder> respond;
  int16_t version = 0;
  std::vector<std::vector<bool>> known;  // [topic][partition]: exists and may be committed

  int16_t& error_of(size_t t, size_t p) { return resp.topics[t].partitions[p].error_code; }
  void fail_known(ErrorCode e) {
    for (size_t t = 0; t < known.size(); ++t) {
      for (size_t p = 0; p < known[t].size(); ++p) {
        if (known[t][p]) error_of(t, p) = protocol::code(e);
      }
    }
  }
  void send() {
    if (version < 2) {
      constexpr int16_t kLoading = protocol::code(ErrorCode::coordinator_load_in_progress);
      for (auto& t : resp.topics) {
        for (auto& p : t.partitions) {
          if (p.error_code == kLoading) {
            p.error_code = protocol::code(ErrorCode::coordinator_not_available);
          }
        }
      }
    }
    respond->send(resp);
  }
};

// On the group's shard loop. `guard`: as CoordinatorShard::TxnProducer.
void commit_on_shard(const std::shared_ptr<TxnOffsetCommitOp>& op, CoordinatorShard* shard,
                     ErrorCode why, std::optional<uint64_t> guard) {
  const auto& req = op->req;
  if (!shard) {
    op->fail_known(why);
    return op->send();
  }
  const ErrorCode invalid = shard->groups().validate_txn_offset_commit(
      req.group_id, req.member_id, req.group_instance_id, req.generation_id);
  if (invalid != ErrorCode::none) {
    op->fail_known(invalid);
    return op->send();
  }

  const int64_t now = shard->now_ms();
  const auto max_metadata = static_cast<size_t>(shard->config().offset_metadata_max_bytes);
  auto commits = std::make_shared<std::vector<PartitionCommit>>();
  auto records = commit_records(
      req.group_id, req.topics, op->known, max_metadata,
      [now](const auto& part) {
        CommittedOffset v;
        v.offset = part.committed_offset;
        v.leader_epoch = part.committed_leader_epoch;
        v.commit_timestamp = now;
        return v;
      },
      [&](size_t t, size_t p) -> int16_t& { return op->error_of(t, p); }, *commits);
  if (records.empty()) return op->send();

  std::optional<CoordinatorShard::TxnProducer> producer;
  if (req.producer_id >= 0)
    producer = CoordinatorShard::TxnProducer{req.producer_id, req.producer_epoch, guard};
  shard->write_batch(
      std::move(records), producer,
      [op, shard, commits, producer](ErrorCode e, int64_t base_offset) {
        if (e != ErrorCode::none) {
          for (const auto& c : *commits) op->error_of(c.topic, c.partition) = commit_error(e);
          return op->send();
        }
        auto& offsets = shard->offsets();
        for (auto& c : *commits) {
          c.value.record_offset = base_offset++;  // record i of the batch: base offset + i
          const auto& topic = op->req.topics[c.topic];
          const int32_t partition = topic.partitions[c.partition].partition_index;
          if (producer) {
            offsets.apply_pending(producer->producer_id, op->req.group_id, topic.name, partition,
                                  std::move(c.value));
          } else {
            offsets.apply(op->req.group_id, topic.name, partition, std::move(c.value));
          }
        }
        op->send();
      });
}

// On the group's shard loop: KIP-890 verification of the group's partition first, when on and
// needed, then commit_on_shard.
void verify_then_commit(const std::shared_ptr<TxnOffsetCommitOp>& op, Broker& broker,
                        CoordinatorShard* shard, ErrorCode why) {
  const auto& req = op->req;
  if (shard == nullptr || req.producer_id < 0 || !broker.config().txn.verify_partitions) {
    return commit_on_shard(op, shard, why, std::nullopt);
  }
  const CoordinatorShard::TxnProducer producer{req.producer_id, req.producer_epoch, {}};
  const uint64_t guard = shard->begin_txn_verification(producer);
  if (guard == 0) return commit_on_shard(op, shard, why, guard);
  broker.txn_verifier().verify(
      req.transactional_id, req.producer_id, req.producer_epoch,
      {coordinator::kOffsetsTopic, shard->index()}, [op, &broker, guard](ErrorCode verified) {
        // Back on the group's loop (the shard may have moved meanwhile).
        broker.coordinator().with_shard(
            op->req.group_id, [op, guard, verified](CoordinatorShard* shard, ErrorCode why) {
              if (shard != nullptr && verified != ErrorCode::none) {
                op->fail_known(verified == ErrorCode::network_exception
                                   ? ErrorCode::coordinator_load_in_progress
                                   : verified);
                return op->send();
              }
              commit_on_shard(op, shard, why, guard);
            });
      });
}

}  // namespace

void handle_txn_offset_commit(RequestContext& ctx, Responder respond) {
  auto op = std::make_shared<TxnOffsetCommitOp>();
  if (!ctx.decode(op->req)) return respond.close();
  op->respond.emplace(std::move(respond));
  op->version = ctx.version();

  ErrorCode denied = ErrorCode::none;
  if (!authorize(ctx, AclOperation::write, ResourceType::transactional_id,
                 op->req.transactional_id)) {
    denied = ErrorCode::transactional_id_authorization_failed;
  } else if (!authorize(ctx, AclOperation::read, ResourceType::group, op->req.group_id)) {
    denied = ErrorCode::group_authorization_failed;
  }
  if (!mark_known_partitions(ctx, op->req.topics, op->resp.topics, op->known, denied)) {
    return op->send();
  }
  if (op->req.group_id.empty()) {
    op->fail_known(ErrorCode::invalid_group_id);
    return op->send();
  }
  Broker& broker = ctx.broker;
  broker.coordinator().with_shard(op->req.group_id,
                                  [op, &broker](CoordinatorShard* shard, ErrorCode why) {
                                    verify_then_commit(op, broker, shard, why);
                                  });
}

}  // namespace kaffa::broker
