// ConsumerGroupHeartbeat (key 68), versions 0-1 (flexible): the consumer group protocol (KIP-848).
// v1 adds a topic regex (RE2 syntax, matched against whole names of the non-internal topics the
// principal may DESCRIBE, as Kafka's TopicRegexResolver) and requires the client to name itself
// (KIP-1082). Checks in Kafka's order: READ on the group (GROUP_AUTHORIZATION_FAILED), DESCRIBE on
// every subscribed topic name (TOPIC_AUTHORIZATION_FAILED), then the request's fields
// (INVALID_REQUEST, INVALID_REGULAR_EXPRESSION, UNSUPPORTED_ASSIGNOR, with Kafka's messages), then
// on the group's shard (COORDINATOR_LOAD_IN_PROGRESS / NOT_COORDINATOR while it cannot serve) the
// heartbeat itself (coordinator/consumer_group_manager.h). The subscribed topics are looked up in
// the broker's topic registry by the shard, so the assignment follows topics created, deleted or
// given more partitions. With `group.coordinator.rebalance.protocols` lacking "consumer" the API
// is not advertised and answers UNSUPPORTED_VERSION, as Kafka.
#include "protocol/messages/consumer_group_heartbeat.h"

#include <memory>
#include <string>
#include <vector>

#include "broker/authorize.h"
#include "broker/broker.h"
#include "broker/handlers/handlers.h"
#include "coordinator/group_manager.h"
#include "protocol/error_codes.h"
#include "security/acl.h"

namespace kaffa::broker {

using protocol::ConsumerGroupHeartbeatResponse;
using protocol::ErrorCode;

void handle_consumer_group_heartbeat(RequestContext& ctx, Responder respond) {
  protocol::ConsumerGroupHeartbeatRequest req;
  if (!ctx.decode(req)) return respond.close();
  auto fail = [&](ErrorCode e, std::string message = {}) {
    ConsumerGroupHeartbeatResponse r;
    r.error_code = protocol::code(e);
    if (!message.empty()) r.error_message = std::move(message);
    respond.send(r);
  };
  auto& coordinator = ctx.broker.coordinator();
  if (!coordinator.config().consumer_protocol_enabled) return fail(ErrorCode::unsupported_version);
  if (!authorize(ctx, AclOperation::read, ResourceType::group, req.group_id)) {
    return fail(ErrorCode::group_authorization_failed);
  }
  if (req.subscribed_topic_names) {
    for (const auto& name : *req.subscribed_topic_names) {
      if (!authorize(ctx, AclOperation::describe, ResourceType::topic, name)) {
        return fail(ErrorCode::topic_authorization_failed);
      }
    }
  }
  coordinator::ConsumerGroupManager::HeartbeatRequest hb;
  hb.group_id = std::move(req.group_id);
  hb.member_id = std::move(req.member_id);
  hb.member_epoch = req.member_epoch;
  hb.instance_id = std::move(req.instance_id);
  hb.rack_id = std::move(req.rack_id);
  hb.rebalance_timeout_ms = req.rebalance_timeout_ms;
  hb.subscribed_topic_names = std::move(req.subscribed_topic_names);
  hb.subscribed_topic_regex = std::move(req.subscribed_topic_regex);
  hb.api_version = ctx.version();
  hb.server_assignor = std::move(req.server_assignor);
  if (req.topic_partitions) {
    hb.owned.emplace();
    for (auto& t : *req.topic_partitions)
      hb.owned->emplace_back(t.topic_id, std::move(t.partitions));
  }
  hb.client_id = ctx.header.client_id.value_or("");
  hb.client_host = "/" + client_host(ctx.conn);
  auto shared =
      std::make_shared<coordinator::ConsumerGroupManager::HeartbeatRequest>(std::move(hb));
  auto out = std::make_shared<Responder>(std::move(respond));
  coordinator.with_shard(
      shared->group_id,
      [shared, out, &topics = ctx.broker.topics(), who = RequestIdentity(ctx),
       authorizer = ctx.broker.authorizer()](coordinator::CoordinatorShard* shard, ErrorCode why) {
        if (!shard) {
          ConsumerGroupHeartbeatResponse r;
          r.error_code = protocol::code(why);
          return out->send(r);
        }
        std::string message;
        if (auto e = shard->groups().consumer().check(*shared, message); e != ErrorCode::none) {
          ConsumerGroupHeartbeatResponse r;
          r.error_code = protocol::code(e);
          r.error_message = std::move(message);
          return out->send(r);
        }
        coordinator::ConsumerGroupManager::TopicLookup lookup{
            [&topics](const std::string& name) -> std::optional<coordinator::TopicMeta> {
              auto t = topics.shape_of(name);
              if (!t) return std::nullopt;
              return coordinator::TopicMeta{t->id, name, t->partitions};
            },
            [&topics, &who] {
              auto names = topics.user_topic_names();
              std::erase_if(names, [&who](const std::string& n) {
                return !who.allowed(AclOperation::describe, ResourceType::topic, n);
              });
              return names;
            },
            // Both only move on, so their sum moves whenever either does.
            [&topics, authorizer] {
              return topics.names_version() + (authorizer ? authorizer->generation() : 0);
            }};
        shard->groups().consumer_heartbeat(
            std::move(*shared), lookup, [out](ConsumerGroupHeartbeatResponse r) { out->send(r); });
      });
}

}  // namespace kaffa::broker
