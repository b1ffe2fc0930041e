// TxnIndex: the aborted transactions of one partition, for read_committed fetches (Kafka's
// transaction index, one file per partition instead of one per segment).
//
// File `aborted.txnindex` in the partition directory: entries of 34 bytes, Kafka's AbortedTxn,
// big-endian, in the order of their markers (so by last_offset):
//
//   version             int16  0
//   producer_id         int64
//   first_offset        int64  first offset of the transaction in this partition
//   last_offset         int64  offset of its ABORT marker
//   last_stable_offset  int64  the partition's last stable offset once the marker was written
//                              (the first offset of the earliest other undecided transaction,
//                              else last_offset + 1)
//
// The file is derived from the log, like the producer state that writes it: an entry is appended
// (open, write, close: no descriptor held) when an abort marker is appended or replayed. No
// checksum; opening cuts the file at the first entry that is incomplete, of another version, not
// in order (last_offset decreasing or first_offset > last_offset) — a torn tail. Durability: the
// producer state syncs it (sync_if_dirty) before writing a snapshot that relies on it; entries
// above the snapshot a recovery starts from are dropped (truncate_from) and re-created by the
// replay. Truncation and log start moves rewrite it through a temporary file and a rename.
//
// Memory: every entry (34 bytes) is kept, sorted by last_offset; aborts are rare.
// Threading: owned by the partition's owner thread. No locks.
#pragma once

#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

namespace kaffa::storage {

struct AbortedTxn {
  int64_t producer_id = -1;
  int64_t first_offset = -1;
  int64_t last_offset = -1;
  int64_t last_stable_offset = -1;
  bool operator==(const AbortedTxn&) const = default;
};

class TxnIndex {
 public:
  static constexpr size_t kEntrySize = 34;
  static constexpr const char* kFileName = "aborted.txnindex";

  explicit TxnIndex(std::filesystem::path dir) : path_(std::move(dir) / kFileName) {}

  // Reads the file (a missing one is empty; a damaged tail is cut off). False with *error on an
  // I/O error (the index is then empty).
  bool load(std::string* error);
  // Appends an entry whose last_offset is above every other's. The entry is kept in memory even
  // when the write fails (false, *error): the next rewrite or sync_if_dirty writes it.
  bool append(const AbortedTxn& txn, std::string* error);
  // Drops entries with last_offset >= offset (truncation, recovery of a replayed range).
  bool truncate_from(int64_t offset, std::string* error);
  // Drops entries with last_offset < log_start (their records are gone).
  bool prune_below(int64_t log_start, std::string* error);
  // Drops the entries whose marker (last_offset) is one of `marker_offsets` (sorted): the log
  // cleaner removed those markers, and their transactions' records went before them.
  bool erase_markers(const std::vector<int64_t>& marker_offsets, std::string* error);
  // fdatasync of the file when entries were written since the last sync.
  bool sync_if_dirty(std::string* error);

  // Entries with last_offset >= fetch_offset and first_offset < upper_bound, in marker order
  // (Kafka's collectAbortedTxns): the aborted transactions a read of [fetch_offset, upper_bound)
  // may see records of.
  std::vector<AbortedTxn> collect(int64_t fetch_offset, int64_t upper_bound) const;
  const std::vector<AbortedTxn>& entries() const { return entries_; }
  const std::filesystem::path& path() const { return path_; }
  // The partition's directory is now `dir` (a log moved to another log directory): the file there
  // is written in full at the next write or sync_if_dirty.
  void relocate(const std::filesystem::path& dir) {
    path_ = dir / kFileName;
    stale_ = true;
  }

 private:
  bool rewrite(std::string* error);

  std::filesystem::path path_;
  std::vector<AbortedTxn> entries_;  // by last_offset
  bool dirty_ = false;               // written (or due to be) since the last fdatasync
  bool stale_ = false;               // the file lacks entries: rewrite at the next chance
};

}  // namespace kaffa::storage
