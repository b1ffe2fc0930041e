// Log: append, roll, flush hand-off, close, truncation and deletion of segments.
#include <algorithm>
#include <limits>

#include "base/log.h"
#include "record/batch.h"
#include "storage/log.h"
#include "storage/segment_scan.h"

namespace kaffa::storage {

namespace {
constexpr int32_t kMinBatchLength =
    static_cast<int32_t>(record::kBatchHeaderSize - record::kBatchOverhead);
constexpr int64_t kMaxRelativeOffset = std::numeric_limits<int32_t>::max();
}  // namespace

bool Log::should_roll(size_t n, int64_t last_offset, int64_t now_ms) const {
  const SegmentMeta& m = segments_.rbegin()->second;
  if (m.size == 0) return false;
  const int64_t max_index =
      cfg_.segment_index_bytes / static_cast<int64_t>(OffsetIndex::kEntrySize);
  const int64_t max_time = cfg_.segment_index_bytes / static_cast<int64_t>(TimeIndex::kEntrySize);
  // One append adds at most one entry per batch; n / kBatchHeaderSize bounds the batch count.
  const auto max_new_entries = static_cast<int64_t>(n / record::kBatchHeaderSize) + 1;
  return m.size + static_cast<int64_t>(n) > cfg_.segment_bytes ||
         (active_->first_append_ms >= 0 && now_ms - active_->first_append_ms > cfg_.segment_ms) ||
         active_->index().entries() + max_new_entries > max_index ||
         active_->time_index().entries() + max_new_entries > max_time ||
         last_offset - m.base_offset > kMaxRelativeOffset;
}

bool Log::roll(std::string* error) {
  SegmentMeta& old = segments_.rbegin()->second;
  SegmentMeta m;
  m.base_offset = m.next_offset = old.next_offset;
  auto writer = SegmentWriter::open(dir_, m, cfg_.index_interval_bytes, true, error);
  if (!writer) return false;
  if (writer->log()->size() != 0 && !writer->log()->truncate(0, error)) return false;
  std::string index_error;
  if (!active_->seal(old, &index_error)) log::warn("{}: {}", dir_.string(), index_error);
  index_error.clear();
  if (!active_->release_reserved(old.size, &index_error)) {
    log::warn("{}: {}", dir_.string(), index_error);
    index_error.clear();
  }
  auto files = active_->files_to_sync(&index_error);
  if (!index_error.empty()) log::warn("{}: {}", dir_.string(), index_error);
  pending_flush_.push_back({old.base_offset, old.next_offset, std::move(files), true});
  cache_.put(active_->log());
  segments_.emplace(m.base_offset, m);
  active_ = std::move(writer);
  return true;
}

Log::AppendResult Log::append(uint8_t* batches, size_t n, int32_t leader_epoch, int64_t now_ms) {
  return append_batches(batches, n, leader_epoch, now_ms, true);
}

Log::AppendResult Log::append_as_follower(uint8_t* batches, size_t n, int64_t now_ms) {
  return append_batches(batches, n, -1, now_ms, false);
}

Log::AppendResult Log::append_batches(uint8_t* batches, size_t n, int32_t leader_epoch,
                                      int64_t now_ms, bool assign) {
  AppendResult r;
  if (closed_ || !active_) {
    r.error = "log " + dir_.string() + " is closed";
    return r;
  }
  if (n == 0 || n > static_cast<size_t>(std::numeric_limits<int32_t>::max())) {
    r.error = "append of " + std::to_string(n) + " bytes";
    return r;
  }
  // Check the framing once: whole batches, sane lengths (the record layer validated the rest).
  // A follower's batches keep their offsets: increasing, from the log end on, CRCs intact.
  int64_t count = 0;
  int64_t expected = log_end_offset();  // follower: the lowest acceptable next base offset
  for (size_t pos = 0; pos < n;) {
    record::BatchHeader h;
    if (!record::parse_header(batches + pos, n - pos, h) || h.batch_length < kMinBatchLength ||
        h.total_size() > n - pos || h.last_offset_delta < 0 || h.magic != 2) {
      r.error = "malformed batch at byte " + std::to_string(pos) + " of the append";
      return r;
    }
    if (!assign) {
      const char* problem = h.base_offset < expected          ? " is below the next offset"
                            : h.last_offset() < h.base_offset ? " ends past 2^63 - 1"
                            : !record::crc_ok(batches + pos, h.total_size()) ? " fails its CRC"
                                                                             : nullptr;
      if (problem != nullptr) {
        r.error = "replicated batch at offset " + std::to_string(h.base_offset) + problem +
                  " (expected from " + std::to_string(expected) + ")";
        return r;
      }
      expected = h.last_offset() + 1;
    }
    count += int64_t{h.last_offset_delta} + 1;
    pos += h.total_size();
  }
  const int64_t base = assign ? log_end_offset() : [&] {
    record::BatchHeader h;
    record::parse_header(batches, n, h);
    return h.base_offset;
  }();
  const int64_t last = assign ? base + count - 1 : expected - 1;
  if (should_roll(n, last, now_ms) && !roll(&r.error)) {
    r.io_error = true;
    return r;
  }
  if (last - segments_.rbegin()->first > kMaxRelativeOffset) {
    // Only a follower's gap (a compacted leader log) beyond 2^31 offsets gets here.
    r.error = "offset " + std::to_string(last) + " too far above the segment base";
    return r;
  }

  SegmentMeta& m = segments_.rbegin()->second;
  const int64_t start = m.size;
  int64_t next = base;
  for (size_t pos = 0; pos < n;) {
    record::BatchHeader h;
    record::parse_header(batches + pos, n - pos, h);
    if (assign) {
      record::set_base_offset(batches + pos, next);
      record::set_partition_leader_epoch(batches + pos, leader_epoch);
      next += int64_t{h.last_offset_delta} + 1;
    } else {
      next = h.last_offset() + 1;
    }
    pos += h.total_size();
  }
  active_->reserve_for(start + static_cast<int64_t>(n), cfg_.segment_bytes);
  if (!active_->log()->write_at(batches, n, start, &r.error)) {
    r.io_error = true;
    std::string ignored;
    active_->release_reserved(start, &ignored);  // no partial batch may stay behind
    return r;
  }
  if (active_->first_append_ms < 0) active_->first_append_ms = now_ms;
  std::string index_error;
  bool index_ok = true;
  for (size_t pos = 0; pos < n;) {
    record::BatchHeader h;
    record::parse_header(batches + pos, n - pos, h);
    const BatchInfo b{start + static_cast<int64_t>(pos), static_cast<int64_t>(h.total_size()),
                      h.base_offset, h.last_offset(), h.max_timestamp};
    index_ok = active_->index_batch(m, b, &index_error) && index_ok;
    pos += h.total_size();
  }
  if (!index_ok) log::warn("{}: index append failed: {}", dir_.string(), index_error);
  if (assign) {
    maybe_assign_epoch(leader_epoch, base);  // a leader's first batch in a new epoch
  } else {
    for (size_t pos = 0; pos < n;) {  // the leader's epochs, as its batches carry them
      record::BatchHeader h;
      record::parse_header(batches + pos, n - pos, h);
      maybe_assign_epoch(h.partition_leader_epoch, h.base_offset);
      pos += h.total_size();
    }
  }
  r.base_offset = base;
  r.last_offset = next - 1;
  r.ok = true;
  return r;
}

void Log::maybe_assign_epoch(int32_t epoch, int64_t start_offset) {
  const auto latest = epochs_.latest_epoch();
  if (epoch >= 0 && (!latest || epoch > *latest) && epochs_.assign(epoch, start_offset)) {
    epochs_changed();
  }
}

FlushTicket Log::flush_ticket() const {
  FlushTicket t;
  t.end_offset = log_end_offset();
  bool directory = false;
  for (const auto& p : pending_flush_) {
    t.files.insert(t.files.end(), p.files.begin(), p.files.end());
    directory = directory || p.directory;
  }
  pending_in_ticket_ = pending_flush_.size();
  if (active_ && log_end_offset() > recovery_point_) t.files.push_back(active_->log());
  epochs_ticket_version_ = epochs_version_;
  if (epochs_version_ != epochs_synced_version_ && write_epochs()) {
    std::string error;
    if (auto f = SegmentFile::open(dir_ / kLeaderEpochFile, SegmentFile::Mode::read_only, &error)) {
      t.files.push_back(std::move(f));
      directory = true;  // its rename
    }
  }
  if (directory) t.directories.push_back(dir_);
  return t;
}

void Log::write_pending_indexes() {
  std::string error;
  if (active_) active_->files_to_sync(&error);
  if (!error.empty()) log::warn("{}: {}", dir_.string(), error);
}

bool Log::truncate_fully_and_start_at(int64_t offset, std::string* error) {
  if (closed_) {
    if (error != nullptr) *error = "log " + dir_.string() + " is closed";
    return false;
  }
  return restart_at(offset, error);
}

void Log::mark_flushed(int64_t end_offset) {
  epochs_synced_version_ = std::max(epochs_synced_version_, epochs_ticket_version_);
  recovery_point_ = std::max(recovery_point_, std::min(end_offset, log_end_offset()));
  while (pending_in_ticket_ > 0 && !pending_flush_.empty() &&
         pending_flush_.front().end_offset <= end_offset) {
    pending_flush_.pop_front();
    --pending_in_ticket_;
  }
}

bool Log::close(std::string* error) {
  if (closed_) return true;
  bool ok = true;
  for (const auto& p : pending_flush_) {
    for (const auto& f : p.files) ok = f->sync() && ok;
  }
  if (active_) {
    std::string index_error;
    if (!active_->release_reserved(segments_.rbegin()->second.size, &index_error)) {
      log::warn("{}: {}", dir_.string(), index_error);
      index_error.clear();
    }
    for (const auto& f : active_->files_to_sync(&index_error)) ok = f->sync() && ok;
    if (!index_error.empty()) log::warn("{}: {}", dir_.string(), index_error);
  }
  if (epochs_version_ != epochs_synced_version_ && write_epochs()) {
    auto f = SegmentFile::open(dir_ / kLeaderEpochFile, SegmentFile::Mode::read_only, nullptr);
    ok = (!f || f->sync()) && ok;  // no file: its write failed and was logged
  }
  ok = sync_directory(dir_, nullptr) && ok;
  if (ok) {
    recovery_point_ = log_end_offset();
  } else if (error != nullptr) {
    *error = "fdatasync failed in " + dir_.string();
  }
  pending_flush_.clear();
  pending_in_ticket_ = 0;
  active_.reset();
  cache_.clear();
  closed_ = true;
  return ok;
}

bool Log::skip_to(int64_t offset, std::string* error) {
  if (closed_) {
    if (error != nullptr) *error = "log " + dir_.string() + " is closed";
    return false;
  }
  if (offset <= log_end_offset()) return true;
  SegmentMeta& last = segments_.rbegin()->second;
  if (last.size > 0) {
    last.next_offset = offset;  // the offsets up to `offset` hold no batch
    return roll(error);
  }
  // An empty active segment is replaced by one based at `offset`.
  active_.reset();
  const int64_t base = last.base_offset;
  delete_segment_files(base);
  segments_.erase(base);
  if (segments_.empty()) log_start_offset_ = offset;
  SegmentMeta m;
  m.base_offset = m.next_offset = offset;
  segments_.emplace(offset, m);
  if (!open_active(true, error)) return false;
  return sync_directory(dir_, error);
}

bool Log::truncate_to(int64_t offset, std::string* error) {
  if (closed_) {
    if (error != nullptr) *error = "log " + dir_.string() + " is closed";
    return false;
  }
  if (offset >= log_end_offset()) return true;
  ++generation_;
  const bool restart = offset < log_start_offset();
  active_.reset();
  // Whole segments above the target go (all of them when restarting below the log start).
  while (!segments_.empty() && (restart || segments_.rbegin()->first > offset)) {
    delete_segment_files(segments_.rbegin()->first);
    segments_.erase(std::prev(segments_.end()));
  }
  std::erase_if(pending_flush_, [&](const PendingFlush& p) {
    return segments_.empty() || p.base_offset >= segments_.rbegin()->first;
  });
  pending_in_ticket_ = std::min(pending_in_ticket_, pending_flush_.size());
  if (segments_.empty()) {
    SegmentMeta m;
    m.base_offset = m.next_offset = offset;
    segments_.emplace(offset, m);
    recovery_point_ = offset;
    log_start_offset_ = offset;
    epochs_.clear();
    epochs_changed();
    if (!open_active(true, error)) return false;
    return sync_directory(dir_, error);
  }
  SegmentMeta& m = segments_.rbegin()->second;
  for (const auto suffix : {kLogSuffix, kIndexSuffix, kTimeIndexSuffix}) {
    cache_.erase(segment_path(dir_, m.base_offset, suffix));
  }
  auto file = SegmentFile::open(segment_path(dir_, m.base_offset, kLogSuffix),
                                SegmentFile::Mode::read_write, error);
  if (!file) return false;
  int64_t cut = locate(m, *file, offset);
  if (cut == -2) {
    if (error != nullptr) *error = "cannot read " + file->path().string();
    return false;
  }
  if (cut < 0) cut = m.size;
  if (!file->truncate(cut, error)) return false;
  // The indexes are rebuilt from the remaining batch headers (truncation is rare: leader change).
  m.size = cut;
  m.next_offset = m.base_offset;
  if (!rebuild_indexes(m, true, error) || !open_active(false, error)) return false;
  recovery_point_ = std::min(recovery_point_, log_end_offset());
  log_start_offset_ = std::min(log_start_offset_, log_end_offset());
  if (epochs_.truncate_from_end(log_end_offset())) epochs_changed();
  return true;
}

int64_t Log::delete_segments_before(int64_t offset) {
  if (closed_) return log_start_offset();
  if (offset >= log_end_offset() && segments_.rbegin()->second.size > 0) {
    std::string error;
    if (!roll(&error)) log::warn("{}: roll before deletion failed: {}", dir_.string(), error);
  }
  while (segments_.size() > 1 && segments_.begin()->second.next_offset <= offset) {
    drop_first_segment();
  }
  return log_start_offset();
}

}  // namespace kaffa::storage
