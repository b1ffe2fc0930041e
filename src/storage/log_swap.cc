// Log: the compaction hand-off (cleaning view, swap of cleaned segments) and the recovery of an
// interrupted swap. Protocol and crash states in log_cleaning.h.
#include <cstdio>
#include <map>
#include <set>
#include <system_error>

#include "base/log.h"
#include "storage/log.h"
#include "storage/segment_scan.h"

namespace kaffa::storage {
namespace {

namespace fs = std::filesystem;

std::string with_tail(std::string_view suffix, std::string_view tail) {
  return std::string(suffix) + std::string(tail);
}

bool rename_file(const fs::path& from, const fs::path& to, std::string* error) {
  if (std::rename(from.c_str(), to.c_str()) == 0) return true;
  if (error != nullptr) *error = "cannot rename " + from.string() + " to " + to.string();
  return false;
}

// "<20 digits><suffix><tail>" -> base; false for other names.
bool parse_tailed(std::string_view name, std::string_view tail, int64_t* base,
                  std::string* suffix) {
  if (name.size() <= tail.size() || !name.ends_with(tail)) return false;
  return parse_segment_name(name.substr(0, name.size() - tail.size()), base, suffix);
}

// Step 2 of a committed swap at recovery: the segments after `base` up to the last offset in
// its .log.swap (their indexes too).
void delete_covered_segments(const fs::path& dir, int64_t base) {
  std::string error;
  const auto swap = SegmentFile::open(segment_path(dir, base, with_tail(kLogSuffix, kSwapSuffix)),
                                      SegmentFile::Mode::read_only, &error);
  if (!swap) return;
  int64_t last = -1;
  scan_batches(*swap, 0, swap->size(), base, false,
               [&last](const BatchInfo& b) { last = b.last_offset; });
  std::error_code ec;
  for (const auto& entry : fs::directory_iterator(dir, ec)) {
    int64_t other = 0;
    std::string suffix;
    if (parse_segment_name(entry.path().filename().string(), &other, &suffix) && other > base &&
        other <= last) {
      fs::remove(entry.path(), ec);
    }
  }
}

}  // namespace

void remove_cleaned_files(const fs::path& dir, const CleanedSegments& cleaned) {
  for (const auto& c : cleaned.segments) {
    for (const auto suffix : {kLogSuffix, kIndexSuffix, kTimeIndexSuffix}) {
      std::error_code ec;
      fs::remove(segment_path(dir, c.after.base_offset, with_tail(suffix, kCleanedSuffix)), ec);
    }
  }
}

bool complete_interrupted_swaps(const fs::path& dir, std::string* error) {
  std::error_code ec;
  std::set<int64_t> committed;
  std::vector<std::pair<int64_t, std::string>> index_swaps;  // (base, suffix)
  bool changed = false;
  int leftovers = 0;
  for (const auto& entry : fs::directory_iterator(dir, ec)) {
    const std::string name = entry.path().filename().string();
    int64_t base = 0;
    std::string suffix;
    if (parse_tailed(name, kCleanedSuffix, &base, &suffix)) {
      fs::remove(entry.path(), ec);
      ++leftovers;
    } else if (parse_tailed(name, kSwapSuffix, &base, &suffix)) {
      if (suffix == kLogSuffix) {
        committed.insert(base);
      } else {
        index_swaps.emplace_back(base, suffix);
      }
    }
  }
  if (ec) {
    if (error != nullptr) *error = "cannot list " + dir.string() + ": " + ec.message();
    return false;
  }
  if (leftovers > 0) {
    log::warn("{}: deleted {} .cleaned files of an interrupted cleaning", dir.string(), leftovers);
    changed = true;
  }
  for (const auto& [base, suffix] : index_swaps) {
    const fs::path swap = segment_path(dir, base, with_tail(suffix, kSwapSuffix));
    if (committed.count(base) != 0) {
      if (!rename_file(swap, segment_path(dir, base, suffix), error)) return false;
    } else {
      fs::remove(swap, ec);
    }
    changed = true;
  }
  if (!committed.empty()) {
    log::warn("{}: completing the swap of {} cleaned segments", dir.string(), committed.size());
  }
  for (const int64_t base : committed) {
    delete_covered_segments(dir, base);
    if (!rename_file(segment_path(dir, base, with_tail(kLogSuffix, kSwapSuffix)),
                     segment_path(dir, base, kLogSuffix), error)) {
      return false;
    }
    changed = true;
  }
  return !changed || sync_directory(dir, error);
}

CleaningView Log::cleaning_view() const {
  CleaningView v;
  v.dir = dir_;
  v.generation = generation_;
  v.log_start_offset = log_start_offset_;
  v.active_base = segments_.rbegin()->first;
  v.index_interval_bytes = cfg_.index_interval_bytes;
  v.segment_bytes = cfg_.segment_bytes;
  v.segment_index_bytes = cfg_.segment_index_bytes;
  for (auto it = segments_.begin(); it != std::prev(segments_.end()); ++it) {
    v.segments.push_back(it->second);
  }
  return v;
}

SwapOutcome Log::install_cleaned(const CleanedSegments& cleaned, std::string* error) {
  bool stale = closed_ || cleaned.generation != generation_;
  for (const auto& c : cleaned.segments) {
    for (const auto& b : c.before) {
      const auto it = segments_.find(b.base_offset);
      stale = stale || it == segments_.end() || it == std::prev(segments_.end()) ||
              it->second.size != b.size || it->second.next_offset != b.next_offset;
    }
  }
  if (stale) {
    remove_cleaned_files(dir_, cleaned);
    return SwapOutcome::stale;
  }
  // Commit, oldest first: index files to .swap, then the log (the commit point of a segment).
  size_t committed = 0;
  bool ok = true;
  for (const auto& c : cleaned.segments) {
    const int64_t base = c.after.base_offset;
    for (const auto suffix : {kIndexSuffix, kTimeIndexSuffix, kLogSuffix}) {
      ok = ok && rename_file(segment_path(dir_, base, with_tail(suffix, kCleanedSuffix)),
                             segment_path(dir_, base, with_tail(suffix, kSwapSuffix)), error);
    }
    if (!ok) break;
    ++committed;
    if (!sync_directory(dir_, error)) {
      ok = false;
      break;
    }
  }
  // Replace the committed segments' files; readers holding the old files (FileSlices) keep them.
  for (size_t i = 0; i < committed; ++i) {
    const auto& c = cleaned.segments[i];
    const int64_t base = c.after.base_offset;
    for (size_t k = 1; k < c.before.size(); ++k) {  // the rest of the group
      const int64_t other = c.before[k].base_offset;
      delete_segment_files(other);
      segments_.erase(other);
      forget_pending_flush(other);
    }
    for (const auto suffix : {kIndexSuffix, kTimeIndexSuffix, kLogSuffix}) {
      const auto final_path = segment_path(dir_, base, suffix);
      cache_.erase(final_path);
      std::string why;
      if (!rename_file(segment_path(dir_, base, with_tail(suffix, kSwapSuffix)), final_path,
                       &why)) {
        // The committed .swap stays; the next open completes it. Until then the old files serve.
        log::error("{}: {}", dir_.string(), why);
        if (suffix == kLogSuffix) continue;
      }
    }
    if (std::filesystem::exists(segment_path(dir_, base, kLogSuffix)) &&
        !std::filesystem::exists(segment_path(dir_, base, with_tail(kLogSuffix, kSwapSuffix)))) {
      segments_[base] = c.after;
    }
  }
  if (!ok) {
    // The uncommitted rest: drop its .cleaned files and any index .swap of the failed segment.
    CleanedSegments rest;
    rest.segments.assign(cleaned.segments.begin() + static_cast<std::ptrdiff_t>(committed),
                         cleaned.segments.end());
    remove_cleaned_files(dir_, rest);
    for (const auto& c : rest.segments) {
      for (const auto suffix : {kIndexSuffix, kTimeIndexSuffix}) {
        std::error_code ec;
        fs::remove(segment_path(dir_, c.after.base_offset, with_tail(suffix, kSwapSuffix)), ec);
      }
    }
    log::error("{}: swap of cleaned segments failed after {} of {}", dir_.string(), committed,
               cleaned.segments.size());
    return SwapOutcome::failed;
  }
  if (!sync_directory(dir_, error)) {
    return SwapOutcome::failed;
  }
  return SwapOutcome::swapped;
}

}  // namespace kaffa::storage
