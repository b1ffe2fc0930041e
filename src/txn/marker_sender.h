// MarkerSender: a cluster's delivery of transaction markers to partitions led by other brokers,
// through WriteTxnMarkers (v1) on their inter-broker listeners (Kafka's transaction marker
// channel). One thread and one connection per destination broker (TLS and SASL as the replica
// fetchers: cluster::connect_inter_broker), so that a broker that does not answer holds back only
// the markers bound for it, until the request times out (replica.socket.timeout.ms). Each thread
// sends what queued up for its broker while its previous request was out in one request (at most
// kMaxBatch markers, one entry per marker and partition, answered in order).
//
// A marker whose partition has no live leader, whose leader cannot be reached or answers an error
// is reported not written (MarkerWriter retries it, looking the leader up again).
//
// Threading: send() from any thread. `done` runs on the destination's thread, or at once on the
// caller's when the partition has no leader to send to.
#pragma once

#include <condition_variable>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <thread>
#include <vector>

#include "cluster/metadata_image.h"
#include "cluster/replica_fetcher.h"
#include "cluster/replica_fetcher_connection.h"
#include "txn/markers.h"

namespace kaffa::txn {

class MarkerSender {
 public:
  static constexpr size_t kMaxBatch = 1000;

  // The leader of a partition and its inter-broker endpoint, from the newest metadata image.
  using LeaderOf = std::function<std::optional<std::pair<int32_t, cluster::BrokerEndpoint>>(
      const TopicPartition& tp)>;

  MarkerSender(cluster::ReplicaFetcherSettings settings, LeaderOf leader_of);
  ~MarkerSender();  // stop()
  void stop();

  void send(const Marker& m, const TopicPartition& tp, std::function<void(bool written)> done);

 private:
  struct Job {
    Marker marker;
    TopicPartition tp;
    std::function<void(bool)> done;
  };
  // One destination broker. Its queue and endpoint are guarded by the sender's mutex; the
  // connection belongs to its thread.
  struct Destination {
    int32_t broker_id = -1;
    cluster::BrokerEndpoint endpoint;  // the newest one send() saw
    std::deque<Job> jobs;
    std::condition_variable cv;
    cluster::BrokerConnection conn;
    std::thread thread;
  };
  void run(Destination& d);
  // One WriteTxnMarkers request for `jobs`; whether each marker was written, in order.
  std::vector<bool> deliver(Destination& d, const cluster::BrokerEndpoint& endpoint,
                            const std::vector<Job>& jobs);

  const cluster::ReplicaFetcherSettings settings_;
  LeaderOf leader_of_;
  std::mutex mu_;
  bool stop_ = false;
  std::map<int32_t, std::unique_ptr<Destination>> destinations_;
};

}  // namespace kaffa::txn
