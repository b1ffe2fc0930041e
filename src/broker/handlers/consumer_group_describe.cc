// ConsumerGroupDescribe (key 69), versions 0-1 (flexible; v1 adds each member's type, KIP-1099,
// always 1, "consumer", since Kaffa has no classic members in consumer groups): groups of the
// consumer group protocol (KIP-848) with their state, epochs, assignor and members (current and
// target assignment, topic ids with the names the broker's topic registry gives them now). Each
// group on its own shard, answers in the request's order. A group that is absent, or a classic
// group, answers GROUP_ID_NOT_FOUND; a shard that cannot serve answers COORDINATOR_LOAD_IN_PROGRESS
// / NOT_COORDINATOR for its groups. Authorization: DESCRIBE on each group, else
// GROUP_AUTHORIZATION_FAILED for it; then DESCRIBE on every topic of its members' current and
// target assignments, else TOPIC_AUTHORIZATION_FAILED for the group with Kafka's message and
// nothing else; the authorized operations when asked.
#include "protocol/messages/consumer_group_describe.h"

#include <memory>

#include "broker/authorize.h"
#include "broker/broker.h"
#include "broker/handlers/gathered_response.h"
#include "broker/handlers/handlers.h"
#include "coordinator/group_manager.h"
#include "protocol/error_codes.h"

namespace kaffa::broker {

using protocol::ConsumerGroupDescribeResponse;
using protocol::ErrorCode;

namespace {

// Whether the principal may DESCRIBE every topic the group's members have or are to get.
bool topics_describable(const ConsumerGroupDescribeResponse::DescribedGroup& g,
                        const RequestIdentity& who) {
  auto allowed = [&who](const auto& assignment) {
    for (const auto& t : assignment.topic_partitions) {
      if (t.topic_name.empty()) continue;  // a deleted topic (shown without a name)
      if (!who.allowed(AclOperation::describe, ResourceType::topic, t.topic_name)) return false;
    }
    return true;
  };
  for (const auto& m : g.members) {
    if (!allowed(m.assignment) || !allowed(m.target_assignment)) return false;
  }
  return true;
}

}  // namespace

void handle_consumer_group_describe(RequestContext& ctx, Responder respond) {
  protocol::ConsumerGroupDescribeRequest req;
  if (!ctx.decode(req)) return respond.close();
  auto& coordinator = ctx.broker.coordinator();
  if (!coordinator.config().consumer_protocol_enabled) {
    ConsumerGroupDescribeResponse r;
    for (const auto& id : req.group_ids) {
      auto& g = r.groups.emplace_back();
      g.group_id = id;
      g.error_code = protocol::code(ErrorCode::unsupported_version);
    }
    return respond.send(r);
  }
  auto op = std::make_shared<GatheredResponse<ConsumerGroupDescribeResponse>>();
  op->respond.emplace(std::move(respond));
  op->resp.groups.resize(req.group_ids.size());
  op->pending.fetch_add(req.group_ids.size(), std::memory_order_relaxed);
  for (size_t i = 0; i < req.group_ids.size(); ++i) {
    const std::string& id = req.group_ids[i];
    auto& slot = op->resp.groups[i];
    if (!authorize(ctx, AclOperation::describe, ResourceType::group, id)) {
      slot.group_id = id;
      slot.error_code = protocol::code(ErrorCode::group_authorization_failed);
      op->finish_one();
      continue;
    }
    const std::optional<int32_t> operations =
        req.include_authorized_operations
            ? std::optional<int32_t>(authorized_operations(ctx, ResourceType::group, id))
            : std::nullopt;
    coordinator.with_shard(
        id, [op, i, id, operations, &topics = ctx.broker.topics(), who = RequestIdentity(ctx)](
                coordinator::CoordinatorShard* shard, ErrorCode why) {
          auto& out = op->resp.groups[i];
          if (!shard) {
            out.group_id = id;
            out.error_code = protocol::code(why);
          } else {
            out = shard->groups().consumer().describe(
                id, [&topics](const protocol::Uuid& t) { return topics.name_of(t); });
            if (shard->groups().group(id)) {
              out.error_message = "Group " + id + " is not a consumer group.";
            }
            if (out.error_code == 0 && !topics_describable(out, who)) {
              out = {};
              out.group_id = id;
              out.error_code = protocol::code(ErrorCode::topic_authorization_failed);
              out.error_message =
                  "The group has described topic(s) that the client is not authorized to describe.";
            }
            if (operations && out.error_code == 0) out.authorized_operations = *operations;
          }
          op->finish_one();
        });
  }
  op->finish_one();
}

}  // namespace kaffa::broker
