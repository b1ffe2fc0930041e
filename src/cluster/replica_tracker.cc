#include "cluster/replica_tracker.h"

#include <algorithm>

namespace kaffa::cluster {

ReplicaTracker::ReplicaTracker(int32_t leader, const std::vector<int32_t>& replicas,
                               const std::vector<int32_t>& isr, int64_t high_watermark,
                               int64_t now_ms)
    : leader_(leader), isr_(isr), high_watermark_(high_watermark) {
  for (const int32_t r : replicas) {
    if (r == leader) continue;
    FollowerState s;
    s.last_caught_up_ms = in_isr(r) ? now_ms : 0;
    followers_.emplace(r, s);
  }
}

void ReplicaTracker::set_replicas(const std::vector<int32_t>& replicas) {
  std::erase_if(followers_, [&replicas](const auto& f) {
    return std::find(replicas.begin(), replicas.end(), f.first) == replicas.end();
  });
  for (const int32_t r : replicas) {
    if (r != leader_) followers_.try_emplace(r);
  }
}

bool ReplicaTracker::in_isr(int32_t id) const {
  return std::find(isr_.begin(), isr_.end(), id) != isr_.end();
}

const FollowerState* ReplicaTracker::follower(int32_t id) const {
  const auto it = followers_.find(id);
  return it == followers_.end() ? nullptr : &it->second;
}

bool ReplicaTracker::on_fetch(int32_t follower, int64_t fetch_offset, int64_t leader_end_offset,
                              int64_t now_ms) {
  const auto it = followers_.find(follower);
  if (it == followers_.end()) return false;
  FollowerState& s = it->second;
  if (fetch_offset >= leader_end_offset) {
    s.last_caught_up_ms = std::max(s.last_caught_up_ms, now_ms);
  } else if (s.last_fetch_leader_end_offset >= 0 &&
             fetch_offset >= s.last_fetch_leader_end_offset) {
    s.last_caught_up_ms = std::max(s.last_caught_up_ms, s.last_fetch_ms);
  }
  s.log_end_offset = fetch_offset;
  s.last_fetch_ms = now_ms;
  s.last_fetch_leader_end_offset = leader_end_offset;
  return true;
}

int64_t ReplicaTracker::update_high_watermark(int64_t leader_end_offset) {
  int64_t low = leader_end_offset;
  for (const int32_t id : isr_) {
    if (id == leader_) continue;
    const auto it = followers_.find(id);
    // A member that has not fetched under this leadership holds the watermark where it is.
    low = std::min(low, it == followers_.end() || it->second.log_end_offset < 0
                            ? high_watermark_
                            : it->second.log_end_offset);
  }
  high_watermark_ = std::max(high_watermark_, low);
  return high_watermark_;
}

std::vector<int32_t> ReplicaTracker::out_of_sync(int64_t leader_end_offset, int64_t now_ms,
                                                 int64_t lag_ms) const {
  std::vector<int32_t> out;
  for (const int32_t id : isr_) {
    const FollowerState* s = follower(id);
    if (s == nullptr) continue;  // the leader
    const bool at_end = s->log_end_offset == leader_end_offset;
    if (!at_end && now_ms - s->last_caught_up_ms > lag_ms) out.push_back(id);
  }
  return out;
}

std::vector<int32_t> ReplicaTracker::caught_up(int64_t epoch_start_offset) const {
  std::vector<int32_t> out;
  for (const auto& [id, s] : followers_) {
    if (in_isr(id) || s.log_end_offset < 0) continue;
    if (s.log_end_offset >= high_watermark_ && s.log_end_offset >= epoch_start_offset) {
      out.push_back(id);
    }
  }
  return out;
}

}  // namespace kaffa::cluster
