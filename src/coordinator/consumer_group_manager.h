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
// Durability: membership lives in memory. Committed offsets are durable as for classic groups
// (the offset store), but a coordinator that restarts or moves forgets the members: their next
// heartbeat answers GROUP_ID_NOT_FOUND / UNKNOWN_MEMBER_ID and the clients join again with epoch
// 0 (Kafka keeps membership in __consumer_offsets records; Kaffa does not yet).
//
// Threading: lives on its shard's loop, like GroupManager; timers carry tokens (0: none) and do
// nothing once their token no longer matches.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "coordinator/consumer_group.h"
#include "protocol/error_codes.h"
#include "protocol/messages/consumer_group_describe.h"
#include "protocol/messages/consumer_group_heartbeat.h"

namespace kaffa::coordinator {

class GroupEnv;

class ConsumerGroupManager {
 public:
  static constexpr int32_t kLeaveEpoch = -1;
  static constexpr int32_t kStaticLeaveEpoch = -2;

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
    std::optional<std::string> server_assignor;
    OwnedPartitions owned;
    std::string client_id;
    std::string client_host;
  };
  // A topic by name as the broker knows it now; nullopt when it does not exist.
  using TopicLookup = std::function<std::optional<TopicMeta>(const std::string&)>;

  // Kafka's request checks (INVALID_REQUEST, UNSUPPORTED_ASSIGNOR) before any group is touched;
  // none, or the error with its message.
  protocol::ErrorCode check(const HeartbeatRequest& req, std::string& message) const;
  // The heartbeat on an existing or (epoch 0) new group; the request has passed check(). The
  // caller has made sure no classic group of that id has members.
  protocol::ConsumerGroupHeartbeatResponse heartbeat(HeartbeatRequest req,
                                                     const TopicLookup& lookup);

  const ConsumerGroup* group(std::string_view id) const;
  void remove_group(std::string_view id);
  std::vector<const ConsumerGroup*> groups() const;
  protocol::ConsumerGroupDescribeResponse::DescribedGroup describe(std::string_view id) const;

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
  ConsumerGroup* find(std::string_view id);
  uint64_t next_token() { return ++tokens_; }
  // Fetches or creates the member the request speaks for, or an error.
  protocol::ErrorCode member_for(ConsumerGroup& g, HeartbeatRequest& req, ConsumerMember& out,
                                 std::string& message);
  protocol::ConsumerGroupHeartbeatResponse leave(ConsumerGroup& g, const HeartbeatRequest& req);
  // Refreshes the subscribed topics from the broker's metadata; true when they changed.
  bool refresh_metadata(ConsumerGroup& g, const TopicLookup& lookup);
  void update_target(ConsumerGroup& g);
  void fence(ConsumerGroup& g, const std::string& member_id, std::string_view why);
  void arm_session(ConsumerGroup& g, ConsumerMember& m);
  void arm_revocation(ConsumerGroup& g, ConsumerMember& m);

  GroupEnv& env_;
  std::map<std::string, std::unique_ptr<ConsumerGroup>, std::less<>> groups_;
  uint64_t tokens_ = 0;
};

}  // namespace kaffa::coordinator
