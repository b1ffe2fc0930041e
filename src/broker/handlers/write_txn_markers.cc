// WriteTxnMarkers (key 27), versions 0-1 (flexible from 1): a transaction coordinator on another
// broker asks this partition leader to append commit or abort markers. CLUSTER_ACTION on the
// cluster is needed (else CLUSTER_AUTHORIZATION_FAILED for every partition). Each partition is
// answered as txn::MarkerWriter::write_local says: NONE once the marker is replicated (and, on a
// __consumer_offsets partition, applied by the group coordinator), NOT_LEADER_OR_FOLLOWER or
// UNKNOWN_TOPIC_OR_PARTITION when this broker cannot write it (the coordinator retries).
#include "protocol/messages/write_txn_markers.h"

#include "broker/authorize.h"
#include "broker/broker.h"
#include "broker/handlers/gathered_response.h"
#include "broker/handlers/handlers.h"

namespace kaffa::broker {

void handle_write_txn_markers(RequestContext& ctx, Responder respond) {
  using protocol::ErrorCode;
  protocol::WriteTxnMarkersRequest req;
  if (!ctx.decode(req)) return respond.close();
  auto op = std::make_shared<GatheredResponse<protocol::WriteTxnMarkersResponse>>();
  op->respond.emplace(std::move(respond));
  const bool allowed = authorize_cluster(ctx, AclOperation::cluster_action);
  // The skeleton first, so that the loops only fill their own slots.
  for (const auto& m : req.markers) {
    auto& r = op->resp.markers.emplace_back();
    r.producer_id = m.producer_id;
    for (const auto& t : m.topics) {
      auto& rt = r.topics.emplace_back();
      rt.name = t.name;
      for (const int32_t p : t.partition_indexes) {
        auto& rp = rt.partitions.emplace_back();
        rp.partition_index = p;
        rp.error_code =
            protocol::code(allowed ? ErrorCode::none : ErrorCode::cluster_authorization_failed);
        if (allowed) op->pending.fetch_add(1, std::memory_order_relaxed);
      }
    }
  }
  if (allowed) {
    auto& writer = ctx.broker.txn_coordinator().markers();
    for (size_t i = 0; i < req.markers.size(); ++i) {
      const auto& m = req.markers[i];
      txn::Marker marker;
      marker.producer_id = m.producer_id;
      marker.producer_epoch = m.producer_epoch;
      marker.coordinator_epoch = m.coordinator_epoch;
      marker.commit = m.transaction_result;
      for (size_t t = 0; t < m.topics.size(); ++t) {
        for (size_t p = 0; p < m.topics[t].partition_indexes.size(); ++p) {
          auto* slot = &op->resp.markers[i].topics[t].partitions[p];
          writer.write_local(marker, {m.topics[t].name, m.topics[t].partition_indexes[p]},
                             [op, slot](ErrorCode e) {
                               slot->error_code = protocol::code(e);
                               op->finish_one();
                             });
        }
      }
    }
  }
  op->finish_one();
}

}  // namespace kaffa::broker
