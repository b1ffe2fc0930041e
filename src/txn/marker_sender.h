// MarkerSender: a cluster's delivery of transaction markers to partitions led by other brokers,
// through WriteTxnMarkers (v1) on their inter-broker listeners (Kafka's transaction marker
// channel), over BrokerChannels (broker_channels.h): one thread and connection per destination
// broker, and one request for what queued up for a broker while its previous request was out (at
// most kMaxBatch markers, one entry per marker and partition, answered in order).
//
// A marker whose partition has no live leader, whose leader cannot be reached or answers an error
// is reported not written (MarkerWriter retries it, looking the leader up again).
//
// Threading: send() from any thread. `done` runs on the destination's thread, or at once on the
// caller's when the partition has no leader to send to.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <utility>
#include <vector>

#include "cluster/metadata_image.h"
#include "cluster/replica_fetcher.h"
#include "txn/broker_channels.h"
#include "txn/markers.h"

namespace kaffa::txn {

// The leader of a partition and its inter-broker endpoint, from the newest metadata image.
using LeaderOf = std::function<std::optional<std::pair<int32_t, cluster::BrokerEndpoint>>(
    const TopicPartition& tp)>;

class MarkerSender {
 public:
  static constexpr size_t kMaxBatch = 1000;

  MarkerSender(cluster::ReplicaFetcherSettings settings, LeaderOf leader_of);
  void stop() { channels_.stop(); }
  // What the transaction verifier's channels share with these (partition_verifier.h).
  const cluster::ReplicaFetcherSettings& settings() const { return channels_.settings(); }
  const LeaderOf& leader_of() const { return leader_of_; }

  void send(const Marker& m, const TopicPartition& tp, std::function<void(bool written)> done);

 private:
  struct Job {
    Marker marker;
    TopicPartition tp;
    std::function<void(bool)> done;
  };
  // One WriteTxnMarkers request for `jobs`; finishes each.
  void deliver(int32_t broker_id, cluster::BrokerConnection* conn, std::vector<Job>& jobs);

  LeaderOf leader_of_;
  BrokerChannels<Job> channels_;
};

}  // namespace kaffa::txn
