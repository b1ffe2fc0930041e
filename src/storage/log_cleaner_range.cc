// The log cleaner's choice of range (log_cleaner.h): what a view offers to clean, without I/O.
#include "storage/log_cleaner.h"

namespace kaffa::storage {

DirtyRange dirty_range(const CleaningView& view, int64_t checkpoint, int64_t high_watermark,
                       int64_t now_ms, const CleanerTopicConfig& config) {
  DirtyRange r;
  int64_t first_dirty = checkpoint < view.log_start_offset ? view.log_start_offset : checkpoint;
  if (first_dirty > view.active_base) first_dirty = view.log_start_offset;  // truncated log
  int64_t uncleanable = view.active_base;
  for (const auto& s : view.segments) {
    if (s.base_offset >= uncleanable) break;
    const bool too_new =
        config.min_compaction_lag_ms > 0 &&
        (s.max_timestamp < 0 || now_ms - s.max_timestamp < config.min_compaction_lag_ms);
    if (s.next_offset > high_watermark || (s.next_offset > first_dirty && too_new)) {
      uncleanable = s.base_offset;
      break;
    }
  }
  r.first_dirty = std::min(first_dirty, uncleanable);
  r.first_uncleanable = uncleanable;
  for (const auto& s : view.segments) {
    if (s.next_offset <= r.first_dirty) {
      r.clean_bytes += s.size;
    } else if (s.base_offset < uncleanable) {
      if (r.dirty_bytes == 0 && config.max_compaction_lag_ms < INT64_MAX && s.max_timestamp >= 0 &&
          now_ms - s.max_timestamp > config.max_compaction_lag_ms) {
        r.max_lag_due = true;
      }
      r.dirty_bytes += s.size;
    }
  }
  if (r.dirty_bytes > 0) {
    r.ratio =
        static_cast<double>(r.dirty_bytes) / static_cast<double>(r.clean_bytes + r.dirty_bytes);
  }
  return r;
}

}  // namespace kaffa::storage
