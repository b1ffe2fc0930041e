#include "storage/leader_epoch_cache.h"

#include <algorithm>

#include "storage/checkpoint_file.h"

namespace kaffa::storage {

LeaderEpochCache LeaderEpochCache::load(const std::filesystem::path& file, std::string* problem) {
  std::error_code ec;
  if (!std::filesystem::exists(file, ec)) return {};
  std::string error;
  const auto read = LeaderEpochCheckpoint(file).read(&error);
  if (!read) {
    if (problem != nullptr) *problem = error;
    return {};
  }
  std::vector<EpochEntry> entries;
  for (const auto& [epoch, start] : *read) {
    if (epoch < 0 || start < 0 ||
        (!entries.empty() &&
         (epoch <= entries.back().epoch || start < entries.back().start_offset))) {
      if (problem != nullptr) *problem = file.string() + ": entries not increasing";
      return {};
    }
    // Two epochs starting at one offset: the earlier had no records. As when Kafka loads the
    // file through assign(), the later one replaces it.
    if (!entries.empty() && start == entries.back().start_offset) entries.pop_back();
    entries.push_back({epoch, start});
  }
  return LeaderEpochCache(std::move(entries));
}

bool LeaderEpochCache::assign(int32_t epoch, int64_t start_offset) {
  if (epoch < 0 || start_offset < 0) return false;
  if (!entries_.empty() && entries_.back().epoch == epoch &&
      entries_.back().start_offset <= start_offset) {
    return false;
  }
  std::erase_if(entries_, [&](const EpochEntry& e) {
    return e.epoch >= epoch || e.start_offset >= start_offset;
  });
  entries_.push_back({epoch, start_offset});
  return true;
}

bool LeaderEpochCache::truncate_from_end(int64_t end_offset) {
  if (end_offset < 0) return false;
  return std::erase_if(entries_,
                       [&](const EpochEntry& e) { return e.start_offset >= end_offset; }) > 0;
}

bool LeaderEpochCache::truncate_from_start(int64_t start_offset) {
  // Entries are sorted by start offset: the last one at or below start_offset covers it.
  const auto after =
      std::upper_bound(entries_.begin(), entries_.end(), start_offset,
                       [](int64_t offset, const EpochEntry& e) { return offset < e.start_offset; });
  if (after == entries_.begin()) return false;
  const auto covering = std::prev(after);
  const bool changed = covering != entries_.begin() || covering->start_offset != start_offset;
  covering->start_offset = start_offset;
  entries_.erase(entries_.begin(), covering);
  return changed;
}

std::optional<int32_t> LeaderEpochCache::latest_epoch() const {
  if (entries_.empty()) return std::nullopt;
  return entries_.back().epoch;
}

std::pair<int32_t, int64_t> LeaderEpochCache::end_offset_for(int32_t requested,
                                                             int64_t log_end_offset) const {
  if (requested == kUndefinedEpoch || entries_.empty()) return {kUndefinedEpoch, kUndefinedOffset};
  if (requested == entries_.back().epoch) return {requested, log_end_offset};
  // The first entry with an epoch above the requested one.
  const auto higher =
      std::upper_bound(entries_.begin(), entries_.end(), requested,
                       [](int32_t epoch, const EpochEntry& e) { return epoch < e.epoch; });
  if (higher == entries_.end()) return {kUndefinedEpoch, kUndefinedOffset};
  if (higher == entries_.begin()) return {requested, higher->start_offset};
  return {std::prev(higher)->epoch, higher->start_offset};
}

std::optional<int64_t> agreed_end(const LeaderEpochCache& log, int64_t log_end,
                                  const std::vector<EpochEntry>& copy, int64_t copy_end) {
  for (size_t i = copy.size(); i-- > 0;) {
    const auto [epoch, end] = log.end_offset_for(copy[i].epoch, log_end);
    if (epoch != copy[i].epoch) continue;  // the log does not know it: look at an older one
    const int64_t copy_epoch_end = i + 1 < copy.size() ? copy[i + 1].start_offset : copy_end;
    return std::min(end, copy_epoch_end);
  }
  return std::nullopt;
}

bool LeaderEpochCache::write(const std::filesystem::path& file, std::string* error,
                             bool sync) const {
  LeaderEpochCheckpoint::Entries out;
  out.reserve(entries_.size());
  for (const auto& e : entries_) out.emplace_back(e.epoch, e.start_offset);
  return LeaderEpochCheckpoint(file).write(out, error, sync);
}

}  // namespace kaffa::storage
