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
// Swap protocol (Kafka's .cleaned -> .swap -> final), per cleaned segment, oldest first:
//   rename .index.cleaned and .timeindex.cleaned to .swap, then .log.cleaned to .log.swap (the
//   commit point of that segment), fsync the directory; then rename the index .swap files, and
//   last .log.swap, over the old files (rename replaces them atomically), fsync the directory.
// Recovery (Log::open, complete_interrupted_swaps): every `.cleaned` file is deleted (its
// segment was not committed); a `<base>.log.swap` is committed: the `.index.swap` /
// `.timeindex.swap` of that base and then the `.log.swap` replace the segment's files; an index
// `.swap` without its `.log.swap` is deleted (not committed). Committing oldest first keeps every
// crash state a prefix of cleaned segments followed by uncleaned ones, which loses no live record
// and resurrects no deleted key. Other files (e.g. producer `*.snapshot`) are never touched.
#pragma once

#include <cstdint>
#include <filesystem>
#include <string>
#include <string_view>
#include <vector>

#include "storage/segment.h"

namespace kaffa::storage {

inline constexpr std::string_view kCleanedSuffix = ".cleaned";
inline constexpr std::string_view kSwapSuffix = ".swap";

struct CleaningView {
  std::filesystem::path dir;
  uint64_t generation = 0;
  int64_t log_start_offset = 0;
  int64_t active_base = 0;  // first offset of the active segment (never cleaned)
  int32_t index_interval_bytes = 4096;
  std::vector<SegmentMeta> segments;  // every non-active segment, oldest first
};

struct CleanedSegment {
  SegmentMeta before;  // as in the view (checked again at the swap)
  SegmentMeta after;   // the .cleaned files (same base and next offset)
};

struct CleanedSegments {
  uint64_t generation = 0;
  std::vector<CleanedSegment> segments;  // oldest first
};

enum class SwapOutcome { swapped, stale, failed };

// Recovery of one partition directory before its segments are loaded (see above). False with
// *error on an I/O error.
bool complete_interrupted_swaps(const std::filesystem::path& dir, std::string* error);
// Removes the `.cleaned` files of these segments (a discarded or failed cleaning).
void remove_cleaned_files(const std::filesystem::path& dir, const CleanedSegments& cleaned);

}  // namespace kaffa::storage
