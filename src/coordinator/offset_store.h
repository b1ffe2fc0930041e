// OffsetStore: the committed offsets of the groups of one coordinator shard (one partition of
// __consumer_offsets), as of the last durable write. Its content is exactly what replaying the
// partition's offset commit records gives (records.h): a record sets an offset, a tombstone
// deletes it.
//
// The store never writes: it produces the tombstone records a deletion or an expiry needs, and the
// caller writes them with CoordinatorShard::write() and applies them here once durable (the
// coordinator-runtime model: memory follows the log, never leads it).
//
// Transactional offsets (TxnOffsetCommit, and records of transactional batches at replay) are
// pending for their producer id: invisible to get() and group_offsets(), until the producer's
// commit marker makes them committed (each only if its record lies after the record of the offset
// committed meanwhile, as Kafka: the later record wins) or its abort marker drops them
// (complete_transaction()). A tombstone deletes a partition's committed offset and its pending
// ones, as Kafka's coordinator does. Without open transactions the plain paths cost what they
// did before (one emptiness check).
//
// Threading: owned by a CoordinatorShard and used only on that shard's loop. No locks.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <utility>
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

  // A transactional offset written for producer_id (v.record_offset set): pending until
  // complete_transaction() for that producer.
  void apply_pending(int64_t producer_id, const std::string& group, const std::string& topic,
                     int32_t partition, CommittedOffset v);
  // The producer's commit (commit = true) or abort marker: its pending offsets become committed
  // where no later record set the partition's offset, or are dropped. Nothing pending: no-op.
  void complete_transaction(int64_t producer_id, bool commit);
  // Whether a transactional offset of the group (for that partition) awaits its marker.
  bool has_pending(std::string_view group) const;
  bool has_pending(std::string_view group, std::string_view topic, int32_t partition) const;

  // nullptr when the partition has no committed offset.
  const CommittedOffset* get(std::string_view group, std::string_view topic,
                             int32_t partition) const;
  // All offsets of a group, topic -> partition -> offset; nullptr when it has none. Valid until
  // the next apply().
  const TopicOffsets* group_offsets(std::string_view group) const;
  // Committed or pending offsets (Kafka's hasOffsets: the group exists for DeleteGroups,
  // OffsetDelete and ListGroups).
  bool has_offsets(std::string_view group) const;
  // Groups that have at least one committed or pending offset, in name order.
  std::vector<std::string> groups() const;

  // The partitions of the group with a committed or a pending offset, each once (DeleteGroups).
  std::vector<std::pair<std::string, int32_t>> partitions_of(std::string_view group) const;
  // One tombstone per partition of partitions_of(group) (DeleteGroups). Writing them and
  // applying them afterwards is the caller's job.
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
  // now_ms - (since, else commit_timestamp) >= retention_ms (offsets.retention.minutes). An
  // offset with a pending transactional offset for its partition does not expire yet.
  std::vector<CoordinatorShard::Record> expired_records(
      int64_t now_ms, int64_t retention_ms,
      const std::function<ExpiryBase(const std::string&)>& policy) const;

  // The expiry rule above for one offset.
  static bool is_expired(const CommittedOffset& v, int64_t now_ms, int64_t retention_ms,
                         std::optional<int64_t> since = std::nullopt);

 private:
  using GroupOffsets = std::map<std::string, TopicOffsets, std::less<>>;
  // Drops the pending offsets of that partition of every open transaction of the group.
  void drop_pending(const std::string& group, const std::string& topic, int32_t partition);
  static void erase_offset(GroupOffsets& offsets, const std::string& group,
                           const std::string& topic, int32_t partition);

  GroupOffsets groups_;
  std::map<int64_t, GroupOffsets> pending_;                          // producer id -> offsets
  std::map<std::string, std::set<int64_t>, std::less<>> open_txns_;  // group -> producer ids
};

}  // namespace kaffa::coordinator
