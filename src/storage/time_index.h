// TimeIndex: the sparse timestamp -> offset index of one segment, `<base offset>.timeindex`.
//
// On-disk format (Kafka's): a flat array of 12-byte entries, no header, big-endian:
//
//   @0 timestamp       int64   the largest batch max timestamp seen in the segment so far
//   @8 relativeOffset  int32   offset - segment base offset of the last record of the batch
//                              that carried that timestamp
//
// An entry is considered together with each OffsetIndex entry (every index.interval.bytes) and
// written only if its timestamp is larger than the previous entry's, so timestamps strictly
// increase and offsets never decrease. When a segment stops being active a final entry with the
// segment's largest timestamp is added (if larger), so the last entry of an inactive segment is
// its max timestamp: the log finds the first segment that may hold a timestamp without reading
// the segment. To find the first batch with max timestamp >= t: take the last entry with
// timestamp < t (entries with timestamp >= t are reached by scanning forward), look up its offset
// in the OffsetIndex and scan batch headers from there.
//
// Crash behaviour and validation: as OffsetIndex (size a multiple of 12, timestamps strictly
// increasing, offsets non-decreasing and inside the segment; else rebuilt from the log).
// Threading: owner thread of the Log.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>

#include "storage/index_file.h"

namespace kaffa::storage {

struct TimestampOffset {
  int64_t timestamp = -1;
  int64_t offset = -1;
};

class TimeIndex {
 public:
  static constexpr size_t kEntrySize = 12;

  TimeIndex(std::shared_ptr<SegmentFile> file, int64_t base_offset, int64_t entries, bool active)
      : base_offset_(base_offset), file_(std::move(file), kEntrySize, entries, active) {}

  // The last entry with timestamp < target; nullopt when none.
  std::optional<TimestampOffset> lookup_before(int64_t target) const;
  std::optional<TimestampOffset> last_entry() const;

  // Appends unless timestamp <= the last entry's timestamp. True if nothing failed.
  bool maybe_append(int64_t timestamp, int64_t offset, std::string* error);

  int64_t entries() const { return file_.entries(); }
  // Active index only (see index_file.h): entries are written behind.
  bool write_pending(std::string* error) { return file_.write_pending(error); }
  std::shared_ptr<SegmentFile> written_file(std::string* error) {
    return file_.written_file(error);
  }

  static bool validate(const SegmentFile& file, int64_t base_offset, int64_t offset_limit,
                       int64_t* entries, std::string* why);

 private:
  TimestampOffset decode(const uint8_t* e) const;

  int64_t base_offset_;
  IndexFile file_;
};

}  // namespace kaffa::storage
