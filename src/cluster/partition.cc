#include "cluster/partition.h"

#include "base/log.h"
#include "record/recompress.h"
#include "record/records.h"
#include "record/validate.h"

namespace kaffa::cluster {
namespace {

using protocol::ErrorCode;

ErrorCode to_error(record::ValidationError e) {
  switch (e) {
    case record::ValidationError::none:
      return ErrorCode::none;
    case record::ValidationError::corrupt_message:
      return ErrorCode::corrupt_message;
    case record::ValidationError::message_too_large:
      return ErrorCode::message_too_large;
    case record::ValidationError::invalid_timestamp:
      return ErrorCode::invalid_timestamp;
    case record::ValidationError::invalid_record:
    case record::ValidationError::unsupported_magic:  // Produce v3+ must carry magic 2
      return ErrorCode::invalid_record;
  }
  return ErrorCode::unknown_server_error;
}

}  // namespace

Partition::Partition(std::string topic, int32_t index, size_t shard,
                     std::unique_ptr<storage::Log> log, PartitionConfig config,
                     storage::Flusher& flusher, Post post)
    : topic_(std::move(topic)),
      index_(index),
      shard_(shard),
      log_(std::move(log)),
      config_(std::move(config)),
      flusher_(flusher),
      post_(std::move(post)),
      producers_(log_->dir()) {
  high_watermark_ = log_->log_end_offset();
  // Leading in leader_epoch_ from the log end on (Kafka's makeLeader), also for an empty log, so
  // that OffsetForLeaderEpoch knows the epoch before its first batch.
  log_->maybe_assign_epoch(leader_epoch_, log_->log_end_offset());
  std::string error;
  if (!producers_.load(*log_, &error)) {
    log::warn("{}-{}: producer state rebuilt only up to an error: {}", topic_, index_, error);
  }
  // A long replay is not repeated after another crash.
  if (log_->log_end_offset() - producers_.replayed_from() > 0) snapshot_producers();
  publish();
}

Partition::~Partition() {
  *alive_ = false;
}

void Partition::publish() {
  hw_.store(high_watermark_, std::memory_order_release);
  update_last_stable_offset();
  recovery_.store(log_->recovery_point(), std::memory_order_release);
  log_start_.store(log_->log_start_offset(), std::memory_order_release);
  size_.store(log_->size_bytes(), std::memory_order_relaxed);
  replicas_n_.store(replicated_ ? static_cast<int32_t>(state_.replicas.size()) : 1,
                    std::memory_order_relaxed);
  isr_n_.store(replicated_ ? static_cast<int32_t>(state_.isr.size()) : 1,
               std::memory_order_relaxed);
  min_isr_.store(config_.min_insync_replicas, std::memory_order_relaxed);
}

bool Partition::writable(AppendOutcome* out) const {
  if (!closed_ && !io_failed_ && leader_.load(std::memory_order_relaxed)) return true;
  out->error =
      io_failed_ && !closed_ ? ErrorCode::kafka_storage_error : ErrorCode::not_leader_or_follower;
  return false;
}

ErrorCode Partition::append_refusal(bool acks_all) const {
  AppendOutcome out;
  if (!writable(&out)) return out.error;
  return acks_all && isr_too_small() ? ErrorCode::not_enough_replicas : ErrorCode::none;
}

bool Partition::isr_too_small() const {
  return replicated_ && static_cast<int32_t>(state_.isr.size()) < config_.min_insync_replicas;
}

Partition::AppendOutcome Partition::append(uint8_t* data, size_t n, int64_t now_ms, bool acks_all,
                                           AppendOrigin origin, std::optional<uint64_t> txn_guard) {
  AppendOutcome out;
  if (!writable(&out)) return out;
  if (acks_all && isr_too_small()) {
    out.error = ErrorCode::not_enough_replicas;
    out.message = "The ISR has " + std::to_string(state_.isr.size()) +
                  " replicas, min.insync.replicas is " +
                  std::to_string(config_.min_insync_replicas);
    return out;
  }
  record::ValidationOptions opts;
  opts.max_message_bytes = config_.max_message_bytes;
  opts.timestamp_type = config_.timestamp_type;
  opts.timestamp_before_max_ms = config_.timestamp_before_max_ms;
  opts.timestamp_after_max_ms = config_.timestamp_after_max_ms;
  opts.now_ms = now_ms;
  opts.require_keys = config_.compact;
  opts.coordinator_origin = origin == AppendOrigin::coordinator;
  const auto v = record::validate_batches(data, n, opts);
  if (!v.ok()) {
    out.error = to_error(v.error);
    out.message = v.message;
    out.record_index = v.record_index;
    log::debug("rejected produce to {}-{}: {}", topic_, index_, v.message);
    return out;
  }
  if (!check_producer(data, n, &out)) return out;
  if (txn_guard && !txn_verified(data, n, *txn_guard, &out)) return out;
  std::string recompressed;  // holds the batches when compression.type re-encodes them
  if (config_.compression && record::needs_recompression(data, n, *config_.compression)) {
    std::string why;
    if (!record::recompress_batches(data, n, *config_.compression,
                                    record::default_decompressed_limit(static_cast<size_t>(
                                        std::max(config_.max_message_bytes, 0))),
                                    recompressed, &why)) {
      out.error = ErrorCode::corrupt_message;
      out.message = why;
      return out;
    }
    data = reinterpret_cast<uint8_t*>(recompressed.data());
    n = recompressed.size();
    // Kafka checks the size again once the codec changed the batches.
    for (size_t pos = 0; pos < n;) {
      record::BatchHeader h;
      record::parse_header(data + pos, n - pos, h);
      if (h.total_size() > static_cast<size_t>(std::max(config_.max_message_bytes, 0))) {
        out.error = ErrorCode::message_too_large;
        out.message = "The batch is " + std::to_string(h.total_size()) +
                      " bytes once re-encoded by compression.type, more than max.message.bytes " +
                      std::to_string(config_.max_message_bytes);
        return out;
      }
      pos += h.total_size();
    }
  }
  stamp_log_append_time(data, n, now_ms, &out);
  return write_checked(data, n, now_ms, nullptr, std::move(out));
}

void Partition::stamp_log_append_time(uint8_t* data, size_t n, int64_t now_ms,
                                      AppendOutcome* out) const {
  if (config_.timestamp_type != record::TimestampType::log_append_time) return;
  // Every batch gets the append time (this changes CRC'd fields: record/batch.h).
  for (size_t pos = 0; pos < n;) {
    record::BatchHeader h;
    record::parse_header(data + pos, n - pos, h);
    record::set_log_append_time(data + pos, h.total_size(), now_ms);
    pos += h.total_size();
  }
  out->log_append_time = now_ms;
}

Partition::AppendOutcome Partition::write_checked(uint8_t* data, size_t n, int64_t now_ms,
                                                  const record::EndTxnMarker* marker,
                                                  AppendOutcome out) {
  const int64_t active_before = log_->active_base_offset();
  auto r = log_->append(data, n, leader_epoch_.load(std::memory_order_relaxed), now_ms);
  if (!r.ok) {
    log::error("append to {}-{} failed: {}", topic_, index_, r.error);
    out.error = ErrorCode::kafka_storage_error;
    out.message = r.error;
    if (r.io_error) go_offline(true, r.error);
    return out;
  }
  bytes_in_.fetch_add(static_cast<int64_t>(n), std::memory_order_relaxed);
  record::BatchHeader appended;
  record::parse_header(data, n, appended);
  if (appended.producer_id >= 0) {
    producers_.update(appended, r.base_offset, r.last_offset, marker);
  }
  // Producer state snapshots go with segment rolls, so a replay reads at most the active segment.
  if (log_->active_base_offset() != active_before) snapshot_producers();
  out.base_offset = r.base_offset;
  out.last_offset = r.last_offset;
  out.log_start_offset = log_->log_start_offset();
  if (log_->log_end_offset() - log_->recovery_point() >= config_.flush_messages) start_flush();
  if (!replica_waiters_.empty()) wake_replica_waiters(false);
  if (tracker_) {
    // Replicated: the watermark is the smallest log end in the ISR (ISR of one: this log end).
    set_high_watermark(tracker_->update_high_watermark(log_->log_end_offset()));
    publish();
    return out;
  }
  // A single node is its own in-sync replica set: the high watermark follows the log end.
  high_watermark_ = log_->log_end_offset();
  publish();
  wake_fetch_waiters();
  return out;
}

void Partition::wake_fetch_waiters() {
  wake_waiters(fetch_waiters_, high_watermark_);
  if (!committed_waiters_.empty()) wake_waiters(committed_waiters_, last_stable_offset_);
}

void Partition::wake_all_fetch_waiters() {
  wake_waiters(fetch_waiters_, std::numeric_limits<int64_t>::max());
  wake_waiters(committed_waiters_, std::numeric_limits<int64_t>::max());
}

void Partition::wake_waiters(Waiters& waiters, int64_t below) {
  // Fire those whose offset is now below `below`; drop those nobody waits for any more.
  auto it = waiters.begin();
  while (it != waiters.end()) {
    if (it->first < below) {
      if (auto w = it->second.lock()) w->fire();
      it = waiters.erase(it);
    } else if (it->second.expired()) {
      it = waiters.erase(it);
    } else {
      ++it;
    }
  }
}

void Partition::when_durable(int64_t end_offset, std::function<void(bool ok)> done) {
  if (io_failed_) return done(false);
  if (end_offset <= log_->recovery_point()) return done(true);
  durability_waiters_.emplace(end_offset, std::move(done));
  if (!flush_in_flight_) start_flush();
}

void Partition::start_flush() {
  if (flush_in_flight_ || closed_) return;
  flush_in_flight_ = true;
  submit_flush(*log_, log_swaps_, &Partition::on_flushed);
}

void Partition::submit_flush(storage::Log& log, uint64_t generation, FlushDone done) {
  auto ticket = log.flush_ticket();
  const int64_t end = ticket.end_offset;
  flusher_.submit(std::move(ticket), [post = post_, shard = shard_, alive = alive_, this,
                                      generation, end, done](bool ok) {
    // Flusher thread: hand the result back to the owner loop.
    post(shard, [alive, this, done, generation, end, ok] {
      if (*alive) (this->*done)(generation, end, ok);
    });
  });
}

void Partition::go_offline(bool report, const std::string& why) {
  if (io_failed_ || closed_) return;
  io_failed_ = true;
  offline_.store(true, std::memory_order_release);
  log::error("{}-{} is offline: {}", topic_, index_,
             why.empty() ? "its log directory failed" : why);
  auto waiters = std::move(durability_waiters_);
  durability_waiters_.clear();
  for (auto& [offset, done] : waiters) done(false);
  // acks=all produces waiting for followers fail now (Kafka's delayed produce finds the
  // partition offline); parked fetches read again and get the error.
  auto replicated = std::move(replication_waiters_);
  replication_waiters_.clear();
  for (auto& [offset, done] : replicated) done(ErrorCode::kafka_storage_error);
  wake_all_fetch_waiters();
  wake_replica_waiters(true);
  if (future_) future_failed_ = true;  // the move is abandoned at its next step
  if (report && storage_failed_) storage_failed_(why);
}

void Partition::on_flushed(uint64_t swaps, int64_t end_offset, bool ok) {
  flush_in_flight_ = false;
  if (closed_) return;
  if (swaps != log_swaps_) {
    // A ticket of the log a move replaced (synced in full by the move): the new one's turn.
    if (!durability_waiters_.empty()) start_flush();
    return;
  }
  if (!ok) return go_offline(true, "fdatasync failed");
  log_->mark_flushed(end_offset);
  publish();
  last_flush_ms_ = 0;
  const int64_t durable = log_->recovery_point();
  while (!durability_waiters_.empty() && durability_waiters_.begin()->first <= durable) {
    auto done = std::move(durability_waiters_.begin()->second);
    durability_waiters_.erase(durability_waiters_.begin());
    done(true);
  }
  if (!durability_waiters_.empty()) start_flush();
}

Partition::ReadOutcome Partition::read(int64_t offset, int64_t max_bytes, bool min_one_batch,
                                       bool follower_ok, Isolation isolation) const {
  const int64_t end =
      isolation == Isolation::read_committed ? last_stable_offset_ : high_watermark_;
  if (io_failed_ && !closed_) {
    ReadOutcome out;
    out.error = ErrorCode::kafka_storage_error;
    return out;
  }
  if (follower_ok && replicated_ && !closed_ && !leader_.load(std::memory_order_relaxed)) {
    ReadOutcome out;
    out.high_watermark = high_watermark_;
    out.last_stable_offset = last_stable_offset_;
    out.log_start_offset = log_->log_start_offset();
    if (offset < log_->log_start_offset() || offset > log_->log_end_offset()) {
      out.error = ErrorCode::offset_out_of_range;
    } else if (offset < end) {
      read_log(offset, max_bytes, end, min_one_batch, out, isolation);
    }
    return out;
  }
  return read_up_to(end, offset, max_bytes, min_one_batch, isolation);
}

Partition::ReadOutcome Partition::read_to_log_end(int64_t offset, int64_t max_bytes,
                                                  bool min_one_batch) const {
  return read_up_to(log_->log_end_offset(), offset, max_bytes, min_one_batch);
}

Partition::ReadOutcome Partition::read_up_to(int64_t end, int64_t offset, int64_t max_bytes,
                                             bool min_one_batch, Isolation isolation) const {
  ReadOutcome out;
  out.high_watermark = high_watermark_;
  out.last_stable_offset = last_stable_offset_;
  out.log_start_offset = log_->log_start_offset();
  if (closed_ || !leader_.load(std::memory_order_relaxed)) {
    out.error = ErrorCode::not_leader_or_follower;
    return out;
  }
  if (io_failed_) {
    out.error = ErrorCode::kafka_storage_error;
    return out;
  }
  // read_committed: an offset between the LSO and the high watermark reads nothing (Kafka).
  if (offset < log_->log_start_offset() || offset > std::max(end, high_watermark_)) {
    out.error = ErrorCode::offset_out_of_range;
    return out;
  }
  read_log(offset, max_bytes, end, min_one_batch, out, isolation);
  return out;
}

void Partition::read_log(int64_t offset, int64_t max_bytes, int64_t max_offset, bool min_one_batch,
                         ReadOutcome& out, Isolation isolation) const {
  auto r = log_->read(offset, max_bytes, max_offset, min_one_batch);
  if (r.out_of_range) {
    out.error = ErrorCode::offset_out_of_range;
    return;
  }
  if (!r.error.empty() && r.slices.empty()) {
    log::error("read of {}-{} at {} failed: {}", topic_, index_, offset, r.error);
    out.error = ErrorCode::kafka_storage_error;
    return;
  }
  for (auto& s : r.slices) {
    out.records.files.push_back(
        {s.fd, s.position, static_cast<size_t>(s.length), std::move(s.file)});
  }
  out.bytes = r.bytes;
  if (isolation == Isolation::read_committed && offset < max_offset) {
    // Kafka's bound: the offset after the data returned, or the LSO when there is none.
    const int64_t upper = r.slices.empty() ? last_stable_offset_ : r.next_offset;
    out.aborted = producers_.aborted_index().collect(offset, upper);
  }
}

void Partition::add_waiter(int64_t offset, std::weak_ptr<FetchWaiter> waiter, bool follower_ok,
                           Isolation isolation) {
  const bool serving = leader_.load(std::memory_order_relaxed) || (follower_ok && replicated_);
  const bool committed = isolation == Isolation::read_committed;
  if (offset < (committed ? last_stable_offset_ : high_watermark_) || closed_ || !serving) {
    if (auto w = waiter.lock()) w->fire();
    return;
  }
  (committed ? committed_waiters_ : fetch_waiters_).emplace_back(offset, std::move(waiter));
}

std::optional<std::pair<int64_t, int64_t>> Partition::offset_for_timestamp(
    int64_t ts, Isolation isolation) const {
  auto r = log_->offset_for_timestamp(ts);
  const int64_t end =
      isolation == Isolation::read_committed ? last_stable_offset_ : high_watermark_;
  if (!r || r->first >= end) return std::nullopt;
  return r;
}

std::pair<int64_t, int64_t> Partition::max_timestamp() const {
  return log_->max_timestamp();
}

void Partition::on_tick(int64_t now_ms) {
  if (closed_) return;
  if (tracker_) maybe_shrink_isr(now_ms);
  if (now_ms - last_expiry_check_ms_ >= config_.producer_id_expiration_check_interval_ms) {
    last_expiry_check_ms_ = now_ms;
    if (const size_t n = producers_.remove_expired(now_ms, config_.producer_id_expiration_ms)) {
      log::debug("{}-{}: {} expired producer ids forgotten", topic_, index_, n);
    }
  }
  if (config_.flush_ms == std::numeric_limits<int64_t>::max()) return;
  if (last_flush_ms_ == 0) last_flush_ms_ = now_ms;
  if (log_->log_end_offset() > log_->recovery_point() &&
      now_ms - last_flush_ms_ >= config_.flush_ms) {
    start_flush();
  }
}

void Partition::snapshot_producers() {
  std::string error;
  if (!producers_.take_snapshot(log_->log_end_offset(), false, &error)) {
    log::warn("{}-{}: cannot write the producer state snapshot: {}", topic_, index_, error);
  }
}

bool Partition::close(std::string* error) {
  if (closed_) return true;
  closed_ = true;
  wake_all_fetch_waiters();
  wake_replica_waiters(true);
  for (auto& [offset, done] : replication_waiters_) done(ErrorCode::not_leader_or_follower);
  replication_waiters_.clear();
  // No fsync: the log is synced below, and a torn snapshot fails its CRC and is replaced by a
  // replay.
  if (!io_failed_) snapshot_producers();
  // A move goes on after a restart from what its future log holds: synced here, its recovery
  // point kept for the shutdown's checkpoint (PartitionManager::write_checkpoints).
  int64_t future_durable = -1;
  if (future_ && !future_failed_) {
    std::string why;
    if (future_->close(&why)) {
      future_durable = future_->recovery_point();
    } else {
      log::warn("{}-{}: closing the future log: {}", topic_, index_, why);
    }
  }
  drop_future();
  future_recovery_point_.store(future_durable, std::memory_order_relaxed);
  // An offline log is left as it is: its directory failed, and the next start recovers it from
  // its last checkpointed recovery point (Kafka does not flush an offline log either).
  const bool ok = io_failed_ || log_->close(error);
  for (auto& [offset, done] : durability_waiters_) done(ok);
  durability_waiters_.clear();
  publish();
  return ok;
}

}  // namespace kaffa::cluster
