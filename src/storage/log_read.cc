// Log: fetch reads (file ranges located with the sparse index and batch header hops) and
// timestamp lookups (ListOffsets).
#include <algorithm>

#include "base/log.h"
#include "bytes/buffer_pool.h"
#include "record/batch.h"
#include "record/wire.h"
#include "storage/log.h"
#include "storage/segment_scan.h"

namespace kaffa::storage {

namespace {

// Zigzag varint of at most max_bytes bytes (5 for varint, 10 for varlong).
bool read_varint(const uint8_t*& p, const uint8_t* end, int max_bytes, int64_t* out) {
  uint64_t v = 0;
  for (int i = 0; i < max_bytes; ++i) {
    if (p == end) return false;
    const uint8_t b = *p++;
    v |= static_cast<uint64_t>(b & 0x7f) << (7 * i);
    if ((b & 0x80) == 0) {
      *out = static_cast<int64_t>(v >> 1) ^ -static_cast<int64_t>(v & 1);
      return true;
    }
  }
  return false;
}

constexpr int16_t kCompressionMask = 0x07;
constexpr int16_t kLogAppendTimeBit = 0x08;

}  // namespace

std::shared_ptr<const SegmentFile> Log::log_file(const SegmentMeta& s, std::string* error) const {
  if (active_ && s.base_offset == segments_.rbegin()->first) return active_->log();
  return cache_.get(segment_path(dir_, s.base_offset, kLogSuffix), error);
}

std::optional<OffsetIndex> Log::offset_index(const SegmentMeta& s, std::string* error) const {
  auto f = cache_.get(segment_path(dir_, s.base_offset, kIndexSuffix), error);
  if (!f) return std::nullopt;
  return OffsetIndex(std::move(f), s.base_offset, s.index_entries, false);
}

std::optional<TimeIndex> Log::time_index(const SegmentMeta& s, std::string* error) const {
  auto f = cache_.get(segment_path(dir_, s.base_offset, kTimeIndexSuffix), error);
  if (!f) return std::nullopt;
  return TimeIndex(std::move(f), s.base_offset, s.time_index_entries, false);
}

int64_t Log::locate(const SegmentMeta& s, const SegmentFile& log, int64_t offset) const {
  const bool is_active = active_ && s.base_offset == segments_.rbegin()->first;
  std::optional<OffsetPosition> entry;
  std::string ignored;
  if (is_active) {
    entry = active_->index().lookup(offset);
  } else if (auto index = offset_index(s, &ignored)) {
    entry = index->lookup(offset);
  }
  int64_t pos = entry ? entry->position : 0;
  bool check_entry = entry.has_value();
  while (pos < s.size) {
    record::BatchHeader h;
    if (!read_batch_header(log, pos, &h) || !header_sane(h, pos, s.size)) {
      if (check_entry) {  // a bad index entry: fall back to a scan from the segment start
        log::warn("{}: index entry of segment {} is wrong", dir_.string(), s.base_offset);
        pos = 0;
        check_entry = false;
        continue;
      }
      return -2;
    }
    if (check_entry && h.last_offset() != entry->offset) {
      log::warn("{}: index entry of segment {} is wrong", dir_.string(), s.base_offset);
      pos = 0;
      check_entry = false;
      continue;
    }
    check_entry = false;
    if (h.last_offset() >= offset) return pos;
    pos += static_cast<int64_t>(h.total_size());
  }
  return -1;
}

Log::ReadResult Log::read(int64_t offset, int64_t max_bytes, int64_t max_offset,
                          bool min_one_batch) const {
  ReadResult r;
  if (segments_.empty() || offset < log_start_offset() || offset > log_end_offset()) {
    r.out_of_range = true;
    return r;
  }
  int64_t remaining = max_bytes;
  bool stop = false;
  for (auto it = std::prev(segments_.upper_bound(offset)); it != segments_.end() && !stop; ++it) {
    const SegmentMeta& s = it->second;
    if (offset >= s.next_offset || s.size == 0) continue;
    auto log = log_file(s, &r.error);
    if (!log) break;
    const int64_t start = locate(s, *log, offset);
    if (start == -2) {
      r.error = "cannot read batch headers of " + log->path().string();
      break;
    }
    if (start < 0) continue;
    int64_t end = start;
    int64_t next = s.next_offset;  // the offset after what [start, end) holds
    if (s.next_offset <= max_offset && s.size - start <= remaining) {
      end = s.size;  // the rest of the segment qualifies: no header reads at all
    } else {
      // Jump with the index as far as it safely can: every batch before an entry's position has
      // a last offset below the entry's offset.
      const bool is_active = active_ && s.base_offset == segments_.rbegin()->first;
      std::optional<OffsetIndex> holder;
      const OffsetIndex* index = is_active ? &active_->index() : nullptr;
      if (index == nullptr && (holder = offset_index(s, &r.error))) index = &*holder;
      if (index != nullptr) {
        auto e = index->lookup_by_position(start + std::max<int64_t>(remaining, 0));
        if (e && e->offset > max_offset) e = index->lookup(max_offset);
        record::BatchHeader h;
        if (e && e->position > start && e->position - start <= remaining &&
            read_batch_header(*log, e->position, &h) && h.last_offset() == e->offset) {
          end = e->position;
        }
      }
      while (end < s.size) {
        record::BatchHeader h;
        if (!read_batch_header(*log, end, &h) || !header_sane(h, end, s.size)) {
          r.error = "bad batch header in " + log->path().string();
          stop = true;
          break;
        }
        const auto total = static_cast<int64_t>(h.total_size());
        next = h.base_offset;
        if (h.last_offset() >= max_offset) {
          stop = true;
          break;
        }
        if (end - start + total > remaining) {
          if (min_one_batch && r.slices.empty() && end == start) {
            end += total;
            next = h.last_offset() + 1;
          }
          stop = true;
          break;
        }
        end += total;
        next = s.next_offset;
      }
    }
    if (end > start) {
      r.slices.push_back(FileSlice{log, log->fd(), start, end - start});
      r.next_offset = next;
      r.bytes += end - start;
      remaining -= end - start;
    }
    if (remaining <= 0) break;
    offset = s.next_offset;
  }
  return r;
}

std::optional<std::pair<int64_t, int64_t>> Log::offset_for_timestamp(int64_t ts) const {
  std::string error;
  for (const auto& [base, s] : segments_) {
    if (s.size == 0 || s.max_timestamp < ts || s.next_offset <= log_start_offset_) continue;
    auto log = log_file(s, &error);
    if (!log) return std::nullopt;
    const bool is_active = active_ && base == segments_.rbegin()->first;
    int64_t pos = 0;
    std::optional<TimestampOffset> te;
    if (is_active) {
      te = active_->time_index().lookup_before(ts);
    } else if (auto ti = time_index(s, &error)) {
      te = ti->lookup_before(ts);
    }
    if (te) {
      if (const int64_t p = locate(s, *log, te->offset); p >= 0) pos = p;
    }
    for (; pos < s.size;) {
      record::BatchHeader h;
      if (!read_batch_header(*log, pos, &h) || !header_sane(h, pos, s.size)) break;
      // Records below the log start offset are not visible (Kafka: startingOffset).
      if (h.max_timestamp >= ts && h.last_offset() >= log_start_offset_) {
        const int64_t first = std::max(h.base_offset, log_start_offset_);
        if ((h.attributes & (kCompressionMask | kLogAppendTimeBit)) != 0) {
          return std::make_pair(first, h.max_timestamp);
        }
        // Uncompressed, CreateTime: the first record with timestamp >= ts.
        auto buf = bytes::Buffer::allocate(h.total_size());
        if (log->read_at(buf.data(), h.total_size(), pos) != static_cast<ssize_t>(h.total_size())) {
          return std::make_pair(first, h.max_timestamp);
        }
        const uint8_t* p = buf.data() + record::kBatchHeaderSize;
        const uint8_t* end = buf.data() + h.total_size();
        for (int32_t i = 0; i < h.records_count; ++i) {
          int64_t length, ts_delta, offset_delta;
          if (!read_varint(p, end, 5, &length) || length < 1 || length > end - p) break;
          const uint8_t* next = p + length;
          ++p;  // attributes
          if (!read_varint(p, next, 10, &ts_delta) || !read_varint(p, next, 5, &offset_delta)) {
            break;
          }
          // Wrapping (Java) arithmetic: the deltas are a producer's, never range-checked.
          const int64_t timestamp = record::wire::wrapping_add(h.base_timestamp, ts_delta);
          const int64_t offset = record::wire::wrapping_add(h.base_offset, offset_delta);
          if (timestamp >= ts && offset >= first) return std::make_pair(offset, timestamp);
          p = next;
        }
        return std::make_pair(first, h.max_timestamp);
      }
      pos += static_cast<int64_t>(h.total_size());
    }
  }
  return std::nullopt;
}

std::pair<int64_t, int64_t> Log::max_timestamp() const {
  const SegmentMeta* best = nullptr;
  for (const auto& [base, s] : segments_) {
    if (s.size > 0 && s.max_timestamp >= 0 && (!best || s.max_timestamp > best->max_timestamp)) {
      best = &s;
    }
  }
  if (best == nullptr) return {-1, -1};
  // The offset of the record carrying it: the first record of that batch with timestamp >= max.
  int64_t offset = best->offset_of_max_timestamp;
  if (const auto found = offset_for_timestamp(best->max_timestamp)) offset = found->first;
  return {best->max_timestamp, offset};
}

bool Log::scan_headers(int64_t from, const std::function<void(const record::BatchHeader&)>& fn,
                       std::string* error) const {
  return scan_whole_batches(
      from, [&fn](const record::BatchHeader& h, const uint8_t*) { fn(h); }, error);
}

bool Log::scan_whole_batches(
    int64_t from, const std::function<void(const record::BatchHeader&, const uint8_t*)>& fn,
    std::string* error) const {
  auto it = segments_.upper_bound(from);
  if (it != segments_.begin()) --it;
  bool first = true;
  for (; it != segments_.end(); ++it) {
    const SegmentMeta& s = it->second;
    if (s.next_offset <= from || s.size == 0) continue;
    auto file = log_file(s, error);
    if (!file) return false;
    int64_t start = 0;
    if (first) {
      start = locate(s, *file, from);
      if (start == -2) {
        if (error) *error = "cannot locate offset " + std::to_string(from) + " in " + dir_.string();
        return false;
      }
      if (start == -1) continue;
    }
    first = false;
    const auto scan =
        scan_batch_bytes(*file, start, s.size, [&](const BatchInfo& b, const uint8_t* p) {
          if (b.last_offset >= from) fn(b.header, p);
          return true;
        });
    if (!scan.complete) {
      if (error) *error = dir_.string() + ": " + scan.problem;
      return false;
    }
  }
  return true;
}

}  // namespace kaffa::storage
