// IndexFile: the machinery shared by OffsetIndex (.index) and TimeIndex (.timeindex).
//
// An index file is a flat array of fixed-size entries sorted by a key (the formats themselves are
// described in offset_index.h and time_index.h). It is never memory-mapped: Kafka keeps one mmap
// per index file for the life of the segment, which is why its operators raise vm.max_map_count.
// Here every access is a pread into a small buffer:
//
//  - Lookups binary-search the file with pread of single entries until the range left is one
//    page (4 KiB), then read that page once and finish in memory: about log2(entries/512) + 1
//    syscalls on the page cache.
//  - The index of the active segment additionally keeps a "warm tail" in memory: the newest
//    8-16 KiB of entries. Consumers reading near the log end and the append path hit only this.
//    This is the only per-index memory (bounded by kWarmTailMaxBytes); indexes of older segments
//    hold no memory at all between lookups.
//  - The active index holds no descriptor (a broker has thousands of active segments, and two
//    index descriptors each would triple its descriptor count). New entries go to the warm tail
//    and are written behind, with one open + pwrite + close, when the tail outgrows its bound
//    (every 1-2 thousand entries, i.e. every few MiB of log), when the writer hands the file
//    over for a sync (roll, close, cleaner) and when it is destroyed. A lookup older than the
//    warm tail opens the file for its duration. Entries lost to a process crash before being
//    written only make the index sparser at its end, which recovery accepts (offset_index.h).
//  - Entries are appended with pwrite at the end of the file (no preallocation, so there is
//    nothing to trim at close and no zero-filled tail to mistake for entries after a crash).
//
// Threading: used only by the owner thread of the Log.
#pragma once

#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "storage/segment_file.h"

namespace kaffa::storage {

inline constexpr size_t kWarmTailBytes = 8192;
inline constexpr size_t kWarmTailMaxBytes = 2 * kWarmTailBytes;

class IndexFile {
 public:
  using KeyFn = int64_t (*)(const uint8_t* entry);

  // `entries` is the number of valid entries in the file (validated by the caller). With
  // keep_warm_tail (the active segment) the newest entries are loaded into memory now, `file` is
  // released and new entries are written behind; without, `file` is held for every access.
  IndexFile(std::shared_ptr<SegmentFile> file, size_t entry_size, int64_t entries,
            bool keep_warm_tail);
  ~IndexFile();  // writes the pending entries (a failure is logged: the index is just sparser)
  IndexFile(IndexFile&& other) noexcept;
  IndexFile& operator=(IndexFile&& other) noexcept;  // writes this one's pending entries first
  IndexFile(const IndexFile&) = delete;
  IndexFile& operator=(const IndexFile&) = delete;

  int64_t entries() const { return entries_; }
  const std::filesystem::path& path() const { return path_; }

  // Writes the entries not yet in the file. On failure they are dropped (entries() goes back to
  // what the file holds) and false is returned with *error.
  bool write_pending(std::string* error);
  // write_pending(), then the file opened for the caller (to sync it); nullptr with *error.
  std::shared_ptr<SegmentFile> written_file(std::string* error);

  // Position (0-based) of the last entry whose key(entry) <= target, its bytes copied to `out`
  // (entry_size bytes); -1 when every key is above target or on an I/O error.
  // Keys must be non-decreasing in the file order.
  int64_t floor(int64_t target, KeyFn key, uint8_t* out) const;
  bool read_entry(int64_t i, uint8_t* out) const;

  bool append(const uint8_t* entry, std::string* error);

  // Streams the first `entries` entries of a file through fn (page-aligned 64 KiB reads); fn
  // returns false to stop early. False on an I/O error or short file.
  static bool for_each(const SegmentFile& file, size_t entry_size, int64_t entries,
                       const std::function<bool(int64_t, const uint8_t*)>& fn);

 private:
  void load_tail();
  // The held file, or the file opened now for writing; nullptr with *error on failure.
  std::shared_ptr<SegmentFile> writable(std::string* error) const;
  // The held file, or the file opened now (read-only, for one lookup); nullptr on failure.
  std::shared_ptr<const SegmentFile> reader() const;
  bool read_from_file(const SegmentFile& file, int64_t i, uint8_t* out) const;

  std::filesystem::path path_;
  std::shared_ptr<SegmentFile> file_;  // null when warm_ (released after loading the tail)
  size_t entry_size_ = 0;
  int64_t entries_ = 0;
  int64_t written_ = 0;  // entries in the file; entries [written_, entries_) are pending in tail_
  bool warm_ = false;
  int64_t tail_first_ = 0;     // index of the first entry held in tail_ (<= written_)
  std::vector<uint8_t> tail_;  // entries [tail_first_, entries_) when warm_
};

}  // namespace kaffa::storage
