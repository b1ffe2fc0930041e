// Partition: moving its log to another log directory (AlterReplicaLogDirs). The future log is
// filled from this one on the owner loop, a few MiB per task, and swapped in once it ends where
// this one ends. Orchestration (directories, steps, restarts) in partition_moves.cc.

#include <limits>

#include "base/file.h"
#include "base/log.h"
#include "cluster/partition.h"
#include "record/records.h"
#include "storage/checkpoint_file.h"

namespace kaffa::cluster {
namespace {

namespace fs = std::filesystem;

constexpr int64_t kReadChunk = 1 << 20;
// The future log's writes go to the Flusher after this many bytes, so that the swap (which syncs
// what is left on the owner loop) stays short.
constexpr int64_t kFutureFlushBytes = 32 << 20;
constexpr const char* kPartitionMetadata = "partition.metadata";

// The bytes of `slices`, appended to *out; false on a short read.
bool read_slices(const std::vector<storage::FileSlice>& slices, std::string* out) {
  for (const auto& f : slices) {
    const size_t start = out->size();
    const auto want = static_cast<size_t>(f.length);
    out->resize(start + want);
    if (file::read_at(f.fd, out->data() + start, want, f.position) != static_cast<ssize_t>(want)) {
      return false;
    }
  }
  return true;
}

}  // namespace

bool Partition::attach_future(std::unique_ptr<storage::Log> future, uint64_t move_id,
                              std::string* error) {
  drop_future();
  if (closed_) {
    *error = "the partition is closed";
    return false;
  }
  if (future->log_end_offset() > future->log_start_offset()) {
    const auto agreed = storage::agreed_end(storage::LeaderEpochCache(log_->epoch_entries()),
                                            log_->log_end_offset(), future->epoch_entries(),
                                            future->log_end_offset());
    const int64_t cut = agreed.value_or(future->log_start_offset());
    if (cut < future->log_end_offset()) {
      log::info("{}-{}: the copy kept in {} agrees with the log below {}; cut there", topic_,
                index_, future->dir().string(), cut);
      if (!future->truncate_to(cut, error)) return false;
    }
  }
  future->set_config(config_.log);
  future_ = std::move(future);
  move_id_ = move_id;
  future_failed_ = false;
  future_unflushed_bytes_ = 0;
  publish_future();
  return true;
}

void Partition::drop_future() {
  future_.reset();  // no fsync: its directory is removed, or copied again after a restart
  move_buffer_ = {};
  future_size_.store(-1, std::memory_order_relaxed);
  future_lag_.store(0, std::memory_order_relaxed);
  future_recovery_point_.store(-1, std::memory_order_relaxed);
}

void Partition::publish_future() {
  if (!future_) return;
  future_size_.store(future_->size_bytes(), std::memory_order_relaxed);
  future_recovery_point_.store(future_->recovery_point(), std::memory_order_relaxed);
  future_lag_.store(std::max<int64_t>(0, log_->log_end_offset() - future_->log_end_offset()),
                    std::memory_order_relaxed);
}

Partition::MoveStep Partition::copy_to_future(int64_t max_bytes, int64_t now_ms,
                                              int64_t* copied_out, std::string* error) {
  if (closed_ || !future_ || future_failed_ || io_failed_) {
    *error = closed_ ? "the partition is closed" : "an earlier write failed";
    return MoveStep::failed;
  }
  storage::Log& f = *future_;
  int64_t copied = 0;
  *copied_out = 0;
  while (copied < max_bytes && f.log_end_offset() < log_->log_end_offset()) {
    const int64_t from = std::max(f.log_end_offset(), log_->log_start_offset());
    auto r = log_->read(from, kReadChunk, std::numeric_limits<int64_t>::max(), true);
    if (r.out_of_range || !r.error.empty()) {
      *error = r.error.empty() ? "offset " + std::to_string(from) + " out of range" : r.error;
      return MoveStep::failed;
    }
    if (r.slices.empty()) {
      // Only offsets compaction removed are left below the log end.
      if (!f.skip_to(log_->log_end_offset(), error)) return MoveStep::failed;
      break;
    }
    move_buffer_.clear();
    if (!read_slices(r.slices, &move_buffer_) || move_buffer_.size() < record::kBatchHeaderSize) {
      *error = "short read from " + log_->dir().string();
      return MoveStep::failed;
    }
    auto* data = reinterpret_cast<uint8_t*>(move_buffer_.data());
    record::BatchHeader first;
    record::parse_header(data, move_buffer_.size(), first);
    // Everything the future log holds is below the log start (retention, DeleteRecords): it
    // starts again at the batch holding the log start.
    if (f.log_end_offset() < log_->log_start_offset() && first.base_offset > f.log_end_offset() &&
        !f.truncate_fully_and_start_at(first.base_offset, error)) {
      return MoveStep::failed;
    }
    auto a = f.append_as_follower(data, move_buffer_.size(), now_ms);
    if (!a.ok) {
      *error = a.error;
      return MoveStep::failed;
    }
    copied += static_cast<int64_t>(move_buffer_.size());
  }
  *copied_out = copied;
  future_unflushed_bytes_ += copied;
  if (future_unflushed_bytes_ >= kFutureFlushBytes) flush_future();
  publish_future();
  return f.log_end_offset() >= log_->log_end_offset() ? MoveStep::caught_up : MoveStep::copying;
}

void Partition::flush_future() {
  if (future_flush_in_flight_ || !future_) return;
  future_flush_in_flight_ = true;
  future_unflushed_bytes_ = 0;
  submit_flush(*future_, move_id_, &Partition::on_future_flushed);
}

void Partition::on_future_flushed(uint64_t move_id, int64_t end_offset, bool ok) {
  future_flush_in_flight_ = false;
  if (!future_ || move_id != move_id_) return;  // dropped or swapped in meanwhile
  if (!ok) {
    future_failed_ = true;
    return;
  }
  future_->mark_flushed(end_offset);
  publish_future();
}

bool Partition::copy_metadata_to(const fs::path& dir, std::string* error) const {
  const fs::path from = log_->dir() / kPartitionMetadata;
  std::error_code ec;
  if (!fs::exists(from, ec)) return true;  // single node: none
  const auto bytes = file::read_all(from);
  if (!bytes) {
    *error = "cannot read " + from.string();
    return false;
  }
  return storage::write_file_atomically(dir / kPartitionMetadata, *bytes, error, true);
}

bool Partition::swap_in_future(const fs::path& final_dir, const fs::path& doomed, bool* committed,
                               std::string* error) {
  *committed = false;
  if (!future_ || closed_ || future_->log_end_offset() != log_->log_end_offset()) {
    *error = "the future log is not caught up";
    return false;
  }
  storage::Log& f = *future_;
  const fs::path future_dir = f.dir();
  const fs::path current_dir = log_->dir();
  const int64_t end = log_->log_end_offset();
  // Epochs begun without a batch yet (a leader's new epoch at the log end) and the log start.
  for (const auto& e : log_->epoch_entries()) f.maybe_assign_epoch(e.epoch, e.start_offset);
  if (!f.advance_log_start_offset(log_->log_start_offset())) {
    *error = "cannot move the future log's start to " + std::to_string(log_->log_start_offset());
    return false;
  }
  auto undo_producers = [&] {
    std::string ignored;
    producers_.relocate(current_dir, end, &ignored);
  };
  if (!copy_metadata_to(future_dir, error)) return false;
  if (!producers_.relocate(future_dir, end, error)) {
    undo_producers();
    return false;
  }
  if (!f.close(error)) {
    undo_producers();
    return false;
  }
  log_->write_pending_indexes();  // nothing left to write under the old name
  std::error_code ec;
  fs::rename(current_dir, doomed, ec);
  if (ec || !storage::sync_directory(current_dir.parent_path(), error)) {
    if (ec) *error = "cannot rename " + current_dir.string() + ": " + ec.message();
    if (!ec) fs::rename(doomed, current_dir, ec);
    undo_producers();
    return false;
  }
  fs::rename(future_dir, final_dir, ec);
  if (ec) {
    *error = "cannot rename " + future_dir.string() + ": " + ec.message();
    fs::rename(doomed, current_dir, ec);
    undo_producers();
    return false;
  }
  *committed = true;
  drop_future();
  if (!storage::sync_directory(final_dir.parent_path(), error)) {
    log::warn("{}-{}: {}", topic_, index_, *error);  // the next flush of the log syncs it again
  }
  auto moved = storage::Log::open(final_dir, config_.log, end, error);
  if (!moved || !moved->restore_log_start_offset(log_->log_start_offset(), error)) {
    go_offline(true, "reopening the moved log failed: " + *error);  // a restart opens it
    return false;
  }
  moved->continue_generation(log_->generation());
  // The old log goes without a sync (its directory is removed); reads in flight keep its files.
  log_ = std::move(moved);
  ++log_swaps_;
  std::string snapshot_error;
  if (!producers_.relocate(final_dir, end, &snapshot_error)) {
    log::warn("{}-{}: producer state after the move: {}", topic_, index_, snapshot_error);
  }
  // Everything below `end` was synced with the future log.
  while (!durability_waiters_.empty() && durability_waiters_.begin()->first <= end) {
    auto done = std::move(durability_waiters_.begin()->second);
    durability_waiters_.erase(durability_waiters_.begin());
    done(true);
  }
  flush_in_flight_ = false;  // a ticket of the old log may still be out: ignored (log_swaps_)
  if (!durability_waiters_.empty()) start_flush();
  publish();
  return true;
}

}  // namespace kaffa::cluster
