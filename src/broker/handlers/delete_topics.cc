// DeleteTopics (key 20), versions 0-6 (flexible from 4). v0-5 name topics in topic_names; v6 in
// topics, each by name or, when the name is null, by topic id. Unknown names answer
// UNKNOWN_TOPIC_OR_PARTITION, unknown ids UNKNOWN_TOPIC_ID. Authorization: DELETE on the topic
// (checked before existence for a name, after resolving an id), else TOPIC_AUTHORIZATION_FAILED.
// In a cluster the topic is deleted in the metadata store; the answer waits until this broker's
// metadata no longer has it (every broker then removes its replicas). With delete.topic.enable
// false every topic of the request answers TOPIC_DELETION_DISABLED (INVALID_REQUEST below v3),
// before any other check, as Kafka's controller does.
#include "protocol/messages/delete_topics.h"

#include "broker/authorize.h"
#include "broker/broker.h"
#include "broker/handlers/gathered_response.h"
#include "broker/handlers/handlers.h"
#include "protocol/error_codes.h"

namespace kaffa::broker {

void handle_delete_topics(RequestContext& ctx, Responder respond) {
  protocol::DeleteTopicsRequest req;
  if (!ctx.decode(req)) return respond.close();
  auto& broker = ctx.broker;
  auto& topics = broker.topics();
  auto op = std::make_shared<GatheredResponse<protocol::DeleteTopicsResponse>>();
  op->respond.emplace(std::move(respond));
  auto& resp = op->resp;
  // Slots first: deletions complete on another thread in a cluster.
  resp.responses.resize(ctx.version() <= 5 ? req.topic_names.size() : req.topics.size());
  size_t next = 0;

  auto remove = [&](const std::optional<cluster::TopicInfo>& t, std::optional<std::string> name,
                    const protocol::Uuid& id, protocol::ErrorCode missing) {
    auto& out = resp.responses[next++];
    out.name = std::move(name);
    out.topic_id = id;
    const std::optional<std::string>& checked =
        out.name ? out.name : (t ? std::optional(t->name) : std::nullopt);
    if (checked && !authorize(ctx, AclOperation::remove, ResourceType::topic, *checked)) {
      out.error_code = protocol::code(protocol::ErrorCode::topic_authorization_failed);
      return;
    }
    if (!t) {
      out.error_code = protocol::code(missing);
      return;
    }
    out.name = t->name;
    out.topic_id = t->id;
    op->pending.fetch_add(1, std::memory_order_relaxed);
    broker.delete_topic_async(t->name, [op, &out, missing](Broker::TopicResult r) {
      if (r.error == protocol::ErrorCode::unknown_topic_or_partition) r.error = missing;
      out.error_code = protocol::code(r.error);
      if (!r.message.empty()) out.error_message = r.message;
      if (r.error == protocol::ErrorCode::none) log::info("deleted topic {}", *out.name);
      op->finish_one();
    });
  };

  if (!broker.config().delete_topic_enable) {
    const auto error = ctx.version() < 3 ? protocol::ErrorCode::invalid_request
                                         : protocol::ErrorCode::topic_deletion_disabled;
    for (size_t i = 0; i < resp.responses.size(); ++i) {
      auto& out = resp.responses[i];
      if (ctx.version() <= 5) {
        out.name = req.topic_names[i];
      } else {
        out.name = req.topics[i].name;
        out.topic_id = req.topics[i].topic_id;
      }
      out.error_code = protocol::code(error);
      if (ctx.version() >= 5) out.error_message = "Topic deletion is disabled.";
    }
    return op->finish_one();
  }
  if (ctx.version() <= 5) {
    for (const auto& name : req.topic_names) {
      remove(topics.find(name), name, {}, protocol::ErrorCode::unknown_topic_or_partition);
    }
  } else {
    for (const auto& want : req.topics) {
      if (want.name) {
        remove(topics.find(*want.name), want.name, want.topic_id,
               protocol::ErrorCode::unknown_topic_or_partition);
      } else {
        remove(topics.find(want.topic_id), std::nullopt, want.topic_id,
               protocol::ErrorCode::unknown_topic_id);
      }
    }
  }
  op->finish_one();
}

}  // namespace kaffa::broker
