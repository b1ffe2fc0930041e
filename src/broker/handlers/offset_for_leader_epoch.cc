// OffsetForLeaderEpoch (key 23), versions 0-4 (flexible from 4): the end offset of a leader epoch
// (KIP-101 truncation, KIP-320 consumers validating their position after a leader change).
//
// Kafka's rules (Partition.lastOffsetForLeaderEpoch with LeaderEpochFileCache.endOffsetFor): a
// current_leader_epoch (v2+, -1 = not given) below the partition's epoch is FENCED_LEADER_EPOCH,
// above it UNKNOWN_LEADER_EPOCH; otherwise the answer comes from the log's leader epoch cache, on
// the partition's owner loop: the latest epoch ends at the log end offset, an older one where the
// next starts, an unknown one below the latest at the start of the next known one (with the
// largest known epoch below it), one above every known epoch is UNDEFINED (-1, -1).
// Only the leader answers (NOT_LEADER_OR_FOLLOWER on a follower): followers ask it before they
// fetch, to find where their log diverges (cluster::ReplicaFetcher).
// Authorization: DESCRIBE on each topic, or CLUSTER_ACTION on the cluster for a request from a
// replica (replica_id >= 0, v3+); else TOPIC_AUTHORIZATION_FAILED per partition.
#include "protocol/messages/offset_for_leader_epoch.h"

#include "broker/authorize.h"
#include "broker/broker.h"
#include "broker/handlers/gathered_response.h"
#include "broker/handlers/handlers.h"
#include "protocol/error_codes.h"

namespace kaffa::broker {

void handle_offset_for_leader_epoch(RequestContext& ctx, Responder respond) {
  protocol::OffsetForLeaderEpochRequest req;
  if (!ctx.decode(req)) return respond.close();
  auto op = std::make_shared<GatheredResponse<protocol::OffsetForLeaderEpochResponse>>();
  op->respond.emplace(std::move(respond));
  auto& resp = op->resp;
  const bool from_replica = req.replica_id >= 0;
  const bool replica_allowed = from_replica && authorize_cluster(ctx, AclOperation::cluster_action);
  // Every slot exists before any lookup runs: lookups write into them from other loops.
  for (const auto& t : req.topics) {
    auto& out_topic = resp.topics.emplace_back();
    out_topic.topic = t.topic;
    for (const auto& p : t.partitions) {
      auto& out = out_topic.partitions.emplace_back();
      out.partition = p.partition;
      out.leader_epoch = -1;
      out.end_offset = -1;
    }
  }
  for (size_t i = 0; i < req.topics.size(); ++i) {
    const auto& t = req.topics[i];
    const bool allowed = from_replica
                             ? replica_allowed
                             : authorize(ctx, AclOperation::describe, ResourceType::topic, t.topic);
    for (size_t j = 0; j < t.partitions.size(); ++j) {
      const auto& p = t.partitions[j];
      auto& out = resp.topics[i].partitions[j];
      if (!allowed) {
        out.error_code = protocol::code(protocol::ErrorCode::topic_authorization_failed);
        continue;
      }
      auto partition = ctx.broker.partitions().get(t.topic, p.partition);
      if (!partition) {
        out.error_code = protocol::code(ctx.broker.no_replica_error(t.topic, p.partition));
        continue;
      }
      // Its log directory failed (Kafka's offline partition).
      if (partition->offline()) {
        out.error_code = protocol::code(protocol::ErrorCode::kafka_storage_error);
        continue;
      }
      if (!partition->is_leader()) {
        out.error_code = protocol::code(protocol::ErrorCode::not_leader_or_follower);
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
      op->pending.fetch_add(1, std::memory_order_relaxed);
      ctx.broker.post(partition->shard(), [op, partition, &out, wanted = p.leader_epoch] {
        std::tie(out.leader_epoch, out.end_offset) = partition->end_offset_for_epoch(wanted);
        op->finish_one();
      });
    }
  }
  op->finish_one();
}

}  // namespace kaffa::broker
