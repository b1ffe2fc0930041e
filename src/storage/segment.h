// Segments: the files of one slice of a partition's log, and the writer of the active one.
//
// Naming: `<dir>/<base offset as 20 zero-padded digits><suffix>`, suffix one of
//   .log        record batches (RecordBatch v2, see record/batch.h), byte for byte as appended,
//               one after another from position 0, no header, no padding, no trailer. The batch
//               baseOffset and partitionLeaderEpoch fields hold the values the broker assigned;
//               everything else is exactly what the producer sent (CRC still valid). Offsets
//               strictly increase through the file; the segment's base offset (its name) is <=
//               the first batch's base offset and > every offset of the previous segment.
//   .index      OffsetIndex, see offset_index.h
//   .timeindex  TimeIndex, see time_index.h
//
// SegmentWriter writes all three for the active segment (and rebuilds the two indexes of any
// segment during recovery). It holds one descriptor, the .log's: index entries are written
// behind (index_file.h). It follows Kafka's LogSegment.append: index entries are added when
// more than index.interval.bytes were written since the last entry.
//
// Threading: owner thread of the Log.
#pragma once

#include <cstdint>
#include <filesystem>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "storage/offset_index.h"
#include "storage/segment_file.h"
#include "storage/segment_scan.h"
#include "storage/time_index.h"

namespace kaffa::storage {

inline constexpr std::string_view kLogSuffix = ".log";
inline constexpr std::string_view kIndexSuffix = ".index";
inline constexpr std::string_view kTimeIndexSuffix = ".timeindex";

std::filesystem::path segment_path(const std::filesystem::path& dir, int64_t base_offset,
                                   std::string_view suffix);
// "00000000000000000042.log" -> 42, ".log". False if the name is not a segment file name.
bool parse_segment_name(std::string_view name, int64_t* base_offset, std::string* suffix);

// What the Log remembers about each segment (about 64 bytes, the only per-segment memory).
struct SegmentMeta {
  int64_t base_offset = 0;
  int64_t next_offset = 0;  // one past the last offset; == base_offset while empty
  int64_t size = 0;         // bytes in the .log
  int64_t max_timestamp = -1;
  int64_t offset_of_max_timestamp = -1;  // last offset of the batch carrying max_timestamp
  int64_t index_entries = 0;
  int64_t time_index_entries = 0;
};

class SegmentWriter {
 public:
  // Opens (creating when missing) the three files of `meta`'s segment for writing. With
  // reset_indexes the index files are emptied (to be rebuilt through index_batch); otherwise
  // meta.index_entries / time_index_entries must describe valid existing files.
  // `name_tail` is appended to the three file names (the log cleaner writes `.cleaned` files).
  static std::unique_ptr<SegmentWriter> open(const std::filesystem::path& dir,
                                             const SegmentMeta& meta, int32_t index_interval_bytes,
                                             bool reset_indexes, std::string* error,
                                             std::string_view name_tail = {});

  // Accounts one batch written at `position` into `meta` (size, next offset, max timestamp) and
  // adds index entries as due. False only if an index write failed (the index then just stays
  // sparser: entries are never partially counted).
  bool index_batch(SegmentMeta& meta, const BatchInfo& batch, std::string* error);
  // The segment stops being active: records its max timestamp as the last time index entry.
  bool seal(SegmentMeta& meta, std::string* error);

  const std::shared_ptr<SegmentFile>& log() const { return log_; }
  // The .log and both indexes, pending index entries written first (index_file.h), for a sync.
  // An index that cannot be written or opened is left out (it is rebuilt or revalidated at open)
  // and named in *error.
  std::vector<std::shared_ptr<const SegmentFile>> files_to_sync(std::string* error);
  OffsetIndex& index() { return index_; }
  TimeIndex& time_index() { return time_index_; }
  const OffsetIndex& index() const { return index_; }
  const TimeIndex& time_index() const { return time_index_; }

  // Disk blocks for the .log ahead of the writes: before a write ending at `end`, blocks are
  // reserved (SegmentFile::reserve: the size, and so what readers and recovery see, does not
  // change) up to as much again as the segment will hold, at least 64 KiB and at most 64 MiB
  // ahead, never past `limit` (segment.bytes). A buffered write into reserved blocks skips
  // ext4's per-block delayed allocation, which took more CPU than the copy itself
  // (docs/PERFORMANCE.md). The reservation is given back by release_reserved() (a roll, close)
  // and by reopening (open() gives back what a crash left). A file system that refuses stops
  // the reserving for this segment; nothing else changes.
  void reserve_for(int64_t end, int64_t limit);
  // Truncates the .log to `size`, which also frees every block reserved past it.
  bool release_reserved(int64_t size, std::string* error);

  int64_t first_append_ms = -1;  // wall time of the first append (for segment.ms), -1 if empty

 private:
  SegmentWriter(std::shared_ptr<SegmentFile> log, OffsetIndex index, TimeIndex time_index,
                int32_t interval)
      : log_(std::move(log)),
        index_(std::move(index)),
        time_index_(std::move(time_index)),
        interval_(interval) {}

  std::shared_ptr<SegmentFile> log_;
  OffsetIndex index_;
  TimeIndex time_index_;
  int32_t interval_;
  int64_t bytes_since_index_entry_ = 0;
  int64_t reserved_end_ = 0;  // blocks of the .log are reserved below this offset
  bool reserving_ = true;     // false once the file system refused
};

}  // namespace kaffa::storage
