#include "storage/offset_index.h"

#include <limits>

#include "storage/endian.h"

namespace kaffa::storage {

namespace {
int64_t relative_offset_key(const uint8_t* e) {
  return static_cast<int32_t>(be::load32(e));
}
int64_t position_key(const uint8_t* e) {
  return static_cast<int32_t>(be::load32(e + 4));
}
}  // namespace

OffsetPosition OffsetIndex::decode(const uint8_t* e) const {
  return {base_offset_ + relative_offset_key(e), position_key(e)};
}

std::optional<OffsetPosition> OffsetIndex::lookup(int64_t target) const {
  uint8_t e[kEntrySize];
  if (file_.floor(target - base_offset_, &relative_offset_key, e) < 0) return std::nullopt;
  return decode(e);
}

std::optional<OffsetPosition> OffsetIndex::lookup_by_position(int64_t target) const {
  uint8_t e[kEntrySize];
  if (file_.floor(target, &position_key, e) < 0) return std::nullopt;
  return decode(e);
}

std::optional<OffsetPosition> OffsetIndex::last_entry() const {
  uint8_t e[kEntrySize];
  if (!file_.read_entry(file_.entries() - 1, e)) return std::nullopt;
  return decode(e);
}

bool OffsetIndex::append(int64_t offset, int64_t position, std::string* error) {
  uint8_t e[kEntrySize];
  be::store32(e, static_cast<uint32_t>(offset - base_offset_));
  be::store32(e + 4, static_cast<uint32_t>(position));
  return file_.append(e, error);
}

bool OffsetIndex::validate(const SegmentFile& file, int64_t base_offset, int64_t log_size,
                           int64_t offset_limit, int64_t* entries, std::string* why) {
  const int64_t size = file.size();
  if (size < 0 || size % static_cast<int64_t>(kEntrySize) != 0) {
    *why = "size " + std::to_string(size) + " is not a multiple of 8";
    return false;
  }
  const int64_t n = size / static_cast<int64_t>(kEntrySize);
  int64_t prev_rel = -1, prev_pos = -1;
  bool ok = true;
  const bool read = IndexFile::for_each(file, kEntrySize, n, [&](int64_t, const uint8_t* e) {
    const int64_t rel = relative_offset_key(e), pos = position_key(e);
    if (rel <= prev_rel || pos <= prev_pos) {
      *why = "entries not increasing";
    } else if (pos >= log_size) {
      *why = "entry points past the log";
    } else if (offset_limit != std::numeric_limits<int64_t>::max() &&
               base_offset + rel >= offset_limit) {
      *why = "entry offset beyond the segment";
    } else {
      prev_rel = rel;
      prev_pos = pos;
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
