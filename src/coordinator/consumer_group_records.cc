#include "coordinator/consumer_group_records.h"

#include <utility>

#include "protocol/messages/consumer_group_current_member_assignment_key.h"
#include "protocol/messages/consumer_group_current_member_assignment_value.h"
#include "protocol/messages/consumer_group_member_metadata_key.h"
#include "protocol/messages/consumer_group_member_metadata_value.h"
#include "protocol/messages/consumer_group_metadata_key.h"
#include "protocol/messages/consumer_group_metadata_value.h"
#include "protocol/messages/consumer_group_partition_metadata_key.h"
#include "protocol/messages/consumer_group_partition_metadata_value.h"
#include "protocol/messages/consumer_group_target_assignment_member_key.h"
#include "protocol/messages/consumer_group_target_assignment_member_value.h"
#include "protocol/messages/consumer_group_target_assignment_metadata_key.h"
#include "protocol/messages/consumer_group_target_assignment_metadata_value.h"
#include "protocol/versioned_record.h"

namespace kaffa::coordinator::consumer_records {
namespace {

using protocol::versioned::decode_exact;
using protocol::versioned::encode;
using protocol::versioned::fail;
using protocol::versioned::read_version;

constexpr int16_t kGroupEpochKey = 3;
constexpr int16_t kSubscriptionMetadataKey = 4;
constexpr int16_t kMemberMetadataKey = 5;
constexpr int16_t kTargetEpochKey = 6;
constexpr int16_t kTargetMemberKey = 7;
constexpr int16_t kCurrentAssignmentKey = 8;

template <class K>
std::string group_key(std::string_view group, int16_t version) {
  K k;
  k.group_id = group;
  return encode(k, version);
}

template <class K>
std::string member_key(std::string_view group, std::string_view member, int16_t version) {
  K k;
  k.group_id = group;
  k.member_id = member;
  return encode(k, version);
}

template <class Wire>
TopicAssignment from_wire(const std::vector<Wire>& in) {
  TopicAssignment out;
  for (const auto& t : in) out[t.topic_id].insert(t.partitions.begin(), t.partitions.end());
  return out;
}

}  // namespace

Record group_epoch(std::string_view group, int32_t epoch) {
  protocol::ConsumerGroupMetadataValue v;
  v.epoch = epoch;
  return {group_key<protocol::ConsumerGroupMetadataKey>(group, kGroupEpochKey), encode(v, 0)};
}

Record member_metadata(std::string_view group, const ConsumerMember& m) {
  protocol::ConsumerGroupMemberMetadataValue v;
  v.instance_id = m.instance_id;
  v.rack_id = m.rack_id;
  v.client_id = m.client_id;
  v.client_host = m.client_host;
  v.subscribed_topic_names = m.subscribed_topic_names;
  v.subscribed_topic_regex = m.subscribed_topic_regex;
  v.rebalance_timeout_ms = m.rebalance_timeout_ms;
  v.server_assignor = m.server_assignor;
  return {
      member_key<protocol::ConsumerGroupMemberMetadataKey>(group, m.member_id, kMemberMetadataKey),
      encode(v, 0)};
}

Record target_epoch(std::string_view group, int32_t epoch) {
  protocol::ConsumerGroupTargetAssignmentMetadataValue v;
  v.assignment_epoch = epoch;
  return {group_key<protocol::ConsumerGroupTargetAssignmentMetadataKey>(group, kTargetEpochKey),
          encode(v, 0)};
}

Record target_member(std::string_view group, std::string_view member, const TopicAssignment& a) {
  protocol::ConsumerGroupTargetAssignmentMemberValue v;
  v.topic_partitions =
      assignment_to_wire<protocol::ConsumerGroupTargetAssignmentMemberValue::TopicPartition>(a);
  return {
      member_key<protocol::ConsumerGroupTargetAssignmentMemberKey>(group, member, kTargetMemberKey),
      encode(v, 0)};
}

Record current_assignment(std::string_view group, const ConsumerMember& m) {
  using V = protocol::ConsumerGroupCurrentMemberAssignmentValue;
  V v;
  v.member_epoch = m.member_epoch;
  v.previous_member_epoch = m.previous_member_epoch;
  v.state = static_cast<int8_t>(m.state);
  v.assigned_partitions = assignment_to_wire<V::TopicPartitions>(m.assigned);
  v.partitions_pending_revocation = assignment_to_wire<V::TopicPartitions>(m.pending_revocation);
  return {member_key<protocol::ConsumerGroupCurrentMemberAssignmentKey>(group, m.member_id,
                                                                        kCurrentAssignmentKey),
          encode(v, 0)};
}

Record subscription_metadata(std::string_view group, const ConsumerGroup::Metadata& topics) {
  protocol::ConsumerGroupPartitionMetadataValue v;
  for (const auto& [name, t] : topics) {
    auto& out = v.topics.emplace_back();
    out.topic_id = t.id;
    out.topic_name = name;
    out.num_partitions = t.partitions;
  }
  return {group_key<protocol::ConsumerGroupPartitionMetadataKey>(group, kSubscriptionMetadataKey),
          encode(v, 0)};
}

Record subscription_metadata_tombstone(std::string_view group) {
  return {group_key<protocol::ConsumerGroupPartitionMetadataKey>(group, kSubscriptionMetadataKey),
          std::nullopt};
}

Record group_epoch_tombstone(std::string_view group) {
  return {group_key<protocol::ConsumerGroupMetadataKey>(group, kGroupEpochKey), std::nullopt};
}

Record member_metadata_tombstone(std::string_view group, std::string_view member) {
  return {member_key<protocol::ConsumerGroupMemberMetadataKey>(group, member, kMemberMetadataKey),
          std::nullopt};
}

Record target_epoch_tombstone(std::string_view group) {
  return {group_key<protocol::ConsumerGroupTargetAssignmentMetadataKey>(group, kTargetEpochKey),
          std::nullopt};
}

Record target_member_tombstone(std::string_view group, std::string_view member) {
  return {
      member_key<protocol::ConsumerGroupTargetAssignmentMemberKey>(group, member, kTargetMemberKey),
      std::nullopt};
}

Record current_assignment_tombstone(std::string_view group, std::string_view member) {
  return {member_key<protocol::ConsumerGroupCurrentMemberAssignmentKey>(group, member,
                                                                        kCurrentAssignmentKey),
          std::nullopt};
}

bool is_consumer_group_key(std::string_view key) {
  int16_t version = 0;
  if (!read_version(key, version, "key", nullptr)) return false;
  return version >= kGroupEpochKey && version <= kCurrentAssignmentKey;
}

bool decode(std::string_view key, std::optional<std::string_view> value, Decoded& out,
            std::string* error) {
  int16_t version = 0;
  if (!read_version(key, version, "key", error)) return false;
  out = Decoded{};
  out.tombstone = !value.has_value();
  auto group_only = [&](auto k, const char* what) {
    if (!decode_exact(key, version, k, what, error)) return false;
    out.group_id = std::move(k.group_id);
    return true;
  };
  auto with_member = [&](auto k, const char* what) {
    if (!decode_exact(key, version, k, what, error)) return false;
    out.group_id = std::move(k.group_id);
    out.member_id = std::move(k.member_id);
    out.member.member_id = out.member_id;
    return true;
  };
  switch (version) {
    case kGroupEpochKey: {
      out.kind = Decoded::Kind::group_epoch;
      if (!group_only(protocol::ConsumerGroupMetadataKey{}, "consumer group key")) return false;
      if (!value) return true;
      protocol::ConsumerGroupMetadataValue v;
      if (!protocol::versioned::decode(*value, v, "consumer group value", error)) return false;
      out.epoch = v.epoch;
      return true;
    }
    case kSubscriptionMetadataKey: {
      out.kind = Decoded::Kind::subscription_metadata;
      if (!group_only(protocol::ConsumerGroupPartitionMetadataKey{}, "partition metadata key")) {
        return false;
      }
      if (!value) return true;
      protocol::ConsumerGroupPartitionMetadataValue v;
      if (!protocol::versioned::decode(*value, v, "partition metadata value", error)) {
        return false;
      }
      for (auto& t : v.topics) {
        out.topics[t.topic_name] = TopicMeta{t.topic_id, t.topic_name, t.num_partitions};
      }
      return true;
    }
    case kMemberMetadataKey: {
      out.kind = Decoded::Kind::member_metadata;
      if (!with_member(protocol::ConsumerGroupMemberMetadataKey{}, "member metadata key")) {
        return false;
      }
      if (!value) return true;
      protocol::ConsumerGroupMemberMetadataValue v;
      if (!protocol::versioned::decode(*value, v, "member metadata value", error)) return false;
      out.member.instance_id = std::move(v.instance_id);
      out.member.rack_id = std::move(v.rack_id);
      out.member.client_id = std::move(v.client_id);
      out.member.client_host = std::move(v.client_host);
      out.member.subscribed_topic_names = std::move(v.subscribed_topic_names);
      out.member.subscribed_topic_regex = std::move(v.subscribed_topic_regex);
      out.member.rebalance_timeout_ms = v.rebalance_timeout_ms;
      out.member.server_assignor = std::move(v.server_assignor);
      return true;
    }
    case kTargetEpochKey: {
      out.kind = Decoded::Kind::target_epoch;
      if (!group_only(protocol::ConsumerGroupTargetAssignmentMetadataKey{}, "target epoch key")) {
        return false;
      }
      if (!value) return true;
      protocol::ConsumerGroupTargetAssignmentMetadataValue v;
      if (!protocol::versioned::decode(*value, v, "target epoch value", error)) return false;
      out.epoch = v.assignment_epoch;
      return true;
    }
    case kTargetMemberKey: {
      out.kind = Decoded::Kind::target_member;
      if (!with_member(protocol::ConsumerGroupTargetAssignmentMemberKey{}, "target member key")) {
        return false;
      }
      if (!value) return true;
      protocol::ConsumerGroupTargetAssignmentMemberValue v;
      if (!protocol::versioned::decode(*value, v, "target member value", error)) return false;
      out.target = from_wire(v.topic_partitions);
      return true;
    }
    case kCurrentAssignmentKey: {
      out.kind = Decoded::Kind::current_assignment;
      if (!with_member(protocol::ConsumerGroupCurrentMemberAssignmentKey{},
                       "current assignment key")) {
        return false;
      }
      if (!value) return true;
      protocol::ConsumerGroupCurrentMemberAssignmentValue v;
      if (!protocol::versioned::decode(*value, v, "current assignment value", error)) return false;
      if (v.state < 0 || v.state > 2) {
        return fail(error, "unknown member state " + std::to_string(v.state));
      }
      out.member.member_epoch = v.member_epoch;
      out.member.previous_member_epoch = v.previous_member_epoch;
      out.member.state = static_cast<MemberState>(v.state);
      out.member.assigned = from_wire(v.assigned_partitions);
      out.member.pending_revocation = from_wire(v.partitions_pending_revocation);
      return true;
    }
    default:
      return fail(error,
                  "not a consumer group record (key version " + std::to_string(version) + ")");
  }
}

}  // namespace kaffa::coordinator::consumer_records
