#include "storage/segment.h"

#include <algorithm>
#include <charconv>
#include <cstdio>

namespace kaffa::storage {

std::filesystem::path segment_path(const std::filesystem::path& dir, int64_t base_offset,
                                   std::string_view suffix) {
  char name[32];
  std::snprintf(name, sizeof name, "%020lld", static_cast<long long>(base_offset));
  return dir / (std::string(name) + std::string(suffix));
}

bool parse_segment_name(std::string_view name, int64_t* base_offset, std::string* suffix) {
  constexpr size_t kDigits = 20;
  if (name.size() <= kDigits) return false;
  for (size_t i = 0; i < kDigits; ++i) {
    if (name[i] < '0' || name[i] > '9') return false;
  }
  const auto rest = name.substr(kDigits);
  if (rest != kLogSuffix && rest != kIndexSuffix && rest != kTimeIndexSuffix) return false;
  int64_t v = 0;
  const auto r = std::from_chars(name.data(), name.data() + kDigits, v);
  if (r.ec != std::errc() || v < 0) return false;
  *base_offset = v;
  *suffix = std::string(rest);
  return true;
}

std::unique_ptr<SegmentWriter> SegmentWriter::open(const std::filesystem::path& dir,
                                                   const SegmentMeta& meta,
                                                   int32_t index_interval_bytes, bool reset_indexes,
                                                   std::string* error, std::string_view name_tail) {
  using Mode = SegmentFile::Mode;
  auto path = [&](std::string_view suffix) {
    return segment_path(dir, meta.base_offset, std::string(suffix) + std::string(name_tail));
  };
  auto log = SegmentFile::open(path(kLogSuffix), Mode::create, error);
  auto index = SegmentFile::open(path(kIndexSuffix), Mode::create, error);
  auto time = SegmentFile::open(path(kTimeIndexSuffix), Mode::create, error);
  if (!log || !index || !time) return nullptr;
  if (reset_indexes && (!index->truncate(0, error) || !time->truncate(0, error))) return nullptr;
  const int64_t entries = reset_indexes ? 0 : meta.index_entries;
  const int64_t time_entries = reset_indexes ? 0 : meta.time_index_entries;
  return std::unique_ptr<SegmentWriter>(new SegmentWriter(
      std::move(log), OffsetIndex(std::move(index), meta.base_offset, entries, true),
      TimeIndex(std::move(time), meta.base_offset, time_entries, true), index_interval_bytes));
}

bool SegmentWriter::index_batch(SegmentMeta& meta, const BatchInfo& batch, std::string* error) {
  if (batch.max_timestamp > meta.max_timestamp) {
    meta.max_timestamp = batch.max_timestamp;
    meta.offset_of_max_timestamp = batch.last_offset;
  }
  bool ok = true;
  if (bytes_since_index_entry_ > interval_) {
    ok = index_.append(batch.last_offset, batch.position, error);
    if (ok && meta.max_timestamp >= 0) {
      ok = time_index_.maybe_append(meta.max_timestamp, meta.offset_of_max_timestamp, error);
    }
    bytes_since_index_entry_ = 0;
  }
  bytes_since_index_entry_ += batch.size;
  meta.size = batch.position + batch.size;
  meta.next_offset = batch.last_offset + 1;
  meta.index_entries = index_.entries();
  meta.time_index_entries = time_index_.entries();
  return ok;
}

void SegmentWriter::reserve_for(int64_t end, int64_t limit) {
  constexpr int64_t kMinAhead = int64_t{64} << 10;
  constexpr int64_t kMaxAhead = int64_t{64} << 20;
  if (!reserving_ || end <= reserved_end_ || end >= limit) return;
  const int64_t target = std::min(limit, end + std::clamp(end, kMinAhead, kMaxAhead));
  const int64_t from = std::max(reserved_end_, int64_t{0});
  if (!log_->reserve(from, target - from)) {
    reserving_ = false;  // ENOSPC or EOPNOTSUPP: the writes allocate as they go
    return;
  }
  reserved_end_ = target;
}

bool SegmentWriter::release_reserved(int64_t size, std::string* error) {
  reserved_end_ = std::min(reserved_end_, size);
  return log_->truncate(size, error);
}

std::vector<std::shared_ptr<const SegmentFile>> SegmentWriter::files_to_sync(std::string* error) {
  std::vector<std::shared_ptr<const SegmentFile>> files{log_};
  if (auto f = index_.written_file(error)) files.push_back(std::move(f));
  if (auto f = time_index_.written_file(error)) files.push_back(std::move(f));
  return files;
}

bool SegmentWriter::seal(SegmentMeta& meta, std::string* error) {
  bool ok = true;
  if (meta.max_timestamp >= 0) {
    ok = time_index_.maybe_append(meta.max_timestamp, meta.offset_of_max_timestamp, error);
  }
  meta.time_index_entries = time_index_.entries();
  return ok;
}

}  // namespace kaffa::storage
