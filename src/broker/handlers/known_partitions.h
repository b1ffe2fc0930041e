// What OffsetCommit and OffsetDelete share before they ask the coordinator: the response skeleton
// (each topic and partition of the request, in order) with TOPIC_AUTHORIZATION_FAILED for the
// topics the principal may not READ and UNKNOWN_TOPIC_OR_PARTITION for the partitions that do not
// exist (authorization first, as Kafka). Existence is the cluster's, as Kafka's metadata cache
// says: in a cluster the coordinator need not host a replica of the partitions it commits for.
#pragma once

#include <vector>

#include "broker/authorize.h"
#include "broker/broker.h"
#include "protocol/error_codes.h"

namespace kaffa::broker {

// Fills `out_topics` from `in_topics`; known[t][p] says whether partition p of topic t exists and
// may be acted on. Returns whether any may. With `group_error` every partition carries it instead.
template <class InTopics, class OutTopics>
bool mark_known_partitions(const RequestContext& ctx, const InTopics& in_topics,
                           OutTopics& out_topics, std::vector<std::vector<bool>>& known,
                           protocol::ErrorCode group_error = protocol::ErrorCode::none) {
  bool any = false;
  known.assign(in_topics.size(), {});
  for (size_t t = 0; t < in_topics.size(); ++t) {
    const auto& topic = in_topics[t];
    auto& out = out_topics.emplace_back();
    out.name = topic.name;
    const bool allowed = group_error == protocol::ErrorCode::none &&
                         authorize(ctx, AclOperation::read, ResourceType::topic, topic.name);
    const auto info = allowed ? ctx.broker.topics().find(topic.name) : std::nullopt;
    for (const auto& part : topic.partitions) {
      auto& p = out.partitions.emplace_back();
      p.partition_index = part.partition_index;
      const bool exists =
          info && part.partition_index >= 0 && part.partition_index < info->partitions;
      if (group_error != protocol::ErrorCode::none) {
        p.error_code = protocol::code(group_error);
      } else if (!allowed) {
        p.error_code = protocol::code(protocol::ErrorCode::topic_authorization_failed);
      } else if (!exists) {
        p.error_code = protocol::code(protocol::ErrorCode::unknown_topic_or_partition);
      }
      known[t].push_back(exists);
      any = any || exists;
    }
  }
  return any;
}

}  // namespace kaffa::broker
