// ReplicaTracker: what a partition leader knows of its followers, and the decisions Kafka's
// leader takes from it (Partition / Replica in Kafka): the high watermark, which in-sync replicas
// fell behind, which out-of-sync ones caught up.
//
// Each follower's fetch reports its log end offset (the fetch offset). A follower is caught up at
// a moment when its log end offset reached the leader's log end offset as it was at its previous
// fetch — so a follower that keeps fetching under a steady stream of appends stays caught up even
// though the leader's log end keeps moving (Kafka's lastCaughtUpTimeMs rule):
//   fetch_offset >= leader end now            -> caught up now
//   fetch_offset >= leader end at last fetch  -> caught up at the last fetch's time
//   otherwise                                 -> unchanged
// An in-sync follower is out of sync when it is not at the leader's log end and has not been
// caught up for more than replica.lag.time.max.ms. An out-of-sync follower may rejoin when its
// log end offset reaches the high watermark and the start of the leader's current epoch.
// The high watermark is the smallest log end offset in the ISR (the leader's included); it never
// moves back while this tracker leads.
//
// Threading: none; the owning Partition's loop.
#pragma once

#include <cstdint>
#include <map>
#include <vector>

namespace kaffa::cluster {

struct FollowerState {
  int64_t log_end_offset = -1;  // -1 until its first fetch under this leadership
  int64_t last_caught_up_ms = 0;
  int64_t last_fetch_ms = 0;
  int64_t last_fetch_leader_end_offset = -1;
};

class ReplicaTracker {
 public:
  // Becoming leader at `now_ms` with this assignment and ISR (node ids; the leader is in both).
  // Followers in the ISR count as caught up now (they get replica.lag.time.max.ms to fetch).
  ReplicaTracker(int32_t leader, const std::vector<int32_t>& replicas,
                 const std::vector<int32_t>& isr, int64_t high_watermark, int64_t now_ms);

  // A fetch from `follower` at fetch_offset while the leader's log ends at leader_end_offset.
  // False when `follower` is not a replica of the partition (Kafka: NOT_LEADER_OR_FOLLOWER /
  // UNKNOWN_... for the fetcher).
  bool on_fetch(int32_t follower, int64_t fetch_offset, int64_t leader_end_offset, int64_t now_ms);

  // The high watermark after the leader's log end moved or a follower fetched: raised to the
  // smallest log end offset in the ISR when that is higher; the new value is returned.
  int64_t update_high_watermark(int64_t leader_end_offset);
  int64_t high_watermark() const { return high_watermark_; }

  // ISR members (not the leader) to drop: not at leader_end_offset and not caught up within
  // lag_ms (Kafka's getOutOfSyncReplicas).
  std::vector<int32_t> out_of_sync(int64_t leader_end_offset, int64_t now_ms, int64_t lag_ms) const;
  // Replicas outside the ISR to add: log end >= high watermark and >= epoch_start_offset.
  std::vector<int32_t> caught_up(int64_t epoch_start_offset) const;

  // The controller accepted a new ISR (always containing the leader).
  void set_isr(const std::vector<int32_t>& isr) { isr_ = isr; }
  // The assignment changed within this leadership (a reassignment adds replicas without a new
  // leader epoch): new followers start unknown (not caught up), followers no longer assigned go.
  void set_replicas(const std::vector<int32_t>& replicas);
  const std::vector<int32_t>& isr() const { return isr_; }
  const FollowerState* follower(int32_t id) const;
  int32_t leader() const { return leader_; }

 private:
  bool in_isr(int32_t id) const;

  int32_t leader_;
  std::vector<int32_t> isr_;
  std::map<int32_t, FollowerState> followers_;
  int64_t high_watermark_;
};

}  // namespace kaffa::cluster
