// OffsetForLeaderEpoch (key 23), versions 0-4 (flexible from 4): the end offset of a leader epoch
// (KIP-101 truncation, KIP-320 consumers validating their position after a leader change).
//
// Kafka's rules (Partition.lastOffsetForLeaderEpoch with LeaderEpochFileCache.endOffsetFor): a
// current_leader_epoch (v2+, -1 = not given) below the partition's epoch is FENCED_LEADER_EPOCH,
// above it UNKNOWN_LEADER_EPOCH; the partition's own (latest) epoch ends at the log end offset; an
// epoch the partition never had answers leader_epoch -1 and end_offset -1 (UNDEFINED). A single
// node has one epoch per partition so far (cluster::Partition::leader_epoch()), and its log end
// offset is its high watermark. Authorization: DESCRIBE on each topic, or CLUSTER_ACTION on the
// cluster for a request from a replica (replica_id >= 0, v3+); else TOPIC_AUTHORIZATION_FAILED per
// partition.
#include "protocol/messages/offset_for_leader_epoch.h"

#include "broker/authorize.h"
#include "broker/broker.h"
#include "broker/handlers/handlers.h"
#include "protocol/error_codes.h"

namespace kaffa::broker {

void handle_offset_for_leader_epoch(RequestContext& ctx, Responder respond) {
  protocol::OffsetForLeaderEpochRequest req;
  if (!ctx.decode(req)) return respond.close();
  protocol::OffsetForLeaderEpochResponse resp;
  const bool from_replica = req.replica_id >= 0;
  const bool replica_allowed = from_replica && authorize_cluster(ctx, AclOperation::cluster_action);
  for (const auto& t : req.topics) {
    const bool allowed = from_replica
                             ? replica_allowed
                             : authorize(ctx, AclOperation::describe, ResourceType::topic, t.topic);
    auto& out_topic = resp.topics.emplace_back();
    out_topic.topic = t.topic;
    for (const auto& p : t.partitions) {
      auto& out = out_topic.partitions.emplace_back();
      out.partition = p.partition;
      out.leader_epoch = -1;
      out.end_offset = -1;
      if (!allowed) {
        out.error_code = protocol::code(protocol::ErrorCode::topic_authorization_failed);
        continue;
      }
      const auto partition = ctx.broker.partitions().get(t.topic, p.partition);
      if (!partition) {
        out.error_code = protocol::code(protocol::ErrorCode::unknown_topic_or_partition);
        continue;
      }
      const int32_t epoch = partition->leader_epoch();
      if (p.current_leader_epoch >= 0 && p.current_leader_epoch < epoch) {
        out.error_code = protocol::code(protocol::ErrorCode::fenced_leader_epoch);
        continue;
      }
      if (p.current_leader_epoch > epoch) {
        out.error_code = protocol::code(protocol::ErrorCode::unknown_leader_epoch);
        continue;
      }
      if (p.leader_epoch == epoch) {
        out.leader_epoch = epoch;
        out.end_offset = partition->high_watermark_snapshot();
      }
    }
  }
  respond.send(resp);
}

}  // namespace kaffa::broker
