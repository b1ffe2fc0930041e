// DeleteRecords (key 21), versions 0-2 (flexible from 2).
// Per partition, on its owner loop (cluster::Partition::delete_records, Kafka's
// ReplicaManager.deleteRecordsOnLocalLog + Partition.deleteRecordsOnLeader): offset -1 means the
// high watermark; the log start offset becomes the requested offset and whole segments below it
// are deleted; low_watermark answers the new log start offset. An offset above the high watermark
// (or negative) is OFFSET_OUT_OF_RANGE, an unknown partition UNKNOWN_TOPIC_OR_PARTITION, an
// internal topic INVALID_TOPIC_EXCEPTION, a topic without cleanup.policy delete
// POLICY_VIOLATION, a follower NOT_LEADER_OR_FOLLOWER. The low watermark answered is the
// leader's new log start offset: followers follow it with their next fetch (Kafka waits for
// them up to timeout_ms; not yet done here), so timeout_ms is never waited on. low_watermark is -1
// with an error. Authorization: DELETE on the topic, checked first (TOPIC_AUTHORIZATION_FAILED per
// partition).
#include "protocol/messages/delete_records.h"

#include <atomic>
#include <memory>
#include <optional>

#include "broker/authorize.h"
#include "broker/broker.h"
#include "broker/handlers/gathered_response.h"
#include "broker/handlers/handlers.h"
#include "protocol/error_codes.h"

namespace kaffa::broker {
namespace {

using protocol::DeleteRecordsRequest;
using protocol::DeleteRecordsResponse;
using protocol::ErrorCode;

struct DeleteRecordsOp : GatheredResponse<DeleteRecordsResponse> {
  DeleteRecordsRequest req;
};

}  // namespace

void handle_delete_records(RequestContext& ctx, Responder respond) {
  auto op = std::make_shared<DeleteRecordsOp>();
  if (!ctx.decode(op->req)) return respond.close();
  op->respond.emplace(std::move(respond));
  // The response vectors are sized before any work is posted: the owner loops write into them.
  for (const auto& topic : op->req.topics) {
    auto& t = op->resp.topics.emplace_back();
    t.name = topic.name;
    for (const auto& p : topic.partitions) {
      auto& out = t.partitions.emplace_back();
      out.partition_index = p.partition_index;
      out.low_watermark = -1;
    }
  }
  for (size_t i = 0; i < op->req.topics.size(); ++i) {
    const auto& topic = op->req.topics[i];
    const auto info = ctx.broker.topics().find(topic.name);
    const bool allowed = authorize(ctx, AclOperation::remove, ResourceType::topic, topic.name);
    for (size_t j = 0; j < topic.partitions.size(); ++j) {
      const auto& want = topic.partitions[j];
      auto& out = op->resp.topics[i].partitions[j];
      if (!allowed) {
        out.error_code = protocol::code(ErrorCode::topic_authorization_failed);
        continue;
      }
      if (info && info->internal) {
        out.error_code = protocol::code(ErrorCode::invalid_topic_exception);
        continue;
      }
      auto partition = ctx.broker.partitions().get(topic.name, want.partition_index);
      if (!info || !partition) {
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
      op->pending.fetch_add(1, std::memory_order_relaxed);
      ctx.broker.post(partition->shard(), [op, partition, &out, offset = want.offset] {
        const auto r = partition->delete_records(offset);
        out.error_code = protocol::code(r.error);
        out.low_watermark = r.low_watermark;
        op->finish_one();
      });
    }
  }
  op->finish_one();
}

}  // namespace kaffa::broker
