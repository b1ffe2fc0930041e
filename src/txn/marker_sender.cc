#include "txn/marker_sender.h"

#include "base/log.h"
#include "protocol/messages/write_txn_markers.h"

namespace kaffa::txn {

MarkerSender::MarkerSender(cluster::ReplicaFetcherSettings settings, LeaderOf leader_of)
    : leader_of_(std::move(leader_of)),
      channels_("transaction markers", std::move(settings), kMaxBatch,
                [this](int32_t broker, cluster::BrokerConnection* conn, std::vector<Job>& jobs) {
                  deliver(broker, conn, jobs);
                }) {}

void MarkerSender::send(const Marker& m, const TopicPartition& tp, std::function<void(bool)> done) {
  const auto leader = leader_of_(tp);
  if (!leader) return done(false);
  // Once stopping the marker is dropped: it is written again after the next start.
  channels_.enqueue(leader->first, leader->second, {m, tp, std::move(done)});
}

void MarkerSender::deliver(int32_t broker_id, cluster::BrokerConnection* conn,
                           std::vector<Job>& jobs) {
  std::vector<bool> written(jobs.size(), false);
  protocol::WriteTxnMarkersRequest req;
  for (const auto& job : jobs) {
    auto& m = req.markers.emplace_back();
    m.producer_id = job.marker.producer_id;
    m.producer_epoch = job.marker.producer_epoch;
    m.transaction_result = job.marker.commit;
    m.coordinator_epoch = job.marker.coordinator_epoch;
    auto& t = m.topics.emplace_back();
    t.name = job.tp.first;
    t.partition_indexes.push_back(job.tp.second);
  }
  protocol::WriteTxnMarkersResponse resp;
  std::shared_ptr<std::string> answer;
  std::string error;
  if (conn == nullptr) {
    // Unreachable (logged by the channel): none written.
  } else if (!conn->call(27, 1, req, resp, channels_.settings().request_timeout_ms, answer,
                         &error)) {
    log::warn("transaction markers: WriteTxnMarkers to broker {} failed: {}", broker_id, error);
  } else {
    // The answer mirrors the request: one entry per marker, in order.
    for (size_t i = 0; i < jobs.size() && i < resp.markers.size(); ++i) {
      const auto& r = resp.markers[i];
      if (r.producer_id != jobs[i].marker.producer_id || r.topics.size() != 1 ||
          r.topics[0].partitions.size() != 1) {
        continue;
      }
      const auto& rp = r.topics[0].partitions[0];
      written[i] = rp.error_code == 0;
      if (!written[i]) {
        log::debug("transaction markers: broker {} answered {} for {}-{}", broker_id, rp.error_code,
                   jobs[i].tp.first, jobs[i].tp.second);
      }
    }
  }
  for (size_t i = 0; i < jobs.size(); ++i) jobs[i].done(written[i]);
}

}  // namespace kaffa::txn
