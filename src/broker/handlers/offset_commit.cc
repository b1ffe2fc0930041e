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

// Not (yet) named in protocol/error_codes.h.
constexpr int16_t kOffsetMetadataTooLarge =
    protocol::code(protocol::ErrorCode::offset_metadata_too_large);
constexpr int16_t kInvalidCommitOffsetSize =
    protocol::code(protocol::ErrorCode::invalid_commit_offset_size);

// One partition to commit: where its answer goes and what is stored.
struct Commit {
  size_t topic = 0;
  size_t partition = 0;
  CommittedOffset value;
};

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

// Java's String.length() (UTF-16 code units) of UTF-8 text: Kafka's measure of metadata size.
size_t utf16_length(std::string_view s) {
  size_t n = 0;
  for (unsigned char c : s) {
    if ((c & 0xC0) != 0x80) n += c >= 0xF0 ? 2 : 1;  // lead bytes; 4-byte sequences: a pair
  }
  return n;
}

// The write path's errors as Kafka's classic coordinator reports them for a commit.
int16_t commit_error(ErrorCode e) {
  if (e == ErrorCode::message_too_large || e == ErrorCode::record_list_too_large) {
    return kInvalidCommitOffsetSize;
  }
  return protocol::code(e);
}

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
  auto commits = std::make_shared<std::vector<Commit>>();
  std::vector<CoordinatorShard::Record> records;
  for (size_t t = 0; t < req.topics.size(); ++t) {
    const auto& topic = req.topics[t];
    for (size_t p = 0; p < topic.partitions.size(); ++p) {
      if (!op->known[t][p]) continue;
      const auto& part = topic.partitions[p];
      const std::string metadata = part.committed_metadata.value_or("");
      if (utf16_length(metadata) > max_metadata) {
        op->error_of(t, p) = kOffsetMetadataTooLarge;
        continue;
      }
      Commit c{t, p, {}};
      c.value.offset = part.committed_offset;
      c.value.leader_epoch = part.committed_leader_epoch;
      c.value.metadata = metadata;
      c.value.commit_timestamp = part.commit_timestamp == -1 ? now : part.commit_timestamp;
      c.value.expire_timestamp = expire;
      records.push_back(
          {coordinator::records::offset_commit_key(req.group_id, topic.name, part.partition_index),
           coordinator::records::offset_commit_value(c.value)});
      commits->push_back(std::move(c));
    }
  }
  if (records.empty()) return op->respond->send(op->resp);

  shard->write(std::move(records), [op, shard, commits](ErrorCode e) {
    if (e != ErrorCode::none) {
      for (const auto& c : *commits) op->error_of(c.topic, c.partition) = commit_error(e);
      return op->respond->send(op->resp);
    }
    for (auto& c : *commits) {
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
