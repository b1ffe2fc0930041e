// The log cleaner's work on one log (Kafka's LogCleaner.Cleaner, our own code): choose the
// dirty range, build the key -> latest offset map over it, and rewrite the non-active segments
// into `.cleaned` files that keep only the latest record of each key. Threading and swap in
// log_cleaning.h; this file never touches the Log object, only the files of a CleaningView.
//
// Ranges (offsets):
//   [log start, first dirty)             clean: cleaned before (cleaner-offset-checkpoint)
//   [first dirty, first uncleanable)     dirty: its keys go into the map
//   [first uncleanable, ...)             never cleaned: the active segment, segments newer than
//                                        min.compaction.lag.ms, offsets at or above the high
//                                        watermark (always segment bases); the owner passes the
//                                        last stable offset as that bound, so that no undecided
//                                        transaction is cleaned
// When the map fills (log.cleaner.dedupe.buffer.size), the dirty range ends at the batch where
// it filled, as Kafka's does, and the next round continues from there.
//
// Retention of a record at offset o with key k in a cleaned segment:
//   - control batches (transaction markers) never enter the map. A marker stays while a batch of
//     its transaction is left before it (in offset order from the log start, a transactional
//     data batch of its producer since that producer's previous marker; an aborted one's
//     records go in the cleaning that passes them). The first cleaning that finds none stamps
//     the marker's delete horizon as for tombstones (below), and a cleaning after the horizon
//     drops its record (Kafka's CleanedTransactionMetadata rule); removed abort markers are
//     reported (CleanedSegments::removed_abort_markers) for the aborted index;
//   - records of aborted transactions (CleaningView::aborted) never enter the map and are
//     dropped, so an aborted write cannot shadow a committed value of its key;
//   - a record without a key is dropped (Kafka's rule; compacted topics refuse them on produce);
//   - o < map[k] (a later record of k exists below the dirty end) drops it;
//   - a tombstone (null value) is dropped once its batch's delete horizon has passed (KIP-534):
//     the first cleaning that keeps a tombstone rewrites its batch with the delete-horizon
//     attribute and now + delete.retention.ms in place of the base timestamp (record timestamp
//     deltas rewritten against it, so record timestamps stay); later cleanings drop the batch's
//     tombstones when now >= that horizon. Consumers that reach a tombstone within
//     delete.retention.ms of the cleaning that removed the values before it see the delete;
//   - otherwise it is kept.
// Two exceptions keep readers moving and producer state intact: the last record of the log
// before the active segment is never dropped (a fetch at the end of the cleaned range must find
// a batch), and a batch left without records that is the last batch of its producer id in the
// cleanable range is kept as an empty batch (Kafka does the same for producer state). The last
// batch of each group of segments rewritten together is kept too (log_cleaning.h); any other
// batch without records goes, also one that an earlier cleaning kept.
//
// A rewritten batch keeps its base offset, lastOffsetDelta (so the last offset and sequence
// range stay), base timestamp (unless the horizon replaces it) and max timestamp, partition
// leader epoch, attributes (plus the horizon bit) and producer id /
// epoch / base sequence; its records keep their offsets (gaps are allowed in v2) and are
// recompressed with the batch's codec. A batch whose records all stay is copied byte for byte.
//
// Threading: any thread (the cleaner's); reads only immutable segment files. The range choice
// (dirty_range) is log_cleaner_range.cc.
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <string>

#include "storage/cleaner_map.h"
#include "storage/log_cleaning.h"

namespace kaffa::storage {

struct CleanerTopicConfig {
  double min_cleanable_dirty_ratio = 0.5;
  int64_t delete_retention_ms = 86400000;
  int64_t min_compaction_lag_ms = 0;
  int64_t max_compaction_lag_ms = INT64_MAX;
};

// What a log offers to clean, computed from a view without I/O.
struct DirtyRange {
  int64_t first_dirty = 0;
  int64_t first_uncleanable = 0;
  int64_t clean_bytes = 0;   // segments wholly below first_dirty
  int64_t dirty_bytes = 0;   // segments from first_dirty's to first_uncleanable
  double ratio = 0;          // dirty / (clean + dirty), 0 when nothing is dirty
  bool max_lag_due = false;  // a dirty segment waited longer than max.compaction.lag.ms
  bool cleanable(const CleanerTopicConfig& c) const {
    return dirty_bytes > 0 && (ratio >= c.min_cleanable_dirty_ratio || max_lag_due);
  }
};

// `checkpoint` is the cleaner-offset-checkpoint entry (-1 when none); it is clamped to the log
// start, and reset to it when beyond the log end (the log was truncated or recreated).
DirtyRange dirty_range(const CleaningView& view, int64_t checkpoint, int64_t high_watermark,
                       int64_t now_ms, const CleanerTopicConfig& config);

struct CleanStats {
  int64_t bytes_read = 0;
  int64_t bytes_written = 0;
  int64_t records_read = 0;
  int64_t records_removed = 0;
  int64_t segments = 0;
};

struct CleanOutcome {
  enum class Status { cleaned, nothing_to_do, aborted, failed } status = Status::failed;
  std::string error;
  int64_t cleaned_up_to = 0;  // the new first dirty offset
  CleanedSegments cleaned;    // files written and fsynced, to be installed on the owner thread
  CleanStats stats;
};

// Cleans [view start, range.first_uncleanable) as described above. `stop` is checked between
// batches (shutdown): on abort the .cleaned files are removed. `pace`, if set, is given the bytes
// of every batch read and written (log.cleaner.io.max.bytes.per.second) and may block; `stop`
// is checked after it.
using CleanerPace = std::function<void(int64_t bytes)>;
CleanOutcome clean_log(const CleaningView& view, const DirtyRange& range,
                       const CleanerTopicConfig& config, int64_t now_ms, OffsetMap& map,
                       const std::atomic<bool>& stop, const CleanerPace& pace = {});

}  // namespace kaffa::storage
