// PartitionVerifier: KIP-890's check, for a partition leader, that a partition is in a producer's
// ongoing transaction before that producer's first transactional batch there is appended (Kafka's
// AddPartitionsToTxnManager). Without it a batch that arrives after its transaction ended (a
// producer's late retry, or a producer that never added the partition) opens a transaction no
// coordinator knows of, and the partition's last stable offset stays behind it for good: a
// "hanging transaction" that read_committed consumers wait on.
//
// Who answers: the transactional id's coordinator. This broker's own TxnCoordinator when it leads
// the id's __transaction_state partition (always on a single node); otherwise the leading broker,
// through AddPartitionsToTxn v5 with verify_only, over BrokerChannels (one thread per broker; the
// verifications queued meanwhile go in one request, those of one transaction merged). Which
// version a broker speaks is asked with ApiVersions on a new connection; a broker that does not
// speak v4+ (a Kaffa from before this check, during a rolling upgrade) is not asked, and its
// transactions' partitions pass unverified, as Kafka does on UNSUPPORTED_VERSION.
//
// The answer (as Kafka's manager passes it on):
//   NONE                          the partition is in the ongoing transaction
//   INVALID_TXN_STATE             it is not (TRANSACTION_ABORTABLE from the coordinator), or the
//                                 coordinator refused this broker (CLUSTER_AUTHORIZATION_FAILED)
//   INVALID_PRODUCER_EPOCH        PRODUCER_FENCED
//   INVALID_PRODUCER_ID_MAPPING   the id has another producer, or none
//   what to retry                 CONCURRENT_TRANSACTIONS, NOT_COORDINATOR,
//                                 COORDINATOR_LOAD_IN_PROGRESS, COORDINATOR_NOT_AVAILABLE,
//                                 NETWORK_EXCEPTION (no answer)
// for_produce() maps the retriable ones to NOT_ENOUGH_REPLICAS for Produce up to v11 (Kafka picks
// it because it makes no client refresh its metadata); TxnOffsetCommit maps NETWORK_EXCEPTION to
// COORDINATOR_LOAD_IN_PROGRESS (coordinator/ handler).
//
// Metrics (Kafka's VerificationTimeMs and VerificationFailureRate): the time of each verification
// and the count of those not answered NONE, rendered by broker/broker_metrics.h.
//
// Threading: verify() from any thread; `done` runs on a shard's loop, a channel's thread or the
// caller's. The metrics are atomic.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "base/metrics.h"
#include "protocol/error_codes.h"
#include "txn/broker_channels.h"
#include "txn/marker_sender.h"
#include "txn/txn_coordinator.h"

namespace kaffa::txn {

class PartitionVerifier {
 public:
  static constexpr size_t kMaxBatch = 1000;
  using Done = std::function<void(protocol::ErrorCode)>;

  explicit PartitionVerifier(TxnCoordinator& coordinator) : coordinator_(coordinator) {}
  // A cluster member: how to reach the coordinators on other brokers. Once, before verify().
  void set_remote(cluster::ReplicaFetcherSettings settings, LeaderOf leader_of);
  void stop();

  void verify(const std::string& transactional_id, int64_t producer_id, int16_t producer_epoch,
              TopicPartition tp, Done done);

  const metrics::Histogram& latency() const { return latency_; }
  uint64_t failures() const { return failures_.load(std::memory_order_relaxed); }

  // The Produce error and message for an answer (above).
  static std::pair<protocol::ErrorCode, std::string> for_produce(protocol::ErrorCode e);

 private:
  struct Job {
    std::string transactional_id;
    int64_t producer_id = -1;
    int16_t producer_epoch = -1;
    TopicPartition tp;
    Done done;
    std::chrono::steady_clock::time_point start;
  };
  void finish(const Job& job, protocol::ErrorCode coordinator_error);
  void verify_remote(Job job);
  // One AddPartitionsToTxn v4+ request for `jobs`; finishes each.
  void deliver(int32_t broker_id, cluster::BrokerConnection* conn, std::vector<Job>& jobs);
  // The highest AddPartitionsToTxn version broker_id speaks (ApiVersions; remembered while it is
  // 4 or more, until a request to it fails), or -1 when it could not be asked.
  int16_t version_of(int32_t broker_id, cluster::BrokerConnection& conn);

  TxnCoordinator& coordinator_;
  LeaderOf leader_of_;
  std::unique_ptr<BrokerChannels<Job>> channels_;
  std::mutex versions_mu_;
  std::map<int32_t, int16_t> versions_;  // by broker id
  std::set<int32_t> warned_;             // brokers logged as too old
  metrics::Histogram latency_;
  std::atomic<uint64_t> failures_{0};
};

}  // namespace kaffa::txn
