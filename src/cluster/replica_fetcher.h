// ReplicaFetcher: makes this broker's follower partitions copy their leaders' logs (Kafka's
// ReplicaFetcherManager / ReplicaFetcherThread).
//
// Threads: one per (leader broker, fetcher index), as Kafka (index = hash of the partition modulo
// num.replica.fetchers), each with one blocking connection (PLAINTEXT, SSL, SASL_PLAINTEXT or
// SASL_SSL) to the leader's inter-broker listener. A thread left without partitions is retired by
// retire_idle() (Kafka's shutdownIdleFetcherThreads, after each image). resize() changes
// num.replica.fetchers (a dynamic broker config): partitions whose index changes move to their
// new thread (truncating again there, as on any re-follow) and the emptied threads retire.
// Retiring never waits: a retired thread is told to stop (its blocked call interrupted) and is
// joined by a later call once it has ended, or by shutdown(). Per partition, on following (or
// re-following in a new epoch):
//   1. Truncation (KIP-101 / KIP-279): OffsetForLeaderEpoch v4 (replica_id = self,
//      current_leader_epoch) for the latest epoch of the local log. The leader answers where
//      that epoch ends in its log; when it answers an older epoch, the follower steps back to
//      the end of its own largest epoch at or below that one and asks again; then it truncates
//      to min(leader's end offset, its own end for that epoch). Unknown (-1) truncates to the
//      high watermark. An empty log skips this.
//   2. Fetch v12 (replica_id = self, current_leader_epoch, replica.fetch.* limits) in a loop
//      from the local log end; the data goes to Partition::append_replicated on the owner loop
//      (the fetcher thread waits for it: one round at a time, as Kafka's fetcher). Each thread
//      keeps an incremental fetch session with its leader (KIP-227, fetch_session_client.h):
//      after the first full fetch, a request lists only partitions whose fetch offset or epoch
//      moved, and the answer only partitions with something new.
// Errors: NOT_LEADER_OR_FOLLOWER, FENCED_LEADER_EPOCH, UNKNOWN_LEADER_EPOCH,
// UNKNOWN_TOPIC_OR_PARTITION back the partition off replica.fetch.backoff.ms and re-truncate
// (the next image normally brings the new leader); OFFSET_OUT_OF_RANGE restarts the log at the
// leader's log start offset when that is above the fetch offset, else re-truncates. A lost
// connection backs the whole thread off and reconnects.
//
// Threading: follow/unfollow/shutdown from any thread (the metadata thread); partitions are
// touched only on their owner loops (posted, with their role epoch checked there).
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <utility>
#include <vector>

#include "cluster/metadata_image.h"
#include "cluster/partition.h"
#include "cluster/replication_quota.h"
#include "net/tls.h"

namespace kaffa::cluster {

struct ReplicaFetcherSettings {
  int32_t self = -1;                      // node.id
  int32_t fetch_max_bytes = 1048576;      // replica.fetch.max.bytes (per partition)
  int32_t response_max_bytes = 10485760;  // replica.fetch.response.max.bytes
  int32_t wait_max_ms = 500;              // replica.fetch.wait.max.ms
  int32_t min_bytes = 1;                  // replica.fetch.min.bytes
  int64_t backoff_ms = 1000;              // replica.fetch.backoff.ms
  int32_t num_fetchers = 1;               // num.replica.fetchers
  int64_t request_timeout_ms = 30000;     // replica.socket.timeout.ms
  int32_t receive_buffer_bytes = 65536;   // replica.socket.receive.buffer.bytes (-1: the kernel's)
  // The client TLS context for a leader whose inter-broker listener is SSL, asked at each
  // connection (it follows certificate reloads); unset or null: such a leader is not reached.
  std::function<std::shared_ptr<const net::TlsContext>()> tls;
  // For a leader whose inter-broker listener is SASL_PLAINTEXT or SASL_SSL: the mechanism
  // (sasl.mechanism.inter.broker.protocol) and this broker's login on that listener; an empty
  // mechanism: such a leader is not reached.
  std::string sasl_mechanism;
  std::string sasl_username;
  std::string sasl_password;
  // follower.replication.throttled.rate (KIP-73); null: not throttled.
  std::shared_ptr<ReplicationQuota> quota;
};

class BrokerConnection;
// Connects `conn` to another broker's inter-broker endpoint with this broker's TLS client context
// and SASL login as the endpoint's security protocol needs; false with *error (also when the
// settings lack what the protocol needs). Used by the fetchers and the transaction markers.
bool connect_inter_broker(BrokerConnection& conn, const BrokerEndpoint& endpoint,
                          const ReplicaFetcherSettings& settings, std::string* error);

// One step of KIP-279 truncation on the owner loop of a follower in `epoch`, for the leader's
// answer (leader_epoch, leader_end) to OffsetForLeaderEpoch: truncates and says whether to ask
// again (about ask_epoch) — when the leader answered an older epoch than ours, the log is cut to
// the end of our largest epoch at or below it first. Used by the fetcher; public for tests.
struct TruncationStep {
  bool stale = false;      // the partition leads or follows another epoch now: nothing done
  bool done = false;       // truncated to the divergence point
  int32_t ask_epoch = -1;  // when not done: the epoch to ask about next
  int64_t log_end = 0;
};
TruncationStep truncation_step(Partition& p, int32_t epoch, int32_t leader_epoch,
                               int64_t leader_end);

class ReplicaFetcher {
 public:
  ReplicaFetcher(ReplicaFetcherSettings settings, Post post);
  ~ReplicaFetcher();  // shutdown()
  ReplicaFetcher(const ReplicaFetcher&) = delete;
  ReplicaFetcher& operator=(const ReplicaFetcher&) = delete;

  // Follows `partition` (already a follower in leader_epoch) from `leader` at `endpoint`;
  // replaces any earlier following of it (then it truncates again).
  void follow(std::shared_ptr<Partition> partition, int32_t leader, BrokerEndpoint endpoint,
              int32_t leader_epoch);
  void unfollow(const std::string& topic, int32_t index);
  // Retires the threads that follow nothing.
  void retire_idle();
  // num.replica.fetchers (at least 1).
  void resize(int32_t fetchers);
  // Stops every thread (interrupting blocked calls) and joins them. Idempotent.
  void shutdown();

  // For tests and metrics: partitions followed now, and threads following them.
  size_t followed() const;
  size_t threads() const;

 private:
  class Worker;
  using WorkerKey = std::pair<int32_t, int32_t>;  // (leader, fetcher index)
  using Key = std::pair<std::string, int32_t>;

  WorkerKey worker_key(const Key& key, int32_t leader) const;  // mu_ held
  Worker& worker_locked(const WorkerKey& wk);                  // created if needed
  void retire_idle_locked();                                   // and joins the ended

  const ReplicaFetcherSettings settings_;
  Post post_;
  mutable std::mutex mu_;
  bool stopped_ = false;
  int32_t fetchers_;  // num.replica.fetchers in force, guarded by mu_
  std::map<WorkerKey, std::shared_ptr<Worker>> workers_;
  std::vector<std::shared_ptr<Worker>> retired_;  // told to stop, not yet joined
  std::map<Key, WorkerKey> where_;
};

}  // namespace kaffa::cluster
