// OffsetDelete (key 47), version 0 (KIP-496): deletes a group's committed offsets of some
// partitions.
// Group-level errors (the response then lists no topics): INVALID_GROUP_ID for an empty group id,
// COORDINATOR_LOAD_IN_PROGRESS while the shard loads, GROUP_ID_NOT_FOUND for a group that is
// neither known to the GroupManager nor has committed offsets (or is Dead), NON_EMPTY_GROUP for
// a group with members of a protocol type other than "consumer" (as Kafka), a write failure. Per
// partition: UNKNOWN_TOPIC_OR_PARTITION for a partition that does not exist,
// GROUP_SUBSCRIBED_TO_TOPIC when a member of the group is subscribed to the topic; otherwise a
// tombstone is written for each committed or pending transactional offset (as Kafka) and the
// offsets disappear (and the client is answered) once the tombstones are durable. Authorization
// (first, as Kafka): DELETE on the group (else the group-level GROUP_AUTHORIZATION_FAILED), READ on
// each topic (else TOPIC_AUTHORIZATION_FAILED for its partitions).
#include "protocol/messages/offset_delete.h"

#include <memory>

#include "broker/broker.h"
#include "broker/handlers/handlers.h"
#include "broker/handlers/known_partitions.h"
#include "coordinator/group.h"
#include "coordinator/group_coordinator.h"
#include "coordinator/group_manager.h"
#include "coordinator/offset_store.h"
#include "coordinator/records.h"
#include "protocol/error_codes.h"

namespace kaffa::broker {
namespace {

using coordinator::CoordinatorShard;
using protocol::ErrorCode;
using protocol::OffsetDeleteRequest;
using protocol::OffsetDeleteResponse;

// Not (yet) named in protocol/error_codes.h.
constexpr int16_t kInvalidGroupId = protocol::code(protocol::ErrorCode::invalid_group_id);
constexpr int16_t kNonEmptyGroup = protocol::code(protocol::ErrorCode::non_empty_group);
constexpr int16_t kGroupSubscribedToTopic =
    protocol::code(protocol::ErrorCode::group_subscribed_to_topic);

struct OffsetDeleteOp {
  OffsetDeleteRequest req;
  OffsetDeleteResponse resp;
  std::optional<Responder> respond;
  std::vector<std::vector<bool>> known;  // [topic][partition]: the partition exists

  void fail(int16_t error) {
    resp.error_code = error;
    resp.topics.clear();
    respond->send(resp);
  }
};

// On the group's shard loop.
void delete_on_shard(const std::shared_ptr<OffsetDeleteOp>& op, CoordinatorShard* shard,
                     ErrorCode why) {
  if (!shard) return op->fail(protocol::code(why));
  const std::string& group = op->req.group_id;
  auto& offsets = shard->offsets();
  // Kafka's validateOffsetDelete. A group with only "simple" commits has no Group object here
  // (Kafka keeps an Empty one): its offsets make it exist.
  if (const coordinator::Group* g = shard->groups().group(group)) {
    if (g->is(coordinator::GroupState::dead)) {
      return op->fail(protocol::code(ErrorCode::group_id_not_found));
    }
    if (!g->is(coordinator::GroupState::empty) && g->protocol_type() != "consumer") {
      return op->fail(kNonEmptyGroup);  // members whose subscriptions Kaffa cannot read
    }
  } else if (!offsets.has_offsets(group) && !shard->groups().has_group(group)) {
    return op->fail(protocol::code(ErrorCode::group_id_not_found));  // neither kind, no offsets
  }

  struct Deleted {
    std::string topic;
    int32_t partition;
  };
  auto deleted = std::make_shared<std::vector<Deleted>>();
  std::vector<CoordinatorShard::Record> records;
  for (size_t t = 0; t < op->req.topics.size(); ++t) {
    const auto& topic = op->req.topics[t];
    const bool subscribed = shard->groups().is_subscribed(group, topic.name);
    for (size_t p = 0; p < topic.partitions.size(); ++p) {
      if (!op->known[t][p]) continue;
      const int32_t partition = topic.partitions[p].partition_index;
      if (subscribed) {
        op->resp.topics[t].partitions[p].error_code = kGroupSubscribedToTopic;
      } else if (offsets.get(group, topic.name, partition) ||
                 offsets.has_pending(group, topic.name, partition)) {
        records.push_back(
            {coordinator::records::offset_commit_key(group, topic.name, partition), std::nullopt});
        deleted->push_back({topic.name, partition});
      }
    }
  }
  shard->write(std::move(records), [op, shard, deleted](ErrorCode e) {
    if (e != ErrorCode::none) {
      // Kafka reports a failed append of coordinator records as COORDINATOR_NOT_AVAILABLE, or
      // UNKNOWN_SERVER_ERROR when it was too large.
      const bool too_large =
          e == ErrorCode::message_too_large || e == ErrorCode::record_list_too_large;
      return op->fail(protocol::code(too_large ? ErrorCode::unknown_server_error : e));
    }
    for (const auto& d : *deleted) {
      shard->offsets().apply(op->req.group_id, d.topic, d.partition, std::nullopt);
    }
    op->respond->send(op->resp);
  });
}

}  // namespace

void handle_offset_delete(RequestContext& ctx, Responder respond) {
  auto op = std::make_shared<OffsetDeleteOp>();
  if (!ctx.decode(op->req)) return respond.close();
  op->respond.emplace(std::move(respond));
  if (!authorize(ctx, AclOperation::remove, ResourceType::group, op->req.group_id)) {
    return op->fail(protocol::code(ErrorCode::group_authorization_failed));
  }
  if (op->req.group_id.empty()) return op->fail(kInvalidGroupId);

  mark_known_partitions(ctx, op->req.topics, op->resp.topics, op->known);
  // The coordinator is asked even when no partition exists: group errors come first (as Kafka).
  ctx.broker.coordinator().with_shard(
      op->req.group_id,
      [op](CoordinatorShard* shard, ErrorCode why) { delete_on_shard(op, shard, why); });
}

}  // namespace kaffa::broker
