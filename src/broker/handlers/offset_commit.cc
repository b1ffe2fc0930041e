// OffsetCommit (key 8), versions 0-9 (flexible from 8).
// v0 carries no generation or member (a "simple" commit); v1 adds them and a per-partition
// commit timestamp; v2-4 a retention time (an explicit expiry: the value is stored as
// OffsetCommitValue v1); v6 the leader epoch; v7 the static member's instance id.
//
// Partitions of unknown topics get UNKNOWN_TOPIC_OR_PARTITION before the coordinator is asked;
// if none is left the coordinator is not asked at all (as Kafka). On the group's shard:
// generation/member validation (GroupManager::validate_offset_commit; its error goes to every
// partition of the request), then per partition OFFSET_METADATA_TOO_LARGE above
// offset.metadata.max.bytes, then the commit records are written and the offsets become visible
// and the client is answered only once they are durable. An empty group id is accepted (Kafka
// keeps that for old clients). Authorization: READ on the group (else every partition answers
// GROUP_AUTHORIZATION_FAILED) and READ on each topic (TOPIC_AUTHORIZATION_FAILED), as Kafka.
#include "protocol/messages/offset_commit.h"

#include <atomic>
#include <memory>

#include "broker/broker.h"
#include "broker/handlers/handlers.h"
#include "broker/handlers/known_partitions.h"
#include "broker/handlers/offset_commit_common.h"
#include "coordinator/group_coordinator.h"
#include "coordinator/group_manager.h"
#include "coordinator/offset_store.h"
#include "coordinator/records.h"
#include "protocol/error_codes.h"
#include "record/wire.h"

namespace kaffa::broker {
namespace {

using coordinator::CommittedOffset;
using coordinator::CoordinatorShard;
using protocol::ErrorCode;
using protocol::OffsetCommitRequest;
using protocol::OffsetCommitResponse;

struct OffsetCommitOp {
  OffsetCommitRequest req;
  OffsetCommitResponse resp;
  std::optional<Responder> respond;
  int16_t version = 0;
  std::vector<std::vector<bool>> known;  // [topic][partition]: the partition exists

  int16_t& error_of(size_t t, size_t p) { return resp.topics[t].partitions[p].error_code; }
  void fail_all(int16_t error) {
    for (auto& t : resp.topics) {
      for (auto& p : t.partitions) p.error_code = error;
    }
  }
};

// On the group's shard loop.
void commit_on_shard(const std::shared_ptr<OffsetCommitOp>& op, CoordinatorShard* shard,
                     ErrorCode why) {
  const auto& req = op->req;
  if (!shard) {
    op->fail_all(protocol::code(why));
    return op->respond->send(op->resp);
  }
  const ErrorCode invalid =
      shard->groups().validate_offset_commit(req.group_id, req.member_id, req.group_instance_id,
                                             req.generation_id_or_member_epoch, op->version);
  if (invalid != ErrorCode::none) {
    op->fail_all(protocol::code(invalid));
    return op->respond->send(op->resp);
  }
  shard->groups().on_member_commit(req.group_id, req.member_id, req.generation_id_or_member_epoch);

  const int64_t now = shard->now_ms();
  // v2-4: retention_time_ms -1 means the broker's retention; otherwise an explicit expiry.
  const int64_t expire =
      req.retention_time_ms == -1 ? -1 : record::wire::saturating_add(now, req.retention_time_ms);
  const auto max_metadata = static_cast<size_t>(shard->config().offset_metadata_max_bytes);
  auto commits = std::make_shared<std::vector<PartitionCommit>>();
  auto records = commit_records(
      req.group_id, req.topics, op->known, max_metadata,
      [&](const auto& part) {
        CommittedOffset v;
        v.offset = part.committed_offset;
        v.leader_epoch = part.committed_leader_epoch;
        v.commit_timestamp = part.commit_timestamp == -1 ? now : part.commit_timestamp;
        v.expire_timestamp = expire;
        return v;
      },
      [&](size_t t, size_t p) -> int16_t& { return op->error_of(t, p); }, *commits);
  if (records.empty()) return op->respond->send(op->resp);

  shard->write_batch(
      std::move(records), std::nullopt, [op, shard, commits](ErrorCode e, int64_t base_offset) {
        if (e != ErrorCode::none) {
          for (const auto& c : *commits) op->error_of(c.topic, c.partition) = commit_error(e);
          return op->respond->send(op->resp);
        }
        for (auto& c : *commits) {
          c.value.record_offset = base_offset++;  // record i of the batch is at its base offset + i
          const auto& topic = op->req.topics[c.topic];
          shard->offsets().apply(op->req.group_id, topic.name,
                                 topic.partitions[c.partition].partition_index, std::move(c.value));
        }
        op->respond->send(op->resp);
      });
}

}  // namespace

void handle_offset_commit(RequestContext& ctx, Responder respond) {
  auto op = std::make_shared<OffsetCommitOp>();
  if (!ctx.decode(op->req)) return respond.close();
  op->respond.emplace(std::move(respond));
  op->version = ctx.version();

  const bool group_allowed =
      authorize(ctx, AclOperation::read, ResourceType::group, op->req.group_id);
  const bool any_known = mark_known_partitions(
      ctx, op->req.topics, op->resp.topics, op->known,
      group_allowed ? ErrorCode::none : ErrorCode::group_authorization_failed);
  if (!any_known) return op->respond->send(op->resp);

  ctx.broker.coordinator().with_shard(
      op->req.group_id,
      [op](CoordinatorShard* shard, ErrorCode why) { commit_on_shard(op, shard, why); });
}

}  // namespace kaffa::broker
