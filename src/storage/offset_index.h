// OffsetIndex: the sparse offset -> file position index of one segment, `<base offset>.index`.
//
// On-disk format (Kafka's): a flat array of 8-byte entries, no header, no padding, big-endian:
//
//   @0 relativeOffset  int32   offset - segment base offset, of the LAST record of a batch
//   @4 position        int32   byte position in the .log file of the START of that batch
//
// One entry is written when more than index.interval.bytes of log data were appended since the
// previous entry (the first batch of a segment is never indexed: position 0 is implied). Both
// columns are strictly increasing. Because an entry names the last offset of the batch found at
// its position, the batch holding any offset o is found by taking the last entry with
// relativeOffset <= o - base and scanning batch headers forward from its position; and an entry
// can be verified against the log by reading the one batch header it points at.
//
// Crash behaviour: entries are appended with pwrite (the active segment's written behind, see
// index_file.h, so a process crash may lose its newest ones) and reach the disk with the
// segment's flush (only for segments that stopped being active; the active segment's index is
// rebuilt or revalidated at open, and one short of entries at its end is valid). At open an index
// is accepted only if its size is a multiple of 8, both columns strictly increase, every position
// lies inside the .log, every offset inside the segment and its last entry matches the batch header
// it points at; otherwise it is rebuilt from the log. The file is never preallocated, so
// `segment.index.bytes` only bounds the number of entries (a full index rolls the segment).
//
// Memory: see index_file.h (pread-only; a bounded warm tail for the active segment).
// Threading: owner thread of the Log.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>

#include "storage/index_file.h"

namespace kaffa::storage {

struct OffsetPosition {
  int64_t offset = 0;    // absolute offset of the last record of the batch at `position`
  int64_t position = 0;  // byte position of the batch in the .log file
};

class OffsetIndex {
 public:
  static constexpr size_t kEntrySize = 8;

  OffsetIndex(std::shared_ptr<SegmentFile> file, int64_t base_offset, int64_t entries, bool active)
      : base_offset_(base_offset), file_(std::move(file), kEntrySize, entries, active) {}

  // The last entry with offset <= target; nullopt when there is none (start at position 0).
  std::optional<OffsetPosition> lookup(int64_t target) const;
  // The last entry with position <= target; nullopt when there is none.
  std::optional<OffsetPosition> lookup_by_position(int64_t target) const;
  std::optional<OffsetPosition> last_entry() const;

  bool append(int64_t offset, int64_t position, std::string* error);

  int64_t entries() const { return file_.entries(); }
  // Active index only (see index_file.h): entries are written behind.
  bool write_pending(std::string* error) { return file_.write_pending(error); }
  std::shared_ptr<SegmentFile> written_file(std::string* error) {
    return file_.written_file(error);
  }

  // Checks a whole index file as described above (except the header check, which needs the log:
  // the caller verifies last_entry()). offset_limit is the first offset past the segment
  // (INT64_MAX when unknown). On success sets *entries.
  static bool validate(const SegmentFile& file, int64_t base_offset, int64_t log_size,
                       int64_t offset_limit, int64_t* entries, std::string* why);

 private:
  OffsetPosition decode(const uint8_t* e) const;

  int64_t base_offset_;
  IndexFile file_;
};

}  // namespace kaffa::storage
