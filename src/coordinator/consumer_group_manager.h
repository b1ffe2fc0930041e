// ConsumerGroupManager: Kafka's consumer group protocol (KIP-848) for the groups of one
// CoordinatorShard — ConsumerGroupHeartbeat (join with member epoch 0, heartbeat, leave with -1,
// a static member's temporary leave with -2), the server-side assignors (assignor.h), each
// member's reconciliation towards its target (consumer_group.h), session timeouts
// (group.consumer.session.timeout.ms) and revocation deadlines (the member's rebalance timeout),
// and the views of ConsumerGroupDescribe, ListGroups, OffsetCommit/OffsetFetch validation.
//
// Follows Kafka's GroupMetadataManager.consumerGroupHeartbeat: (1) the member is created or
// updated; a new member or a changed subscription, or a change of the subscribed topics (created,
// deleted, more partitions), bumps the group epoch; (2) when the group epoch is ahead of the
// target assignment's, the group's assignor computes a new target; (3) the member reconciles one
// step towards its target; the answer carries its epoch and, when it changed or the request was
// full, its assignment.
//
// Durability (Kafka's records, consumer_group_records.h): every change is applied in memory and
// written as records to the offsets partition — member metadata when a member joins or changes,
// the group epoch when it moves, the target assignment (epoch and each changed member's part)
// when it is recomputed, a member's current assignment when it reconciles, tombstones when a
// member goes. A heartbeat is answered once its records, and every record written before it, are
// durable; a heartbeat that writes nothing waits for the writes before it too. replay() rebuilds
// the groups at start-up (or when this broker becomes coordinator); on_loaded() then restarts
// the members' session timers. The subscribed topics' metadata is not written: it is looked up
// again on the first heartbeat after a load (which moves the group epoch once).
// When the offsets partition refuses a write outright (CoordinatorShard::append: too few in-sync
// replicas, no longer its leader, a batch over max.message.bytes, a storage failure), the change
// is undone (ConsumerGroup::undo_changes; a group the heartbeat created goes) and the heartbeat
// answered with the error (COORDINATOR_NOT_AVAILABLE, NOT_COORDINATOR, UNKNOWN_SERVER_ERROR), and
// a session or revocation timeout is tried again every kExpiryRetryMs, as Kafka's runtime reverts
// a failed write and retries its timers. A write that is in the log and then fails (leadership
// lost while it replicates) is not undone: the log has it, as Kafka's.
//
// Threading: lives on its shard's loop, like GroupManager; timers carry tokens (0: none) and do
// nothing once their token no longer matches.
#pragma once

#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "coordinator/consumer_group.h"
#include "coordinator/consumer_group_records.h"
#include "coordinator/coordinator_shard.h"
#include "protocol/error_codes.h"
#include "protocol/messages/consumer_group_describe.h"
#include "protocol/messages/consumer_group_heartbeat.h"

namespace kaffa::coordinator {

class GroupEnv;

class ConsumerGroupManager {
 public:
  static constexpr int32_t kLeaveEpoch = -1;
  static constexpr int32_t kStaticLeaveEpoch = -2;
  // How soon a session or revocation timeout whose write was refused is tried again.
  static constexpr int64_t kExpiryRetryMs = 500;

  explicit ConsumerGroupManager(GroupEnv& env);
  ~ConsumerGroupManager();

  struct HeartbeatRequest {
    std::string group_id;
    std::string member_id;
    int32_t member_epoch = 0;
    std::optional<std::string> instance_id;
    std::optional<std::string> rack_id;
    int32_t rebalance_timeout_ms = -1;
    std::optional<std::vector<std::string>> subscribed_topic_names;
    std::optional<std::string> subscribed_topic_regex;  // v1; "" clears it
    std::optional<std::string> server_assignor;
    OwnedPartitions owned;
    std::string client_id;
    std::string client_host;
    int16_t api_version = 0;
  };
  // The broker's topics as they are now: one by name (nullopt when it does not exist); the names
  // topic regexes are matched against, sorted: all but the internal topics, less those the
  // heartbeat's principal may not DESCRIBE (Kafka's TopicRegexResolver); and a version that moves
  // on whenever `names` could answer otherwise (topics created or deleted, ACLs changed), so that
  // regexes are matched again only then.
  struct TopicLookup {
    std::function<std::optional<TopicMeta>(const std::string&)> find;
    std::function<std::vector<std::string>()> names;
    std::function<uint64_t()> names_version;
  };

  // Kafka's request checks (INVALID_REQUEST, INVALID_REGULAR_EXPRESSION, UNSUPPORTED_ASSIGNOR)
  // before any group is touched;
  // none, or the error with its message.
  protocol::ErrorCode check(const HeartbeatRequest& req, std::string& message) const;
  // The heartbeat on an existing or (epoch 0) new group; the request has passed check(). The
  // caller has made sure no classic group of that id has members. `done` gets the answer once
  // what it says is durable.
  using Done = std::function<void(protocol::ConsumerGroupHeartbeatResponse)>;
  void heartbeat(HeartbeatRequest req, const TopicLookup& lookup, Done done);

  const ConsumerGroup* group(std::string_view id) const;
  void remove_group(std::string_view id);
  // The tombstones deleting the group's records (DeleteGroups writes them with its own).
  std::vector<CoordinatorShard::Record> tombstones(std::string_view id) const;

  // --- Start-up ---
  // One record read back from the offsets partition.
  void replay(const consumer_records::Decoded& d);
  // After the replay: every member's session timer, and the revocation deadline of those asked
  // to revoke, start now.
  void on_loaded();
  std::vector<const ConsumerGroup*> groups() const;
  // `name_of` names a topic id (nullopt: no such topic now, shown with an empty name).
  using TopicName = std::function<std::optional<std::string>(const protocol::Uuid&)>;
  protocol::ConsumerGroupDescribeResponse::DescribedGroup describe(std::string_view id,
                                                                   const TopicName& name_of) const;

  // Kafka's ConsumerGroup.validateOffsetCommit: an epoch < 0 commits only to an Empty group;
  // otherwise the member must exist (UNKNOWN_MEMBER_ID), commit with OffsetCommit v9+ unless
  // transactional (UNSUPPORTED_VERSION), and give its current epoch (STALE_MEMBER_EPOCH).
  protocol::ErrorCode validate_offset_commit(const ConsumerGroup& g, std::string_view member_id,
                                             int32_t member_epoch, bool transactional,
                                             int16_t api_version) const;
  // Kafka's validateOffsetFetch: no member id and an epoch < 0 is an admin read; else the member
  // must exist with that epoch.
  protocol::ErrorCode validate_offset_fetch(const ConsumerGroup& g,
                                            const std::optional<std::string>& member_id,
                                            int32_t member_epoch) const;

 private:
  using Records = std::vector<CoordinatorShard::Record>;

  ConsumerGroup* find(std::string_view id);
  ConsumerGroup& find_or_create(const std::string& id);
  uint64_t next_token() { return ++tokens_; }
  // The heartbeat's effect on memory, and the records that make it durable.
  protocol::ConsumerGroupHeartbeatResponse apply(HeartbeatRequest& req, const TopicLookup& lookup,
                                                 Records& records);
  // Fetches or creates the member the request speaks for, or an error.
  protocol::ErrorCode member_for(ConsumerGroup& g, HeartbeatRequest& req, ConsumerMember& out,
                                 std::string& message, Records& records);
  protocol::ConsumerGroupHeartbeatResponse leave(ConsumerGroup& g, const HeartbeatRequest& req,
                                                 Records& records);
  // Refreshes the subscribed topics from the broker's metadata; true when they changed.
  bool refresh_metadata(ConsumerGroup& g, const TopicLookup& lookup);
  void update_target(ConsumerGroup& g, Records& records);
  // Removes a member and moves the group epoch on.
  void remove_member(ConsumerGroup& g, const std::string& member_id, Records& records);
  // Removes the member for `why`; false (and nothing changed) when the write is refused.
  bool fence(ConsumerGroup& g, const std::string& member_id, std::string_view why);
  void arm_session(ConsumerGroup& g, ConsumerMember& m);
  void arm_revocation(ConsumerGroup& g, ConsumerMember& m);
  // A session or revocation timer of `member` fired: fences it if the token still holds.
  enum class Expiry { session, revocation };
  void expire(const std::string& id, const std::string& member, uint64_t token, Expiry why);
  // Writes records: NONE, and done(error) follows on the loop once durable (writes complete in
  // order); else the error of a write the partition refused outright (done is not called).
  protocol::ErrorCode write(Records records, std::function<void(protocol::ErrorCode)> done);
  // Runs fn once every write issued so far is complete.
  void after_writes(std::function<void()> fn);

  GroupEnv& env_;
  std::map<std::string, std::unique_ptr<ConsumerGroup>, std::less<>> groups_;
  uint64_t tokens_ = 0;
  uint64_t writes_issued_ = 0;
  uint64_t writes_done_ = 0;
  std::deque<std::pair<uint64_t, std::function<void()>>> waiting_;  // (writes needed, answer)
};

}  // namespace kaffa::coordinator
