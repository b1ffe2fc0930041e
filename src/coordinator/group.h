// Group: one classic consumer group (Kafka's ClassicGroup) — its state, generation, chosen
// protocol, members and the join/sync responses they are waiting for. GroupManager
// (group_manager.h) drives the protocol; this class keeps the bookkeeping consistent.
//
// States (Kafka's ClassicGroupState):
//   Empty               no members (a group only committing offsets, or after everyone left)
//   PreparingRebalance  collecting JoinGroups; joins are parked until every known member rejoined
//                       or the rebalance timeout fired
//   CompletingRebalance joins answered, waiting for the leader's SyncGroup with the assignment
//   Stable              assignment stored and handed out; heartbeats keep members alive
//   Dead                deleted; the object is about to be dropped
// Valid transitions: Empty -> Preparing; Stable|Completing|Empty -> Preparing;
// Preparing -> Completing|Empty; Completing -> Stable; any -> Dead.
//
// Threading: owned by a GroupManager, touched only on its CoordinatorShard's loop.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "protocol/error_codes.h"
#include "protocol/messages/group_metadata_value.h"
#include "protocol/messages/join_group.h"
#include "protocol/messages/sync_group.h"

namespace kaffa::coordinator {

enum class GroupState { empty, preparing_rebalance, completing_rebalance, stable, dead };

// Kafka's names ("Empty", "PreparingRebalance", ...), as DescribeGroups and ListGroups show them.
std::string_view state_name(GroupState s);

// Answers parked until the join or sync phase completes. Called exactly once, on the shard loop.
using JoinCallback = std::function<void(protocol::JoinGroupResponse)>;
using SyncCallback = std::function<void(protocol::SyncGroupResponse)>;

struct MemberProtocol {
  std::string name;
  std::string metadata;
  bool operator==(const MemberProtocol&) const = default;
};

struct GroupMember {
  std::string member_id;
  std::optional<std::string> group_instance_id;  // set for static members
  std::string client_id;
  std::string client_host;
  int32_t rebalance_timeout_ms = 0;
  int32_t session_timeout_ms = 0;
  std::string protocol_type;
  std::vector<MemberProtocol> protocols;  // in the member's order of preference
  std::string assignment;
  JoinCallback awaiting_join;  // empty: not waiting
  SyncCallback awaiting_sync;
  bool is_new = false;         // joined in this rebalance; may expire while parked
  uint64_t session_token = 0;  // the armed session timer (0: none); see GroupManager

  bool is_awaiting_join() const { return static_cast<bool>(awaiting_join); }
  bool is_awaiting_sync() const { return static_cast<bool>(awaiting_sync); }
  bool is_static() const { return group_instance_id.has_value(); }
  // The metadata this member sent for `protocol`, or nullptr.
  const std::string* metadata(std::string_view protocol) const;
  // Parked members satisfy the session timer; new members do not (they may be gone).
  bool has_satisfied_heartbeat() const;
};

class Group {
 public:
  Group(std::string id, GroupState state, int64_t now_ms, uint64_t incarnation);

  const std::string& id() const { return id_; }
  // Distinguishes this object from a later group of the same id (timers and writes check it).
  uint64_t incarnation() const { return incarnation_; }
  GroupState state() const { return state_; }
  GroupState previous_state() const { return previous_state_; }
  bool is(GroupState s) const { return state_ == s; }
  int64_t state_timestamp_ms() const { return state_timestamp_ms_; }
  int32_t generation() const { return generation_; }
  const std::optional<std::string>& protocol_type() const { return protocol_type_; }
  const std::optional<std::string>& protocol_name() const { return protocol_name_; }
  const std::optional<std::string>& leader() const { return leader_; }
  bool is_leader(std::string_view member_id) const { return leader_ && *leader_ == member_id; }

  // Members, by id (sorted, so iteration is deterministic).
  const std::map<std::string, GroupMember, std::less<>>& members() const { return members_; }
  std::map<std::string, GroupMember, std::less<>>& members() { return members_; }
  GroupMember* member(std::string_view id);
  const GroupMember* member(std::string_view id) const;
  bool has_member(std::string_view id) const { return members_.find(id) != members_.end(); }
  size_t size() const { return members_.size(); }

  // Adds a member (it becomes leader if there is none); `join` parks its JoinGroup answer.
  void add(GroupMember m, JoinCallback join);
  // Removes a member (answering what it has parked with UNKNOWN_MEMBER_ID); a removed leader is
  // replaced by the first remaining member.
  void remove(std::string_view member_id);
  // Replaces a static member's id, answering whatever the old id had parked with
  // FENCED_INSTANCE_ID. Returns the member under its new id.
  GroupMember& replace_static_member(const std::string& instance_id, std::string_view old_id,
                                     const std::string& new_id);
  // New protocols and timeouts from a rejoin; `join` (may be empty) replaces the parked answer
  // (an older parked JoinGroup is answered REBALANCE_IN_PROGRESS).
  void update_member(GroupMember& m, std::vector<MemberProtocol> protocols,
                     int32_t rebalance_timeout_ms, int32_t session_timeout_ms, JoinCallback join);

  // Dynamic members given an id by MEMBER_ID_REQUIRED that have not joined with it yet.
  const std::map<std::string, uint64_t, std::less<>>& pending_members() const {
    return pending_join_;
  }
  bool is_pending_member(std::string_view id) const {
    return pending_join_.find(id) != pending_join_.end();
  }
  void add_pending_member(const std::string& id, uint64_t session_token);
  uint64_t pending_member_token(std::string_view id) const;

  // Static members: group.instance.id -> member id.
  const std::string* static_member_id(std::string_view instance_id) const;
  // Kafka's validateMember: UNKNOWN_MEMBER_ID, FENCED_INSTANCE_ID or none.
  protocol::ErrorCode validate_member(std::string_view member_id,
                                      const std::optional<std::string>& instance_id) const;

  size_t num_awaiting_join() const;
  bool has_all_members_joined() const;
  // If the leader did not rejoin, another member that did becomes leader. False if none did.
  bool maybe_elect_new_joined_leader();
  int32_t rebalance_timeout_ms() const;  // the largest of the members'

  // Protocol choice: the type must match and one protocol must be supported by every member.
  bool supports_protocols(std::string_view type, const std::vector<MemberProtocol>& ps) const;
  // Among the protocols all members support, each member votes for its first; most votes wins.
  std::string select_protocol() const;

  bool can_rebalance() const;  // Stable, CompletingRebalance or Empty
  void transition_to(GroupState s, int64_t now_ms);
  // Bumps the generation and picks the protocol: CompletingRebalance, or Empty if no members.
  void init_next_generation(int64_t now_ms);

  // Sync bookkeeping: members of this generation that have not sent SyncGroup yet.
  void add_pending_sync(const std::string& id) { pending_sync_.insert(id); }
  void remove_pending_sync(std::string_view id);
  bool has_received_sync_from_all() const { return pending_sync_.empty(); }
  const std::set<std::string, std::less<>>& pending_sync() const { return pending_sync_; }
  void clear_pending_sync() { pending_sync_.clear(); }

  // Answers a parked JoinGroup / SyncGroup; false if the member had none.
  bool complete_join(GroupMember& m, protocol::JoinGroupResponse r);
  bool complete_sync(GroupMember& m, protocol::SyncGroupResponse r);
  // Every member's JoinGroup answer of the current generation (the leader's lists the members).
  protocol::JoinGroupResponse join_response_for(const GroupMember& m, bool with_members) const;
  std::vector<protocol::JoinGroupResponse::JoinGroupResponseMember> current_members() const;

  // Topics the members subscribe to with the "consumer" protocol; nullopt when unknown (another
  // protocol type, or subscriptions that do not parse).
  const std::optional<std::set<std::string, std::less<>>>& subscribed_topics() const {
    return subscribed_topics_;
  }
  void refresh_subscribed_topics();
  bool uses_consumer_protocol() const { return protocol_type_ && *protocol_type_ == "consumer"; }

  // Timer tokens (0: none armed): the join phase's deadline and the sync phase's deadline.
  uint64_t join_token = 0;
  uint64_t sync_token = 0;
  // A member joined during the initial (delayed) rebalance: extend the delay once more.
  bool new_member_added = false;

  // The durable form: the group as a GroupMetadataValue record. `assignment`, when given,
  // replaces the members' stored assignments (a leader's SyncGroup not yet applied).
  protocol::GroupMetadataValue to_record(
      const std::map<std::string, std::string, std::less<>>* assignment = nullptr) const;
  // A group as replayed from its record: Stable with members, else Empty.
  static Group from_record(const std::string& id, const protocol::GroupMetadataValue& v,
                           int64_t now_ms, uint64_t incarnation);

 private:
  std::string id_;
  uint64_t incarnation_;
  GroupState state_;
  GroupState previous_state_ = GroupState::dead;
  int64_t state_timestamp_ms_;
  int32_t generation_ = 0;
  std::optional<std::string> protocol_type_;
  std::optional<std::string> protocol_name_;
  std::optional<std::string> leader_;
  std::map<std::string, GroupMember, std::less<>> members_;
  std::map<std::string, std::string, std::less<>> static_members_;
  std::map<std::string, uint64_t, std::less<>> pending_join_;
  std::set<std::string, std::less<>> pending_sync_;
  std::optional<std::set<std::string, std::less<>>> subscribed_topics_;
};

// The topics of a ConsumerProtocolSubscription (its version-0 prefix: INT16 version, then an
// array of INT16-length strings); nullopt if the bytes do not parse.
std::optional<std::vector<std::string>> parse_consumer_subscription(std::string_view bytes);

}  // namespace kaffa::coordinator
