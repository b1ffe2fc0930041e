// LeaderEpochCache: which leader epoch started writing at which offset of one log (Kafka's
// LeaderEpochFileCache, KIP-101 / KIP-279). Followers ask the leader, through
// OffsetForLeaderEpoch, where their latest epoch ends in the leader's log and truncate to that
// point, so that logs never diverge after a leader change.
//
// Entries are (epoch, start offset), epochs strictly increasing and start offsets increasing.
// assign() keeps them so: a new entry removes every entry with an epoch or a start offset not
// below its own. The log truncates the cache with itself (truncate_from_end after a truncation or
// a recovery cut, truncate_from_start when its start offset moves).
//
// File: `<partition dir>/leader-epoch-checkpoint` in Kafka's format (storage/checkpoint_file.h).
// The Log writes it after every change with an atomic rename but no fsync, and makes it durable
// with its next flush ticket: recovery rescans the batches above the recovery point and assigns
// their epochs again, so the file only has to be durable below that point. A missing or damaged
// file loads as an empty cache (logged); the Log then seeds it from its first batch.
//
// Threading: none; the owning Log's thread.
#pragma once

#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace kaffa::storage {

inline constexpr std::string_view kLeaderEpochFile = "leader-epoch-checkpoint";

struct EpochEntry {
  int32_t epoch = 0;
  int64_t start_offset = 0;
  bool operator==(const EpochEntry&) const = default;
};

class LeaderEpochCache {
 public:
  // Kafka's UNDEFINED_EPOCH / UNDEFINED_EPOCH_OFFSET.
  static constexpr int32_t kUndefinedEpoch = -1;
  static constexpr int64_t kUndefinedOffset = -1;

  LeaderEpochCache() = default;
  explicit LeaderEpochCache(std::vector<EpochEntry> entries) : entries_(std::move(entries)) {}

  // Reads `file`; an empty cache when it is missing, and also (with *problem set) when it is
  // malformed or not monotonic.
  static LeaderEpochCache load(const std::filesystem::path& file, std::string* problem);

  // Records that `epoch` writes from `start_offset` on. False (no change) for a negative value or
  // when the latest entry already has this epoch at or below start_offset.
  bool assign(int32_t epoch, int64_t start_offset);
  // Removes the entries starting at or after end_offset (the log was cut there).
  bool truncate_from_end(int64_t end_offset);
  // The log now starts at start_offset: entries wholly below it go, and the one covering it
  // starts there.
  bool truncate_from_start(int64_t start_offset);
  void clear() { entries_.clear(); }

  std::optional<int32_t> latest_epoch() const;
  // Kafka's endOffsetFor: (epoch, end offset) for a follower whose latest epoch is `requested`:
  //   the latest epoch                -> (it, log_end_offset)
  //   an epoch between known ones     -> (the largest known epoch <= requested, start of the next)
  //   below the first known epoch     -> (requested, start of the first)
  //   above the latest, or none known -> (kUndefinedEpoch, kUndefinedOffset)
  std::pair<int32_t, int64_t> end_offset_for(int32_t requested, int64_t log_end_offset) const;

  const std::vector<EpochEntry>& entries() const { return entries_; }
  // Replaces `file` (atomic rename; fsync only with `sync`).
  bool write(const std::filesystem::path& file, std::string* error, bool sync) const;

 private:
  std::vector<EpochEntry> entries_;
};

// Where a copy of a log stops agreeing with the log, found as a follower finds it with
// OffsetForLeaderEpoch (KIP-279). What one epoch wrote at one offset is the same in every copy
// holding it, so the copy agrees with the log up to the lower of the two ends of the latest of the
// copy's epochs the log knows (end: the next entry's start, or the log's end). nullopt when the
// log knows none of them.
std::optional<int64_t> agreed_end(const LeaderEpochCache& log, int64_t log_end,
                                  const std::vector<EpochEntry>& copy, int64_t copy_end);

}  // namespace kaffa::storage
