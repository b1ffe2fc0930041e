// ListOffsets (key 2), versions 0-9 (flexible from 6).
// Per partition, on its owner loop: timestamp -2 = earliest (log start offset), -1 = latest (the
// high watermark; with isolation_level 1, v2+, read_committed: the last stable offset), -3 = the
// record with the largest timestamp (v7+), otherwise the first offset whose timestamp is at or
// after it (time index) below the high watermark (read_committed: the last stable offset, as
// Kafka's fetchOffsetByTimestamp), or -1 when there is none. v0 answers in old_style_offsets.
// Only the leader answers (NOT_LEADER_OR_FOLLOWER on a follower); current_leader_epoch (v4+)
// older than the partition's is FENCED_LEADER_EPOCH, newer UNKNOWN_LEADER_EPOCH.
// Authorization: DESCRIBE on each topic (else TOPIC_AUTHORIZATION_FAILED per partition).
#include "protocol/messages/list_offsets.h"

#include <atomic>

#include "broker/authorize.h"
#include "broker/broker.h"
#include "broker/handlers/gathered_response.h"
#include "broker/handlers/handlers.h"
#include "protocol/error_codes.h"

namespace kaffa::broker {
namespace {

using protocol::ErrorCode;
using protocol::ListOffsetsRequest;
using protocol::ListOffsetsResponse;

constexpr int64_t kLatest = -1;
constexpr int64_t kEarliest = -2;
constexpr int64_t kMaxTimestamp = -3;

using Isolation = cluster::Partition::Isolation;

struct ListOffsetsOp : GatheredResponse<ListOffsetsResponse> {
  ListOffsetsRequest req;
  int16_t version = 0;
  Isolation isolation = Isolation::read_uncommitted;
};

void lookup(const cluster::Partition& p, int64_t timestamp, int16_t version, Isolation isolation,
            ListOffsetsResponse::ListOffsetsPartitionResponse& out) {
  out.leader_epoch = p.leader_epoch();
  int64_t offset = -1;
  int64_t ts = -1;
  if (timestamp == kEarliest) {
    offset = p.log_start_offset();
  } else if (timestamp == kLatest) {
    offset = isolation == Isolation::read_committed ? p.last_stable_offset() : p.high_watermark();
  } else if (timestamp == kMaxTimestamp && version >= 7) {
    std::tie(ts, offset) = p.max_timestamp();
  } else if (timestamp < 0) {
    out.error_code = protocol::code(ErrorCode::unknown_server_error);
    return;
  } else if (auto r = p.offset_for_timestamp(timestamp, isolation)) {
    std::tie(offset, ts) = *r;
  }
  out.offset = offset;
  out.timestamp = ts;
  if (version == 0 && offset >= 0) out.old_style_offsets = {offset};
}

}  // namespace

void handle_list_offsets(RequestContext& ctx, Responder respond) {
  auto op = std::make_shared<ListOffsetsOp>();
  if (!ctx.decode(op->req)) return respond.close();
  op->respond.emplace(std::move(respond));
  op->version = ctx.version();
  if (op->version >= 2 && op->req.isolation_level == 1) op->isolation = Isolation::read_committed;
  for (const auto& topic : op->req.topics) {
    auto& t = op->resp.topics.emplace_back();
    t.name = topic.name;
    for (const auto& p : topic.partitions) {
      auto& out = t.partitions.emplace_back();
      out.partition_index = p.partition_index;
    }
  }
  for (size_t i = 0; i < op->req.topics.size(); ++i) {
    const auto& topic = op->req.topics[i];
    const bool allowed = authorize(ctx, AclOperation::describe, ResourceType::topic, topic.name);
    for (size_t j = 0; j < topic.partitions.size(); ++j) {
      const auto& want = topic.partitions[j];
      auto& out = op->resp.topics[i].partitions[j];
      auto partition = ctx.broker.partitions().get(topic.name, want.partition_index);
      if (!allowed) {
        out.error_code = protocol::code(ErrorCode::topic_authorization_failed);
        continue;
      }
      if (!partition) {
        out.error_code =
            protocol::code(ctx.broker.no_replica_error(topic.name, want.partition_index));
        continue;
      }
      // Its log directory failed (Kafka's offline partition).
      if (partition->offline()) {
        out.error_code = protocol::code(ErrorCode::kafka_storage_error);
        continue;
      }
      if (!partition->is_leader()) {
        out.error_code = protocol::code(ErrorCode::not_leader_or_follower);
        continue;
      }
      if (want.current_leader_epoch > partition->leader_epoch()) {
        out.error_code = protocol::code(ErrorCode::unknown_leader_epoch);
        continue;
      }
      if (want.current_leader_epoch >= 0 && want.current_leader_epoch < partition->leader_epoch()) {
        out.error_code = protocol::code(ErrorCode::fenced_leader_epoch);
        continue;
      }
      op->pending.fetch_add(1, std::memory_order_relaxed);
      ctx.broker.post(partition->shard(), [op, partition, &out, ts = want.timestamp] {
        lookup(*partition, ts, op->version, op->isolation, out);
        op->finish_one();
      });
    }
  }
  op->finish_one();
}

}  // namespace kaffa::broker
