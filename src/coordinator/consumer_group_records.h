// The records of consumer groups of the KIP-848 protocol in __consumer_offsets, byte for byte
// Kafka's (schema/records/consumer_group_*.ks): an INT16 key version names the record type, the
// value is an INT16 version (0) and the flexible message.
//
//   key version 3  ConsumerGroupMetadata (group)                    value: the group epoch
//               5  ConsumerGroupMemberMetadata (group, member)      value: what the member said
//               6  ConsumerGroupTargetAssignmentMetadata (group)    value: the assignment epoch
//               7  ConsumerGroupTargetAssignmentMember (group, m.)  value: the member's target
//               8  ConsumerGroupCurrentMemberAssignment (group, m.) value: epochs, state,
//               partitions
//               4  ConsumerGroupPartitionMetadata (group)          value: the subscribed topics
//               (Kafka 3.7-3.9's subscription metadata: after a load, topics that did not change
//               do not move the group epoch)
//
// A null value (tombstone) deletes what the key names.
//
// Pure functions, any thread.
#pragma once

#include <optional>
#include <string>
#include <string_view>

#include "coordinator/consumer_group.h"
#include "coordinator/coordinator_shard.h"

namespace kaffa::coordinator::consumer_records {

using Record = CoordinatorShard::Record;

Record group_epoch(std::string_view group, int32_t epoch);
Record member_metadata(std::string_view group, const ConsumerMember& m);
Record target_epoch(std::string_view group, int32_t epoch);
Record target_member(std::string_view group, std::string_view member, const TopicAssignment& a);
Record current_assignment(std::string_view group, const ConsumerMember& m);
Record subscription_metadata(std::string_view group, const ConsumerGroup::Metadata& topics);

Record group_epoch_tombstone(std::string_view group);
Record member_metadata_tombstone(std::string_view group, std::string_view member);
Record target_epoch_tombstone(std::string_view group);
Record target_member_tombstone(std::string_view group, std::string_view member);
Record current_assignment_tombstone(std::string_view group, std::string_view member);
Record subscription_metadata_tombstone(std::string_view group);

struct Decoded {
  enum class Kind {
    group_epoch,
    member_metadata,
    target_epoch,
    target_member,
    current_assignment,
    subscription_metadata
  };
  Kind kind = Kind::group_epoch;
  std::string group_id;
  std::string member_id;  // the member records only
  bool tombstone = false;
  int32_t epoch = 0;       // group_epoch, target_epoch
  ConsumerMember member;   // member_metadata: its metadata; current_assignment: epochs, state and
                           // partitions
  TopicAssignment target;  // target_member
  ConsumerGroup::Metadata topics;  // subscription_metadata
};

// Whether the key is one of the record types above.
bool is_consumer_group_key(std::string_view key);
// False, with *error, for malformed bytes or an unknown version.
bool decode(std::string_view key, std::optional<std::string_view> value, Decoded& out,
            std::string* error);

}  // namespace kaffa::coordinator::consumer_records
