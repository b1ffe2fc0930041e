// OffsetStore: the committed offsets of the groups of one coordinator shard (one partition of
// __consumer_offsets), as of the last durable write. Its content is exactly what replaying the
// partition's offset commit records gives (records.h): a record sets an offset, a tombstone
// deletes it.
//
// The store never writes: it produces the tombstone records a deletion or an expiry needs, and the
// caller writes them with CoordinatorShard::write() and applies them here once durable (the
// coordinator-runtime model: memory follows the log, never leads it).
//
// Threading: owned by a CoordinatorShard and used only on that shard's loop. No locks.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "coordinator/coordinator_shard.h"
#include "coordinator/records.h"

namespace kaffa::coordinator {

class OffsetStore {
 public:
  using TopicOffsets = std::map<std::string, std::map<int32_t, CommittedOffset>>;

  // Replay, and after a durable write: sets one committed offset, or deletes it (nullopt).
  // A group or topic left without offsets is forgotten.
  void apply(const std::string& group, const std::string& topic, int32_t partition,
             std::optional<CommittedOffset> v);

  // nullptr when the partition has no committed offset.
  const CommittedOffset* get(std::string_view group, std::string_view topic,
                             int32_t partition) const;
  // All offsets of a group, topic -> partition -> offset; nullptr when it has none. Valid until
  // the next apply().
  const TopicOffsets* group_offsets(std::string_view group) const;
  bool has_offsets(std::string_view group) const;
  // Groups that have at least one committed offset, in name order.
  std::vector<std::string> groups() const;

  // One tombstone per committed offset of the group (DeleteGroups). Writing them and applying
  // them afterwards is the caller's job.
  std::vector<CoordinatorShard::Record> delete_group_records(std::string_view group) const;

  // Whether a group's offsets may expire (the GroupManager decides: an Empty group or one it does
  // not know) and from when: `since` is when the group became Empty (a group that had members),
  // nullopt to count from each offset's commit timestamp.
  struct ExpiryBase {
    bool allowed = false;
    std::optional<int64_t> since;
  };
  // Tombstones for the expired offsets of every group that `policy` allows. Kafka's rule: an
  // offset with an expire_timestamp expires at it (now_ms >= expire_timestamp); any other once
  // now_ms - (since, else commit_timestamp) >= retention_ms (offsets.retention.minutes).
  std::vector<CoordinatorShard::Record> expired_records(
      int64_t now_ms, int64_t retention_ms,
      const std::function<ExpiryBase(const std::string&)>& policy) const;

  // The expiry rule above for one offset.
  static bool is_expired(const CommittedOffset& v, int64_t now_ms, int64_t retention_ms,
                         std::optional<int64_t> since = std::nullopt);

 private:
  std::map<std::string, TopicOffsets, std::less<>> groups_;
};

}  // namespace kaffa::coordinator
