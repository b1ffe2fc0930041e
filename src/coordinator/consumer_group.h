// ConsumerGroup: one group of Kafka's consumer group protocol (KIP-848) — the coordinator assigns
// partitions itself and every member reconciles towards its target assignment on its own
// heartbeats; there is no group-wide rebalance barrier.
//
// Epochs: the group epoch rises whenever what the assignment depends on changes (members joining
// or leaving, subscriptions, the subscribed topics' partition counts). The target assignment is
// computed for a group epoch (the assignment epoch). A member's epoch reaches the target epoch
// once it holds no partition that the target gives to another member.
//
// Reconciliation (Kafka's CurrentAssignmentBuilder), from the member's current assignment and its
// target:
//   kept     = current ∩ target
//   revoked  = current − target: while the member still reports owning any of them, it stays at
//              its epoch with `kept` (UNREVOKED_PARTITIONS), and the rebalance timeout runs
//   new      = target − kept − partitions another member still owns (those are "unreleased":
//              the member takes the target epoch and gets them on a later heartbeat, once
//              released: UNRELEASED_PARTITIONS)
// A partition is therefore never given to two members at once.
//
// Threading: owned by a ConsumerGroupManager, touched only on its shard's loop.
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

#include "protocol/wire.h"

namespace kaffa::coordinator {

// Partitions by topic id.
using TopicAssignment = std::map<protocol::Uuid, std::set<int32_t>>;

// A subscribed topic as the group last saw it.
struct TopicMeta {
  protocol::Uuid id;
  std::string name;
  int32_t partitions = 0;
  bool operator==(const TopicMeta&) const = default;
};

enum class MemberState { stable, unrevoked_partitions, unreleased_partitions };
enum class ConsumerGroupState { empty, assigning, reconciling, stable };
// Kafka's names: "Empty", "Assigning", "Reconciling", "Stable".
std::string_view state_name(ConsumerGroupState s);

struct ConsumerMember {
  std::string member_id;
  std::optional<std::string> instance_id;
  std::optional<std::string> rack_id;
  std::string client_id;
  std::string client_host;
  int32_t rebalance_timeout_ms = 0;
  std::vector<std::string> subscribed_topic_names;    // sorted, unique
  std::optional<std::string> subscribed_topic_regex;  // RE2 syntax, whole-name matches (v1)
  std::vector<std::string> regex_topics;      // what the regex matched when last resolved, sorted
  std::optional<std::string> resolved_regex;  // the regex regex_topics were matched with
  std::optional<std::string> server_assignor;
  int32_t member_epoch = 0;
  int32_t previous_member_epoch = -1;
  MemberState state = MemberState::stable;
  TopicAssignment assigned;
  TopicAssignment pending_revocation;
  // The topics it subscribes to: its names and what its regex matched, sorted and unique.
  std::vector<std::string> subscriptions() const;
  uint64_t session_token = 0;    // the armed session timer (0: none)
  uint64_t rebalance_token = 0;  // the armed revocation deadline (0: none)
};

// An assignment as a protocol message's list of {topic_id, partitions}, in topic-id order.
template <class Wire>
std::vector<Wire> assignment_to_wire(const TopicAssignment& a) {
  std::vector<Wire> out;
  out.reserve(a.size());
  for (const auto& [topic, ps] : a) {
    Wire t;
    t.topic_id = topic;
    t.partitions.assign(ps.begin(), ps.end());
    out.push_back(std::move(t));
  }
  return out;
}

// The partitions a member reports owning: nullopt when the heartbeat did not say.
using OwnedPartitions = std::optional<std::vector<std::pair<protocol::Uuid, std::vector<int32_t>>>>;

// The member as it should be once reconciled one step towards (target_epoch, target).
// `partition_epoch(topic, partition)` gives the epoch of the member holding a partition (assigned
// or pending revocation) or -1 when nobody holds it.
ConsumerMember reconcile(
    const ConsumerMember& m, int32_t target_epoch, const TopicAssignment& target,
    const std::function<int32_t(const protocol::Uuid&, int32_t)>& partition_epoch,
    const OwnedPartitions& owned);

class ConsumerGroup {
 public:
  explicit ConsumerGroup(std::string id) : id_(std::move(id)) {}

  const std::string& id() const { return id_; }
  int32_t group_epoch() const { return group_epoch_; }
  int32_t assignment_epoch() const { return assignment_epoch_; }
  ConsumerGroupState state() const;

  const std::map<std::string, ConsumerMember, std::less<>>& members() const { return members_; }
  const ConsumerMember* member(std::string_view id) const;
  bool empty() const { return members_.empty(); }
  size_t size() const { return members_.size(); }
  // The member id holding a static instance id, or nullptr.
  const std::string* static_member(std::string_view instance_id) const;

  // Adds or replaces a member (its current assignment included), keeping the partition owners
  // up to date.
  void put_member(ConsumerMember m);
  void remove_member(std::string_view member_id);
  int32_t partition_epoch(const protocol::Uuid& topic, int32_t partition) const;

  void set_group_epoch(int32_t e) { group_epoch_ = e; }
  // Topics the members subscribe to (name -> number of subscribers).
  std::map<std::string, int, std::less<>> subscribed_names() const;
  // The subscribed topics as the target assignment saw them, by name.
  using Metadata = std::map<std::string, TopicMeta, std::less<>>;
  const Metadata& subscription_metadata() const { return metadata_; }
  void set_subscription_metadata(Metadata m);

  const TopicAssignment& target(std::string_view member_id) const;
  using Targets = std::map<std::string, TopicAssignment, std::less<>>;
  const Targets& targets() const { return targets_; }
  void set_targets(int32_t epoch, Targets t);
  // Replay: one member's target, and the epoch it belongs to.
  void set_target(const std::string& member_id, TopicAssignment t);
  void erase_target(std::string_view member_id);
  void set_assignment_epoch(int32_t e) { assignment_epoch_ = e; }
  // The TopicLookup::names_version the members' regexes were last matched at (0: never).
  uint64_t regex_version() const { return regex_version_; }
  void set_regex_version(uint64_t v) { regex_version_ = v; }
  // The assignor the group uses: the one most members name, else `fallback`.
  std::string preferred_assignor(const std::string& fallback) const;

  // Undoing a change the log refused, as Kafka's runtime reverts its state to the snapshot taken
  // before a failed write. From track_changes() on, the group keeps what the changes above replace
  // (the epochs and regex version as they were, and the metadata, the targets and each member the
  // first time they change); undo_changes() puts all of it back, keep_changes() drops it. Costs a
  // copy of each member touched (a heartbeat: its own), and of the targets only when one member's
  // target changes alone (a leave, a static member's return).
  void track_changes();
  void keep_changes() { saved_.reset(); }
  void undo_changes();

 private:
  void own(const ConsumerMember& m, bool add);
  void save_member(std::string_view member_id);
  void save_targets();

  struct Saved {
    int32_t group_epoch = 0;
    int32_t assignment_epoch = 0;
    uint64_t regex_version = 0;
    std::optional<Metadata> metadata;
    std::optional<Targets> targets;
    std::map<std::string, std::optional<ConsumerMember>, std::less<>> members;  // nullopt: absent
  };

  std::string id_;
  int32_t group_epoch_ = 0;
  int32_t assignment_epoch_ = 0;
  std::map<std::string, ConsumerMember, std::less<>> members_;
  Metadata metadata_;
  Targets targets_;
  uint64_t regex_version_ = 0;
  std::map<std::pair<protocol::Uuid, int32_t>, int32_t> owners_;  // partition -> owner's epoch
  std::optional<Saved> saved_;                                    // while tracking changes
};

}  // namespace kaffa::coordinator
