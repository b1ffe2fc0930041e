// Log: the log start offset (restore, DeleteRecords) and retention by time and size, following
// Kafka's UnifiedLog (maybeIncrementLogStartOffset, deleteOldSegments, deletableSegments).
#include <sys/stat.h>

#include <algorithm>
#include <limits>
#include <system_error>

#include "base/log.h"
#include "storage/log.h"

namespace kaffa::storage {

void Log::drop_first_segment() {
  const int64_t base = segments_.begin()->first;
  ++generation_;
  delete_segment_files(base);
  segments_.erase(segments_.begin());
  forget_pending_flush(base);
  log_start_offset_ = std::max(log_start_offset_, segments_.begin()->first);
  epochs_follow_log_start();
}

void Log::forget_pending_flush(int64_t base) {
  for (auto it = pending_flush_.begin(); it != pending_flush_.end();) {
    if (it->base_offset == base) {
      if (static_cast<size_t>(it - pending_flush_.begin()) < pending_in_ticket_) {
        --pending_in_ticket_;
      }
      it = pending_flush_.erase(it);
    } else {
      ++it;
    }
  }
}

bool Log::restart_at(int64_t offset, std::string* error) {
  ++generation_;
  active_.reset();
  while (!segments_.empty()) {
    delete_segment_files(segments_.begin()->first);
    segments_.erase(segments_.begin());
  }
  pending_flush_.clear();
  pending_in_ticket_ = 0;
  SegmentMeta m;
  m.base_offset = m.next_offset = offset;
  segments_.emplace(offset, m);
  recovery_point_ = offset;
  log_start_offset_ = offset;
  epochs_.clear();  // as Kafka's truncateFullyAndStartAt
  epochs_changed();
  if (!open_active(true, error)) return false;
  return sync_directory(dir_, error);
}

bool Log::restore_log_start_offset(int64_t offset, std::string* error) {
  if (closed_) {
    if (error != nullptr) *error = "log " + dir_.string() + " is closed";
    return false;
  }
  if (offset > log_end_offset()) {
    log::warn(
        "{}: log end offset {} is below the checkpointed log start offset {}; deleting all "
        "segments",
        dir_.string(), log_end_offset(), offset);
    return restart_at(offset, error);
  }
  log_start_offset_ = std::max(segments_.begin()->first, offset);
  // Segments wholly below it (a crash after DeleteRecords, before the deletion) go now.
  while (segments_.size() > 1 && std::next(segments_.begin())->first <= log_start_offset_) {
    drop_first_segment();
  }
  epochs_follow_log_start();
  return true;
}

bool Log::advance_log_start_offset(int64_t offset) {
  if (closed_ || offset > log_end_offset()) return false;
  if (offset <= log_start_offset_) return true;
  ++generation_;
  log_start_offset_ = offset;
  delete_segments_before(offset);
  epochs_follow_log_start();
  return true;
}

int64_t Log::largest_timestamp(const SegmentMeta& s) const {
  if (s.max_timestamp >= 0) return s.max_timestamp;
  // As Kafka's LogSegment.largestTimestamp: without any timestamp, the file's modification time.
  struct stat st {};
  if (::stat(segment_path(dir_, s.base_offset, kLogSuffix).c_str(), &st) != 0) {
    return std::numeric_limits<int64_t>::max();  // unknown age: kept
  }
  return static_cast<int64_t>(st.st_mtim.tv_sec) * 1000 + st.st_mtim.tv_nsec / 1000000;
}

// Kafka's deletableSegments + deleteSegments: the longest prefix of segments satisfying pred
// (called once per candidate, oldest first) whose offsets are all below the high watermark; an
// empty last segment is never taken. If that is every segment, the active one is rolled first.
template <class Pred>
Log::RetentionResult Log::delete_oldest_while(int64_t high_watermark, Pred pred) {
  RetentionResult r;
  size_t count = 0;
  for (auto it = segments_.begin(); it != segments_.end(); ++it) {
    const auto next = std::next(it);
    const bool last = next == segments_.end();
    const int64_t upper = last ? log_end_offset() : next->first;
    if (last && it->second.size == 0) break;
    if (high_watermark < upper || !pred(it->second, last)) break;
    ++count;
  }
  if (count == 0) return r;
  if (count == segments_.size()) {
    std::string error;
    if (!roll(&error)) {
      log::warn("{}: roll before retention failed: {}", dir_.string(), error);
      --count;
    }
  }
  for (size_t i = 0; i < count; ++i) {
    r.bytes_deleted += segments_.begin()->second.size;
    ++r.segments_deleted;
    drop_first_segment();
  }
  return r;
}

Log::RetentionResult Log::enforce_retention(const RetentionLimits& limits, int64_t now_ms,
                                            int64_t high_watermark) {
  RetentionResult total;
  if (closed_) return total;
  auto add = [&total](const RetentionResult& r) {
    total.segments_deleted += r.segments_deleted;
    total.bytes_deleted += r.bytes_deleted;
  };
  // Wholly below the log start offset: the next segment starts at or below it.
  add(delete_oldest_while(high_watermark, [this](const SegmentMeta& s, bool last) {
    if (last) return false;
    return std::next(segments_.find(s.base_offset))->first <= log_start_offset_;
  }));
  const int64_t size = size_bytes();
  if (limits.retention_bytes >= 0 && size >= limits.retention_bytes) {
    int64_t excess = size - limits.retention_bytes;
    add(delete_oldest_while(high_watermark, [&excess](const SegmentMeta& s, bool) {
      if (excess - s.size < 0) return false;
      excess -= s.size;
      return true;
    }));
  }
  if (limits.retention_ms >= 0) {
    add(delete_oldest_while(high_watermark, [&](const SegmentMeta& s, bool) {
      return now_ms - largest_timestamp(s) > limits.retention_ms;
    }));
  }
  if (total.segments_deleted > 0) {
    log::info("{}: retention deleted {} segments ({} bytes); log start offset {}", dir_.string(),
              total.segments_deleted, total.bytes_deleted, log_start_offset_);
  }
  return total;
}

}  // namespace kaffa::storage
