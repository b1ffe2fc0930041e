// ReplicationQuota: a bound on the bytes per second this broker spends on throttled replicas
// (KIP-73), one for its leader side (leader.replication.throttled.rate: what it sends to
// followers not in the ISR of partitions listed in leader.replication.throttled.replicas) and one
// for its follower side (follower.replication.throttled.rate: what it fetches for its listed
// replicas while they are behind). As Kafka's ReplicationQuotaManager: the rate is measured over
// replication.quota.window.num windows of replication.quota.window.size.seconds (SampledRate);
// while it is above the bound, throttled replicas get no data (the leader answers them empty, the
// follower leaves them out of its fetch), and the bytes they do get are recorded.
//
// Threading: any thread. The bound is an atomic (Long.MAX_VALUE: none, and nothing is measured);
// the rate is under a mutex, taken only while a bound is set.
#pragma once

#include <atomic>
#include <cstdint>
#include <limits>
#include <mutex>

#include "base/sampled_rate.h"

namespace kaffa::cluster {

class ReplicationQuota {
 public:
  static constexpr int64_t kUnbounded = std::numeric_limits<int64_t>::max();

  ReplicationQuota(int32_t samples, int64_t window_ms) : rate_(samples, window_ms) {}

  int64_t bound() const { return bound_.load(std::memory_order_relaxed); }
  void set_bound(int64_t bytes_per_second) {
    bound_.store(bytes_per_second < 0 ? kUnbounded : bytes_per_second, std::memory_order_relaxed);
  }
  // Whether the measured rate is above the bound (Kafka's isQuotaExceeded).
  bool exceeded(int64_t now_ms) const {
    const int64_t b = bound();
    if (b == kUnbounded) return false;
    std::lock_guard lock(mu_);
    return rate_.rate(now_ms) > static_cast<double>(b);
  }
  // Bytes sent or fetched for throttled replicas.
  void record(int64_t bytes, int64_t now_ms) {
    if (bytes <= 0 || bound() == kUnbounded) return;
    std::lock_guard lock(mu_);
    rate_.record(bytes, now_ms);
  }
  // Metrics: partitions held back because the quota was exceeded.
  void count_held_back(int64_t n = 1) { held_back_.fetch_add(n, std::memory_order_relaxed); }
  int64_t held_back() const { return held_back_.load(std::memory_order_relaxed); }

 private:
  std::atomic<int64_t> bound_{kUnbounded};
  std::atomic<int64_t> held_back_{0};
  mutable std::mutex mu_;
  SampledRate rate_;
};

}  // namespace kaffa::cluster
