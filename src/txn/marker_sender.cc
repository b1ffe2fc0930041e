#include "txn/marker_sender.h"

#include "base/log.h"
#include "protocol/messages/write_txn_markers.h"

namespace kaffa::txn {

MarkerSender::MarkerSender(cluster::ReplicaFetcherSettings settings, LeaderOf leader_of)
    : settings_(std::move(settings)), leader_of_(std::move(leader_of)) {}

MarkerSender::~MarkerSender() {
  stop();
}

void MarkerSender::stop() {
  {
    std::lock_guard lock(mu_);
    stop_ = true;
    for (auto& [id, d] : destinations_) d->cv.notify_all();
  }
  // No destination is added once stopping, so the map is read without the lock from here on.
  for (auto& [id, d] : destinations_) d->conn.interrupt();
  for (auto& [id, d] : destinations_) {
    if (d->thread.joinable()) d->thread.join();
  }
}

void MarkerSender::send(const Marker& m, const TopicPartition& tp, std::function<void(bool)> done) {
  const auto leader = leader_of_(tp);
  if (!leader) return done(false);
  std::lock_guard lock(mu_);
  if (stop_) return;  // shutting down: the marker is written again after the next start
  auto& d = destinations_[leader->first];
  if (!d) {
    d = std::make_unique<Destination>();
    d->broker_id = leader->first;
    d->thread = std::thread([this, dest = d.get()] { run(*dest); });
  }
  d->endpoint = leader->second;
  d->jobs.push_back({m, tp, std::move(done)});
  d->cv.notify_one();
}

void MarkerSender::run(Destination& d) {
  std::vector<Job> jobs;
  for (;;) {
    cluster::BrokerEndpoint endpoint;
    {
      std::unique_lock lock(mu_);
      d.cv.wait(lock, [&] { return stop_ || !d.jobs.empty(); });
      if (stop_) return;
      while (!d.jobs.empty() && jobs.size() < kMaxBatch) {
        jobs.push_back(std::move(d.jobs.front()));
        d.jobs.pop_front();
      }
      endpoint = d.endpoint;
    }
    const auto written = deliver(d, endpoint, jobs);
    for (size_t i = 0; i < jobs.size(); ++i) jobs[i].done(written[i]);
    jobs.clear();
  }
}

std::vector<bool> MarkerSender::deliver(Destination& d, const cluster::BrokerEndpoint& endpoint,
                                        const std::vector<Job>& jobs) {
  std::vector<bool> written(jobs.size(), false);
  std::string error;
  if (!d.conn.connected() && !cluster::connect_inter_broker(d.conn, endpoint, settings_, &error)) {
    log::warn("transaction markers: cannot reach broker {}: {}", d.broker_id, error);
    return written;
  }
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
  if (!d.conn.call(27, 1, req, resp, settings_.request_timeout_ms, answer, &error)) {
    log::warn("transaction markers: WriteTxnMarkers to broker {} failed: {}", d.broker_id, error);
    return written;
  }
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
      log::debug("transaction markers: broker {} answered {} for {}-{}", d.broker_id, rp.error_code,
                 jobs[i].tp.first, jobs[i].tp.second);
    }
  }
  return written;
}

}  // namespace kaffa::txn
