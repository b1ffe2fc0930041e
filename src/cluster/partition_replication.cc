// Partition: roles (leader / follower), the leader's view of its followers, acks=all waiters,
// ISR changes, and the follower's appends and truncation. Rules in partition.h.
#include <algorithm>
#include <limits>

#include "base/log.h"
#include "cluster/partition.h"
#include "record/batch.h"
#include "record/control.h"

namespace kaffa::cluster {

using protocol::ErrorCode;

void Partition::restore_high_watermark(int64_t hw) {
  high_watermark_ = std::clamp(hw, log_->log_start_offset(), log_->log_end_offset());
  publish();
}

void Partition::set_replication(ReplicationSettings settings) {
  replication_ = std::move(settings);
  if (replication_.self >= 0) self_ = replication_.self;
  publish_throttles();
}

void Partition::publish_throttles() {
  leader_throttled_.store(config_.leader_throttled.contains(index_, self_),
                          std::memory_order_relaxed);
  follower_throttled_.store(config_.follower_throttled.contains(index_, self_),
                            std::memory_order_relaxed);
}

bool Partition::in_isr(int32_t replica) const {
  return !replicated_ ||
         std::find(state_.isr.begin(), state_.isr.end(), replica) != state_.isr.end();
}

void Partition::make_leader(const PartitionState& s, int32_t self, int64_t now_ms) {
  const int64_t leo = log_->log_end_offset();
  if (replicated_ && tracker_ && s.leader_epoch == leader_epoch_.load(std::memory_order_relaxed)) {
    // Same term: only the ISR (or another field) changed; the follower tracking goes on.
    if (s.partition_epoch >= state_.partition_epoch) apply_leader_state(s);
    return;
  }
  replicated_ = true;
  self_ = self;
  state_ = s;
  ++role_generation_;
  alter_in_flight_ = false;
  alter_backoff_ = false;
  leader_epoch_.store(s.leader_epoch, std::memory_order_release);
  log_->maybe_assign_epoch(s.leader_epoch, leo);
  epoch_start_offset_ = leo;
  high_watermark_ = std::min(high_watermark_, leo);
  tracker_ = std::make_unique<ReplicaTracker>(self, s.replicas, s.isr, high_watermark_, now_ms);
  leader_.store(true, std::memory_order_release);
  lag_.store(0, std::memory_order_relaxed);
  log::info("{}-{}: leader in epoch {} from offset {}, ISR of {}", topic_, index_, s.leader_epoch,
            leo, s.isr.size());
  set_high_watermark(tracker_->update_high_watermark(leo));
  publish();
}

void Partition::make_follower(const PartitionState& s) {
  replicated_ = true;
  state_ = s;
  ++role_generation_;
  alter_in_flight_ = false;
  tracker_.reset();
  leader_.store(false, std::memory_order_release);
  leader_epoch_.store(s.leader_epoch, std::memory_order_release);
  for (auto& [offset, done] : replication_waiters_) done(ErrorCode::not_leader_or_follower);
  replication_waiters_.clear();
  // Parked consumer fetches read again and get NOT_LEADER_OR_FOLLOWER; parked follower fetches
  // answer (their fetcher learns the new leader from the next image).
  wake_all_fetch_waiters();
  wake_replica_waiters(true);
  high_watermark_ = std::min(high_watermark_, log_->log_end_offset());
  publish();
  log::info("{}-{}: follower of broker {} in epoch {}", topic_, index_, s.leader, s.leader_epoch);
}

void Partition::apply_leader_state(const PartitionState& s) {
  if (const auto& counters = replication_.isr_changes; counters && s.isr != state_.isr) {
    if (s.isr.size() < state_.isr.size()) counters->shrinks.fetch_add(1, std::memory_order_relaxed);
    if (s.isr.size() > state_.isr.size()) counters->expands.fetch_add(1, std::memory_order_relaxed);
  }
  if (s.replicas != state_.replicas) tracker_->set_replicas(s.replicas);
  state_ = s;
  tracker_->set_isr(s.isr);
  set_high_watermark(tracker_->update_high_watermark(log_->log_end_offset()));
  // An ISR change alone may decide waiters whose offsets the watermark already passed.
  complete_replication_waiters();
  publish();
}

void Partition::set_high_watermark(int64_t hw) {
  hw = std::min(hw, log_->log_end_offset());
  if (hw <= high_watermark_) return;
  high_watermark_ = hw;
  hw_.store(high_watermark_, std::memory_order_release);
  update_last_stable_offset();
  wake_fetch_waiters();
  complete_replication_waiters();
}

void Partition::complete_replication_waiters() {
  while (!replication_waiters_.empty() && replication_waiters_.begin()->first <= high_watermark_) {
    auto done = std::move(replication_waiters_.begin()->second);
    const int64_t end = replication_waiters_.begin()->first;
    replication_waiters_.erase(replication_waiters_.begin());
    if (static_cast<int32_t>(state_.isr.size()) < config_.min_insync_replicas) {
      done(ErrorCode::not_enough_replicas_after_append);
    } else {
      replicated_then(end, std::move(done));
    }
  }
}

void Partition::replicated_then(int64_t end_offset, ReplicatedDone done) {
  if (state_.isr.size() <= 1) return durable_then(end_offset, std::move(done));
  done(io_failed_ ? ErrorCode::kafka_storage_error : ErrorCode::none);
}

void Partition::durable_then(int64_t end_offset, ReplicatedDone done) {
  if (io_failed_) return done(ErrorCode::kafka_storage_error);
  if (end_offset <= log_->recovery_point()) return done(ErrorCode::none);
  when_durable(end_offset, [done = std::move(done)](bool ok) {
    done(ok ? ErrorCode::none : ErrorCode::kafka_storage_error);
  });
}

void Partition::when_replicated(int64_t end_offset, ReplicatedDone done) {
  if (!tracker_) {
    if (!leader_.load(std::memory_order_relaxed) || closed_) {
      return done(ErrorCode::not_leader_or_follower);
    }
    return durable_then(end_offset, std::move(done));  // a single node
  }
  if (end_offset <= high_watermark_) {
    if (static_cast<int32_t>(state_.isr.size()) < config_.min_insync_replicas) {
      return done(ErrorCode::not_enough_replicas_after_append);
    }
    return replicated_then(end_offset, std::move(done));
  }
  replication_waiters_.emplace(end_offset, std::move(done));
  // Alone in its committed ISR (an expansion pending), the leader will need the local sync.
  if (state_.isr.size() <= 1 && !flush_in_flight_) start_flush();
}

void Partition::wake_replica_waiters(bool all) {
  wake_waiters(replica_waiters_,
               all ? std::numeric_limits<int64_t>::max() : log_->log_end_offset());
}

void Partition::add_replica_waiter(int64_t offset, std::weak_ptr<FetchWaiter> waiter) {
  if (offset < log_->log_end_offset() || closed_ || !leader_.load(std::memory_order_relaxed)) {
    if (auto w = waiter.lock()) w->fire();
    return;
  }
  replica_waiters_.emplace_back(offset, std::move(waiter));
}

Partition::ReadOutcome Partition::read_for_follower(int32_t replica, int64_t offset,
                                                    int64_t max_bytes, bool min_one_batch,
                                                    int64_t now_ms) {
  if (!tracker_) return read(offset, max_bytes, min_one_batch);  // a single node, or a follower
  ReadOutcome out;
  out.log_start_offset = log_->log_start_offset();
  const int64_t leo = log_->log_end_offset();
  if (closed_) {
    out.error = ErrorCode::not_leader_or_follower;
  } else if (io_failed_) {
    out.error = ErrorCode::kafka_storage_error;  // offline: no follower progress counts
  } else if (offset < log_->log_start_offset() || offset > leo) {
    out.error = ErrorCode::offset_out_of_range;
  } else if (!tracker_->on_fetch(replica, offset, leo, now_ms)) {
    out.error = ErrorCode::not_leader_or_follower;
  }
  if (out.error != ErrorCode::none) {
    out.high_watermark = high_watermark_;
    out.last_stable_offset = last_stable_offset_;
    return out;
  }
  set_high_watermark(tracker_->update_high_watermark(leo));
  maybe_expand_isr(replica);
  publish();
  out.high_watermark = high_watermark_;
  out.last_stable_offset = last_stable_offset_;
  read_log(offset, max_bytes, leo, min_one_batch, out);
  return out;
}

void Partition::maybe_expand_isr(int32_t fetching) {
  if (alter_in_flight_ || alter_backoff_ || !replication_.alter) return;
  // Only the replica fetching now may join (as Kafka's maybeExpandIsr): one that caught up once
  // and died since must not be proposed (the store refuses a dead broker, over and over).
  const auto caught_up = tracker_->caught_up(epoch_start_offset_);
  if (std::find(caught_up.begin(), caught_up.end(), fetching) == caught_up.end()) return;
  std::vector<int32_t> isr = state_.isr;
  isr.push_back(fetching);
  propose_isr(std::move(isr), true);
}

void Partition::maybe_shrink_isr(int64_t now_ms) {
  alter_backoff_ = false;  // ticks (about 1 s apart) pace proposals after a refusal
  if (alter_in_flight_ || !replication_.alter || !leader_.load(std::memory_order_relaxed)) return;
  const auto leaving =
      tracker_->out_of_sync(log_->log_end_offset(), now_ms, replication_.replica_lag_time_max_ms);
  if (leaving.empty()) return;
  std::vector<int32_t> isr;
  for (const int32_t id : state_.isr) {
    if (std::find(leaving.begin(), leaving.end(), id) == leaving.end()) isr.push_back(id);
  }
  log::info("{}-{}: replicas out of sync for {} ms; proposing an ISR of {}", topic_, index_,
            replication_.replica_lag_time_max_ms, isr.size());
  propose_isr(std::move(isr), false);
}

void Partition::propose_isr(std::vector<int32_t> isr, bool expanding) {
  PartitionState proposed = state_;
  proposed.isr = std::move(isr);
  alter_in_flight_ = true;
  // Maximal ISR while an expansion is pending: the joining replica already counts for the
  // watermark, so a committed expansion can never elect a replica lacking committed data.
  if (expanding) tracker_->set_isr(proposed.isr);
  const uint64_t generation = role_generation_;
  replication_.alter(
      topic_, index_, proposed,
      [post = post_, shard = shard_, alive = alive_, this, generation](
          ErrorCode error, const PartitionState& current) {
        // The store's thread: back to the owner loop.
        post(shard, [alive, this, generation, error, current] {
          if (!*alive || generation != role_generation_ || closed_) return;
          alter_in_flight_ = false;
          const bool newer = current.partition_epoch > state_.partition_epoch;
          if ((error == ErrorCode::none || newer) && current.leader == self_ &&
              current.leader_epoch == leader_epoch_.load(std::memory_order_relaxed)) {
            apply_leader_state(current);
            return;
          }
          if (error != ErrorCode::none) {
            log::info("{}-{}: ISR change refused: error {}", topic_, index_, protocol::code(error));
          }
          tracker_->set_isr(state_.isr);  // back from a maximal ISR
          alter_backoff_ = true;
        });
      });
}

Partition::AppendOutcome Partition::append_replicated(uint8_t* data, size_t n,
                                                      int64_t leader_high_watermark,
                                                      int64_t leader_log_start_offset,
                                                      int32_t leader_epoch, int64_t now_ms) {
  AppendOutcome out;
  if (closed_ || io_failed_) {
    out.error = closed_ ? ErrorCode::not_leader_or_follower : ErrorCode::kafka_storage_error;
    return out;
  }
  if (leader_.load(std::memory_order_relaxed) ||
      leader_epoch != leader_epoch_.load(std::memory_order_relaxed)) {
    out.error = ErrorCode::fenced_leader_epoch;
    return out;
  }
  const int64_t active_before = log_->active_base_offset();
  auto r = log_->append_as_follower(data, n, now_ms);
  if (!r.ok) {
    log::warn("replicated append to {}-{} refused: {}", topic_, index_, r.error);
    out.error = r.io_error ? ErrorCode::kafka_storage_error : ErrorCode::corrupt_message;
    out.message = r.error;
    if (r.io_error) go_offline(true, r.error);
    return out;
  }
  // The leader's producer state, markers and aborted transactions included (not checked: the
  // leader did).
  for (size_t pos = 0; pos < n;) {
    record::BatchHeader h;
    record::parse_header(data + pos, n - pos, h);
    if (h.producer_id >= 0 && !h.is_control()) {
      producers_.update(h, h.base_offset, h.last_offset());
    } else if (h.producer_id >= 0) {
      const auto marker = record::parse_end_txn_marker(data + pos, h.total_size());
      if (marker) producers_.update(h, h.base_offset, h.last_offset(), &*marker);
    }
    pos += h.total_size();
  }
  if (log_->active_base_offset() != active_before) snapshot_producers();
  bytes_in_.fetch_add(static_cast<int64_t>(n), std::memory_order_relaxed);
  out.base_offset = r.base_offset;
  out.last_offset = r.last_offset;
  out.log_start_offset = log_->log_start_offset();
  follow_leader(leader_high_watermark, leader_log_start_offset);
  if (log_->log_end_offset() - log_->recovery_point() >= config_.flush_messages) start_flush();
  return out;
}

void Partition::follow_leader(int64_t leader_high_watermark, int64_t leader_log_start_offset) {
  if (leader_.load(std::memory_order_relaxed) || closed_) return;
  if (leader_log_start_offset > log_->log_start_offset() &&
      leader_log_start_offset <= log_->log_end_offset() &&
      log_->advance_log_start_offset(leader_log_start_offset)) {
    producers_.evict_below(log_->log_start_offset());
  }
  const int64_t before = high_watermark_;
  high_watermark_ = std::min(leader_high_watermark, log_->log_end_offset());
  lag_.store(std::max<int64_t>(0, leader_high_watermark - log_->log_end_offset()),
             std::memory_order_relaxed);
  publish();                                           // the LSO too
  if (high_watermark_ > before) wake_fetch_waiters();  // consumers reading from this follower
}

bool Partition::truncate_to(int64_t offset) {
  if (closed_) return false;
  if (offset >= log_->log_end_offset()) return true;
  const int64_t before = log_->log_end_offset();
  std::string error;
  if (!log_->truncate_to(offset, &error)) {
    go_offline(true, "truncation to " + std::to_string(offset) + " failed: " + error);
    return false;
  }
  log::info("{}-{}: truncated from {} to {}", topic_, index_, before, log_->log_end_offset());
  // A future log (a move between log directories) follows: it holds a prefix of this log.
  if (future_ && !future_->truncate_to(log_->log_end_offset(), &error)) {
    log::warn("{}-{}: truncating the future log failed: {}", topic_, index_, error);
    future_failed_ = true;
  }
  after_truncation();
  return true;
}

bool Partition::truncate_fully_and_start_at(int64_t offset) {
  if (closed_) return false;
  std::string error;
  if (!log_->restore_log_start_offset(offset, &error)) {
    go_offline(true, "restart at " + std::to_string(offset) + " failed: " + error);
    return false;
  }
  log::info("{}-{}: log restarted at {}", topic_, index_, log_->log_start_offset());
  const int64_t start = log_->log_start_offset();
  if (future_ &&
      !(start > future_->log_end_offset() ? future_->truncate_fully_and_start_at(start, &error)
                                          : future_->restore_log_start_offset(start, &error))) {
    log::warn("{}-{}: restarting the future log failed: {}", topic_, index_, error);
    future_failed_ = true;
  }
  after_truncation();
  return true;
}

void Partition::after_truncation() {
  // The producer state is derived from the log: rebuilt from a snapshot not beyond the new end.
  std::string error;
  if (!producers_.load(*log_, &error)) {
    log::warn("{}-{}: producer state rebuilt only up to an error: {}", topic_, index_, error);
  }
  high_watermark_ = std::min(high_watermark_, log_->log_end_offset());
  publish();
}

}  // namespace kaffa::cluster
