// MarkerSender: a cluster's delivery of transaction markers to partitions led by other brokers,
// through WriteTxnMarkers (v1) on their inter-broker listeners (Kafka's transaction marker
// channel). One thread, one connection per destination broker (TLS and SASL as the replica
// fetchers: cluster::connect_inter_broker), one request per marker and partition.
//
// A marker whose partition has no live leader, whose leader cannot be reached or answers an error
// is reported not written (MarkerWriter retries it, looking the leader up again).
//
// Threading: send() from any thread; `done` runs on the sender thread.
#pragma once

#include <condition_variable>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <thread>

#include "cluster/metadata_image.h"
#include "cluster/replica_fetcher.h"
#include "cluster/replica_fetcher_connection.h"
#include "txn/markers.h"

namespace kaffa::txn {

class MarkerSender {
 public:
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
  void run();
  bool deliver(const Job& job);

  const cluster::ReplicaFetcherSettings settings_;
  LeaderOf leader_of_;
  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<Job> jobs_;
  bool stop_ = false;
  std::map<int32_t, std::unique_ptr<cluster::BrokerConnection>> connections_;  // sender thread
  std::thread thread_;
};

}  // namespace kaffa::txn
