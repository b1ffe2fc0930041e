// GroupManager: Kafka's classic group protocol (JoinGroup, SyncGroup, Heartbeat, LeaveGroup) for
// the groups of one CoordinatorShard, following Kafka's GroupMetadataManager: rebalances with
// generations, a leader that assigns, delayed initial rebalances
// (group.initial.rebalance.delay.ms), session and rebalance timeouts, static membership
// (group.instance.id), MEMBER_ID_REQUIRED for JoinGroup v4+, group.max.size.
//
// Threading: lives on its shard's loop; every call, callback and timer runs there. No locks.
//
// Durability: a group's metadata (generation, protocol, leader, members with subscriptions and
// assignments) is written as a GroupMetadataValue record when a rebalance completes (leader's
// SyncGroup), when a group becomes Empty, when a static member is replaced, and when a group is
// created by its first JoinGroup. The SyncGroup answers wait for the write. replay() rebuilds the
// groups at start-up, on_loaded() then arms the restored members' session timers.
//
// Timers cannot be cancelled: each armed timer carries a token stored in the group or member it
// is for (0 = none); a firing timer whose token no longer matches does nothing.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "coordinator/consumer_group_manager.h"
#include "coordinator/coordinator_shard.h"
#include "coordinator/group.h"
#include "coordinator/group_config.h"
#include "coordinator/offset_store.h"
#include "protocol/error_codes.h"
#include "protocol/messages/describe_groups.h"
#include "protocol/messages/group_metadata_value.h"

namespace kaffa::coordinator {

// The shard services a GroupManager needs. CoordinatorShard is adapted to it by the
// GroupManager(CoordinatorShard&) constructor; tests supply their own.
class GroupEnv {
 public:
  virtual ~GroupEnv() = default;
  virtual const GroupConfig& config() const = 0;
  virtual int64_t now_ms() const = 0;
  // Runs fn on the shard's loop after delay_ms; not cancellable.
  virtual void schedule(int64_t delay_ms, std::function<void()> fn) = 0;
  // Appends records to the offsets partition (CoordinatorShard::append): NONE, and done(error)
  // follows on the shard's loop once they are durable or failed; else the error of a batch the
  // partition refused outright, and done is not called.
  virtual protocol::ErrorCode append(std::vector<CoordinatorShard::Record> records,
                                     std::function<void(protocol::ErrorCode)> done) = 0;
  // NONE when a write would be appended now; else the error a client should see
  // (CoordinatorShard::write_refusal).
  virtual protocol::ErrorCode write_refusal() const { return protocol::ErrorCode::none; }
};

class GroupManager {
 public:
  // How long a new member's parked JoinGroup may wait before it is dropped (Kafka's
  // classicGroupNewMemberJoinTimeoutMs).
  static constexpr int32_t kNewMemberJoinTimeoutMs = 5 * 60 * 1000;

  explicit GroupManager(CoordinatorShard& shard);
  explicit GroupManager(GroupEnv& env);
  ~GroupManager();
  GroupManager(const GroupManager&) = delete;
  GroupManager& operator=(const GroupManager&) = delete;

  struct JoinRequest {
    std::string group_id;
    std::string member_id;  // "" for a new member
    std::optional<std::string> group_instance_id;
    std::string protocol_type;
    std::vector<MemberProtocol> protocols;
    int32_t session_timeout_ms = 0;
    int32_t rebalance_timeout_ms = 0;  // v0: the session timeout
    std::string client_id;
    std::string client_host;
    int16_t api_version = 0;  // 4+: MEMBER_ID_REQUIRED; 9+: skip_assignment
  };
  // Answers through `done`, possibly much later (when the join phase completes). The group id
  // and session timeout must have been checked (check_join()).
  void join(JoinRequest req, JoinCallback done);
  // INVALID_GROUP_ID, INVALID_SESSION_TIMEOUT or none (Kafka checks these before the shard).
  static protocol::ErrorCode check_join(const GroupConfig& config, std::string_view group_id,
                                        int32_t session_timeout_ms);

  struct SyncRequest {
    std::string group_id;
    int32_t generation_id = -1;
    std::string member_id;
    std::optional<std::string> group_instance_id;
    std::optional<std::string> protocol_type;  // v5+
    std::optional<std::string> protocol_name;
    std::vector<std::pair<std::string, std::string>> assignments;  // leader: member id -> bytes
  };
  void sync(SyncRequest req, SyncCallback done);

  protocol::ErrorCode heartbeat(std::string_view group_id, std::string_view member_id,
                                const std::optional<std::string>& group_instance_id,
                                int32_t generation_id);

  struct LeavingMember {
    std::string member_id;  // "" with an instance id: remove that static member
    std::optional<std::string> group_instance_id;
  };
  struct LeaveResult {
    protocol::ErrorCode error = protocol::ErrorCode::none;  // whole request
    std::vector<protocol::ErrorCode> members;               // per leaving member, in order
  };
  LeaveResult leave(std::string_view group_id, const std::vector<LeavingMember>& members);

  // --- Start-up ---
  // A GroupMetadata record read back from the partition; nullopt (a tombstone) removes it.
  void replay(const std::string& group_id, const std::optional<protocol::GroupMetadataValue>& v);
  // After the replay: arms the restored members' session timers (as Kafka after a load).
  void on_loaded();

  // --- For DescribeGroups, ListGroups, DeleteGroups ---
  // Kafka's description; an unknown group is "Dead" with no members and no error.
  protocol::DescribeGroupsResponse::DescribedGroup describe(std::string_view group_id) const;
  // Classic and consumer groups alike.
  struct Listed {
    std::string group_id;
    std::string protocol_type;  // "" when none
    std::string state;          // Kafka's name of the state
    std::string type;           // "classic" or "consumer"
    size_t members = 0;
  };
  std::vector<Listed> list() const;
  // A classic or a consumer group of that id exists.
  bool has_group(std::string_view group_id) const;
  // GROUP_ID_NOT_FOUND (unknown or Dead), NON_EMPTY_GROUP (has members) or none; for classic and
  // consumer groups.
  protocol::ErrorCode validate_delete(std::string_view group_id) const;
  // The tombstone deleting a classic group's metadata record.
  static CoordinatorShard::Record tombstone(const std::string& group_id);
  // Every tombstone deleting the group's records: the classic one, and a consumer group's.
  std::vector<CoordinatorShard::Record> tombstones(const std::string& group_id) const;
  // Drops the group (DeleteGroups drops it when it writes the tombstone): Dead, then forgotten.
  // A consumer group of that id goes too.
  void remove_group(std::string_view group_id);
  // An empty group of one kind gives way to a new group of the other, as in Kafka: its records
  // are tombstoned (not waited for) and it is forgotten. Committed offsets stay. When the offsets
  // partition refuses the tombstones, both stay as they are and the error (as the client should
  // see it) is returned.
  protocol::ErrorCode make_way(const std::string& group_id);

  // --- The consumer group protocol (KIP-848) ---
  ConsumerGroupManager& consumer() { return consumer_; }
  const ConsumerGroupManager& consumer() const { return consumer_; }
  // ConsumerGroupHeartbeat: refused with GROUP_ID_NOT_FOUND when a classic group of that id has
  // members; an empty classic group of that id is deleted (tombstoned) when a member joins, as
  // Kafka does. The request has passed consumer().check().
  void consumer_heartbeat(ConsumerGroupManager::HeartbeatRequest req,
                          const ConsumerGroupManager::TopicLookup& lookup,
                          ConsumerGroupManager::Done done);
  // OffsetFetch v9's member check (consumer groups only; classic groups accept any).
  protocol::ErrorCode validate_offset_fetch(std::string_view group_id,
                                            const std::optional<std::string>& member_id,
                                            int32_t member_epoch) const;

  // --- For OffsetCommit / OffsetDelete and offset expiry ---
  // Kafka's ClassicGroup.validateOffsetCommit plus the absent-group rule: an absent group
  // accepts only "simple" commits (generation < 0), else ILLEGAL_GENERATION, or
  // GROUP_ID_NOT_FOUND from OffsetCommit v9 (pass api_version). Empty group: generation < 0
  // accepted; else member id, instance id and generation must match (UNKNOWN_MEMBER_ID,
  // FENCED_INSTANCE_ID, ILLEGAL_GENERATION); a commit without member id and generation to a
  // non-empty group is UNKNOWN_MEMBER_ID; CompletingRebalance answers REBALANCE_IN_PROGRESS;
  // Dead answers COORDINATOR_NOT_AVAILABLE.
  protocol::ErrorCode validate_offset_commit(std::string_view group_id, std::string_view member_id,
                                             const std::optional<std::string>& group_instance_id,
                                             int32_t generation_id, int16_t api_version = 0) const;
  // Kafka's check of a TxnOffsetCommit (validateOffsetCommit for transactional commits): as
  // above, except that an absent group is an Empty one (generation < 0 accepted, else
  // UNKNOWN_MEMBER_ID), a commit without member id and generation is accepted whatever the
  // state (older producers send neither), and CompletingRebalance is no obstacle.
  protocol::ErrorCode validate_txn_offset_commit(
      std::string_view group_id, std::string_view member_id,
      const std::optional<std::string>& group_instance_id, int32_t generation_id) const;
  // After a valid member commit: like a heartbeat, it renews the member's session in Stable and
  // PreparingRebalance (Kafka's completeAndScheduleNextHeartbeatExpiration on commit).
  void on_member_commit(std::string_view group_id, std::string_view member_id,
                        int32_t generation_id);
  // Whether the "consumer"-protocol members subscribe to the topic (Kafka's
  // isSubscribedToTopic: true when the group uses the consumer protocol but the subscriptions are
  // not known, false for an absent group or another protocol type).
  bool is_subscribed(std::string_view group_id, std::string_view topic) const;
  bool has_members(std::string_view group_id) const;
  // Offsets of an absent group expire by their commit time; those of an Empty group that had
  // members count from when it became Empty (Kafka's currentStateTimestamp); others never.
  OffsetStore::ExpiryBase offset_expiry(std::string_view group_id) const;
  const Group* group(std::string_view group_id) const;  // nullptr if absent

 private:
  class ShardEnv;
  using Groups = std::map<std::string, std::unique_ptr<Group>, std::less<>>;

  Group* find(std::string_view id);
  uint64_t next_token() { return ++tokens_; }
  int64_t now() const { return env_.now_ms(); }
  const GroupConfig& config() const { return env_.config(); }

  // Join paths (group_manager_join.cc).
  void join_new_member(Group& g, JoinRequest& req, JoinCallback& done);
  void join_existing_member(Group& g, JoinRequest& req, JoinCallback& done);
  void add_member_then_rebalance(Group& g, JoinRequest& req, const std::string& member_id,
                                 JoinCallback done);
  void replace_static_member_then_rebalance(Group& g, JoinRequest& req, const std::string& old_id,
                                            const std::string& new_id, JoinCallback done);
  bool accept_joining_member(const Group& g, std::string_view member_id) const;

  // Rebalance machinery (group_manager.cc).
  void maybe_prepare_rebalance_or_complete_join(Group& g);
  void prepare_rebalance(Group& g);
  void maybe_complete_join_phase(Group& g);
  void maybe_complete_join_else_schedule(Group& g);
  void complete_join(Group& g);
  void try_complete_initial_rebalance(const std::string& id, uint64_t token, int32_t delay_ms,
                                      int32_t remaining_ms);
  void arm_join_timer(Group& g, int64_t delay_ms);
  void schedule_pending_sync(Group& g);
  void expire_pending_sync(const std::string& id, uint64_t token, int32_t generation);
  void reschedule_heartbeat(Group& g, GroupMember& m, int64_t timeout_ms);
  void reschedule_heartbeat(Group& g, GroupMember& m) {
    reschedule_heartbeat(g, m, m.session_timeout_ms);
  }
  void expire_heartbeat(const std::string& id, const std::string& member_id, uint64_t token);
  void remove_member_and_update(Group& g, const std::string& member_id);
  void remove_pending_member_and_update(Group& g, const std::string& member_id);
  void remove_pending_sync_member(Group& g, std::string_view member_id);
  void propagate_assignment(Group& g, protocol::ErrorCode error);
  void reset_and_propagate_assignment_with_error(Group& g, protocol::ErrorCode error);
  void on_sync_written(const std::string& id, uint64_t incarnation, int32_t generation,
                       std::map<std::string, std::string, std::less<>> assignment,
                       protocol::ErrorCode error);
  // Writes the group's record; done (may be empty) gets the error.
  void persist(const Group& g, const std::map<std::string, std::string, std::less<>>* assignment,
               std::function<void(protocol::ErrorCode)> done);
  void write_value(const std::string& group_id, const protocol::GroupMetadataValue& v,
                   std::function<void(protocol::ErrorCode)> done);

  std::unique_ptr<GroupEnv> owned_env_;  // the shard adapter, when built from a shard
  GroupEnv& env_;
  ConsumerGroupManager consumer_;
  Groups groups_;
  uint64_t tokens_ = 0;
};

// Kafka's appendGroupMetadataErrorToResponseError: what a client sees for a failed write.
protocol::ErrorCode group_write_error(protocol::ErrorCode e);

}  // namespace kaffa::coordinator
