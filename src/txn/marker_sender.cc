#include "txn/marker_sender.h"

#include "base/log.h"
#include "protocol/messages/write_txn_markers.h"

namespace kaffa::txn {

MarkerSender::MarkerSender(cluster::ReplicaFetcherSettings settings, LeaderOf leader_of)
    : settings_(std::move(settings)), leader_of_(std::move(leader_of)) {
  thread_ = std::thread([this] { run(); });
}

MarkerSender::~MarkerSender() {
  stop();
}

void MarkerSender::stop() {
  {
    std::lock_guard lock(mu_);
    stop_ = true;
  }
  cv_.notify_all();
  for (auto& [id, conn] : connections_) conn->interrupt();
  if (thread_.joinable()) thread_.join();
}

void MarkerSender::send(const Marker& m, const TopicPartition& tp, std::function<void(bool)> done) {
  {
    std::lock_guard lock(mu_);
    if (stop_) return;  // shutting down: the marker is written again after the next start
    jobs_.push_back({m, tp, std::move(done)});
  }
  cv_.notify_one();
}

void MarkerSender::run() {
  for (;;) {
    Job job;
    {
      std::unique_lock lock(mu_);
      cv_.wait(lock, [this] { return stop_ || !jobs_.empty(); });
      if (stop_) return;
      job = std::move(jobs_.front());
      jobs_.pop_front();
    }
    job.done(deliver(job));
  }
}

bool MarkerSender::deliver(const Job& job) {
  const auto leader = leader_of_(job.tp);
  if (!leader) return false;
  auto& conn = connections_[leader->first];
  if (!conn) conn = std::make_unique<cluster::BrokerConnection>();
  std::string error;
  if (!conn->connected() &&
      !cluster::connect_inter_broker(*conn, leader->second, settings_, &error)) {
    log::warn("transaction markers: cannot reach broker {}: {}", leader->first, error);
    return false;
  }
  protocol::WriteTxnMarkersRequest req;
  auto& m = req.markers.emplace_back();
  m.producer_id = job.marker.producer_id;
  m.producer_epoch = job.marker.producer_epoch;
  m.transaction_result = job.marker.commit;
  m.coordinator_epoch = job.marker.coordinator_epoch;
  auto& t = m.topics.emplace_back();
  t.name = job.tp.first;
  t.partition_indexes.push_back(job.tp.second);
  protocol::WriteTxnMarkersResponse resp;
  std::shared_ptr<std::string> answer;
  if (!conn->call(27, 1, req, resp, settings_.request_timeout_ms, answer, &error)) {
    log::warn("transaction markers: WriteTxnMarkers to broker {} failed: {}", leader->first, error);
    return false;
  }
  for (const auto& r : resp.markers) {
    for (const auto& rt : r.topics) {
      for (const auto& rp : rt.partitions) {
        if (rp.error_code != 0) {
          log::debug("transaction markers: broker {} answered {} for {}-{}", leader->first,
                     rp.error_code, rt.name, rp.partition_index);
          return false;
        }
      }
    }
  }
  return !resp.markers.empty();
}

}  // namespace kaffa::txn
