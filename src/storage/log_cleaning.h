// What a Log and its log cleaner exchange (log_cleaner.h does the work, log_swap.cc the swap).
//
// Hand-off, following the Log's one-owner rule:
//   1. owner thread:   Log::cleaning_view() — the non-active segments, the active segment's base
//                      and the log's generation (bumped by every segment deletion, truncation and
//                      log start offset change).
//   2. cleaner thread: clean_log() reads those segments through its own descriptors (they are
//                      immutable once rolled) and writes `<base>.log.cleaned`, `.index.cleaned`,
//                      `.timeindex.cleaned`, fsynced.
//   3. owner thread:   Log::install_cleaned() swaps them in, or discards them when the generation
//                      or a segment changed meanwhile (SwapOutcome::stale).
//
// Swap protocol (Kafka's .cleaned -> .swap -> final), per output segment (named by the base of
// the first segment it replaces), oldest first:
//   1. rename .index.cleaned and .timeindex.cleaned to .swap, then .log.cleaned to .log.swap (the
//      commit point of that output), fsync the directory;
//   2. delete the files of the other segments of its group;
//   3. rename the index .swap files, and last .log.swap, over the first segment's files (rename
//      replaces them atomically), fsync the directory.
// Recovery (Log::open, complete_interrupted_swaps): every `.cleaned` file is deleted (not
// committed); a `<base>.log.swap` is committed: segments with a base in (base, last offset in
// the .swap] are deleted (step 2), the `.index.swap` / `.timeindex.swap` of that base and then
// the `.log.swap` replace the segment's files; an index `.swap` without its `.log.swap` is
// deleted (not committed). Committing oldest first keeps every crash state a prefix of cleaned
// segments followed by uncleaned ones, which loses no live record. An output always ends at its
// group's last offset (the group's last batch is kept, emptied if none of its records stay), so
// that step 2 at recovery deletes the whole group: an old segment of the group left behind would
// hold records the cleaning removed, and those whose key's tombstone it dropped would bring the
// key back. Other files (e.g. producer `*.snapshot`) are never touched.
#pragma once

#include <cstdint>
#include <filesystem>
#include <string>
#include <string_view>
#include <vector>

#include "storage/segment.h"
#include "storage/txn_index.h"

namespace kaffa::storage {

inline constexpr std::string_view kCleanedSuffix = ".cleaned";
inline constexpr std::string_view kSwapSuffix = ".swap";

struct CleaningView {
  std::filesystem::path dir;
  uint64_t generation = 0;
  int64_t log_start_offset = 0;
  int64_t active_base = 0;  // first offset of the active segment (never cleaned)
  int32_t index_interval_bytes = 4096;
  int32_t segment_bytes = 1073741824;  // bounds a group of segments merged into one
  int32_t segment_index_bytes = 10485760;
  std::vector<SegmentMeta> segments;  // every non-active segment, oldest first
  // The partition's aborted transactions (its TxnIndex; the owner fills it in, a Log does not
  // know them): their records never enter the key map and are removed by the cleaning.
  std::vector<AbortedTxn> aborted;
};

// One output segment replacing a group of consecutive segments (usually one; several small
// cleaned segments are merged up to segment.bytes, as Kafka's groupSegmentsBySize).
struct CleanedSegment {
  std::vector<SegmentMeta> before;  // the replaced segments as in the view (checked at the swap)
  SegmentMeta after;  // the .cleaned files: base of the first, next offset of the last
};

struct CleanedSegments {
  uint64_t generation = 0;
  std::vector<CleanedSegment> segments;  // oldest first
  // Offsets of the abort markers the cleaning removed, ascending: once swapped in, the owner
  // drops their entries from the partition's aborted transaction index.
  std::vector<int64_t> removed_abort_markers;
};

enum class SwapOutcome { swapped, stale, failed };

// Recovery of one partition directory before its segments are loaded (see above). False with
// *error on an I/O error.
bool complete_interrupted_swaps(const std::filesystem::path& dir, std::string* error);
// Removes the `.cleaned` files of these segments (a discarded or failed cleaning).
void remove_cleaned_files(const std::filesystem::path& dir, const CleanedSegments& cleaned);

}  // namespace kaffa::storage
