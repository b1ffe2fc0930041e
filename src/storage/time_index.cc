#include "storage/time_index.h"

#include <limits>

#include "storage/endian.h"

namespace kaffa::storage {

namespace {
int64_t timestamp_key(const uint8_t* e) {
  return static_cast<int64_t>(be::load64(e));
}
int64_t relative_offset(const uint8_t* e) {
  return static_cast<int32_t>(be::load32(e + 8));
}
}  // namespace

TimestampOffset TimeIndex::decode(const uint8_t* e) const {
  return {timestamp_key(e), base_offset_ + relative_offset(e)};
}

std::optional<TimestampOffset> TimeIndex::lookup_before(int64_t target) const {
  if (target == std::numeric_limits<int64_t>::min()) return std::nullopt;
  uint8_t e[kEntrySize];
  if (file_.floor(target - 1, &timestamp_key, e) < 0) return std::nullopt;
  return decode(e);
}

std::optional<TimestampOffset> TimeIndex::last_entry() const {
  uint8_t e[kEntrySize];
  if (!file_.read_entry(file_.entries() - 1, e)) return std::nullopt;
  return decode(e);
}

bool TimeIndex::maybe_append(int64_t timestamp, int64_t offset, std::string* error) {
  if (const auto last = last_entry(); last && timestamp <= last->timestamp) return true;
  uint8_t e[kEntrySize];
  be::store64(e, static_cast<uint64_t>(timestamp));
  be::store32(e + 8, static_cast<uint32_t>(offset - base_offset_));
  return file_.append(e, error);
}

bool TimeIndex::validate(const SegmentFile& file, int64_t base_offset, int64_t offset_limit,
                         int64_t* entries, std::string* why) {
  const int64_t size = file.size();
  if (size < 0 || size % static_cast<int64_t>(kEntrySize) != 0) {
    *why = "size " + std::to_string(size) + " is not a multiple of 12";
    return false;
  }
  const int64_t n = size / static_cast<int64_t>(kEntrySize);
  int64_t prev_ts = std::numeric_limits<int64_t>::min(), prev_rel = -1;
  bool ok = true;
  const bool read = IndexFile::for_each(file, kEntrySize, n, [&](int64_t i, const uint8_t* e) {
    const int64_t ts = timestamp_key(e), rel = relative_offset(e);
    if ((i > 0 && ts <= prev_ts) || rel < 0 || rel < prev_rel) {
      *why = "entries not increasing";
    } else if (offset_limit != std::numeric_limits<int64_t>::max() &&
               base_offset + rel >= offset_limit) {
      *why = "entry offset beyond the segment";
    } else {
      prev_ts = ts;
      prev_rel = rel;
      return true;
    }
    ok = false;
    return false;
  });
  if (!read) *why = "unreadable";
  if (!read || !ok) return false;
  *entries = n;
  return true;
}

}  // namespace kaffa::storage
