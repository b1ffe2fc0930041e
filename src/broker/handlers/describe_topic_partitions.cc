// DescribeTopicPartitions (key 75), version 0 (flexible; KIP-966): topics with their partitions,
// as Metadata describes them, but in pages: Kafka 3.7+ admin clients (kafka-topics.sh
// --describe) ask it.
//
// Kafka's rules (DescribeTopicPartitionsRequestHandler, KRaftMetadataCache):
// - No topics named: every topic the principal may DESCRIBE (the others are left out);
//   named: those, each refused with TOPIC_AUTHORIZATION_FAILED (listed after the others, with
//   no id) without DESCRIBE, UNKNOWN_TOPIC_OR_PARTITION (INVALID_TOPIC_EXCEPTION for a bad
//   name) when absent.
// - Topics go in name order from the cursor's topic (names below it are skipped), that topic
//   from the cursor's partition. At most min(response_partition_limit,
//   max.request.partition.size.limit) partitions (at least 1) are listed; when a topic is cut,
//   or the next topic would exceed the limit, next_cursor names where to ask again.
// - A cursor with a negative partition, or naming a topic outside the named ones, is
//   INVALID_REQUEST for every named topic.
// - Partitions: leader (-1 while it has none, or is not reachable on the client's listener),
//   leader epoch, replicas, ISR, offline replicas; no eligible leader replicas (KIP-966's ELR is
//   not kept: empty lists, as Kafka with ELR off). Partition errors are always NONE.
// - topic_authorized_operations is filled for every topic answered.
#include "protocol/messages/describe_topic_partitions.h"

#include <algorithm>
#include <map>
#include <optional>

#include "broker/authorize.h"
#include "broker/broker.h"
#include "broker/handlers/handlers.h"
#include "protocol/error_codes.h"

namespace kaffa::broker {
namespace {

using protocol::DescribeTopicPartitionsRequest;
using protocol::DescribeTopicPartitionsResponse;
using protocol::ErrorCode;
using Topic = DescribeTopicPartitionsResponse::DescribeTopicPartitionsResponseTopic;

// Partitions [from, to) of `t`: from the image in a cluster, else this node's single replica.
void add_partitions(const RequestContext& ctx, const cluster::TopicInfo& t,
                    const cluster::MetadataImage* image, int32_t from, int32_t to, Topic& out) {
  const cluster::TopicImage* ti = image ? image->topic(t.name) : nullptr;
  if (ti != nullptr && !(ti->info.id == t.id)) ti = nullptr;
  const int32_t node = ctx.broker.config().node_id;
  for (int32_t p = from; p < to; ++p) {
    auto& part = out.partitions.emplace_back();
    part.partition_index = p;
    part.eligible_leader_replicas.emplace();
    part.last_known_elr.emplace();
    if (ti == nullptr || static_cast<size_t>(p) >= ti->partitions.size()) {
      part.leader_id = node;
      part.leader_epoch = 0;
      part.replica_nodes = {node};
      part.isr_nodes = {node};
      continue;
    }
    const cluster::PartitionState& s = ti->partitions[static_cast<size_t>(p)];
    const bool reachable =
        s.leader >= 0 && ctx.broker.node(*image, s.leader, ctx.conn.listener_name);
    part.leader_id = reachable ? s.leader : -1;
    part.leader_epoch = s.leader_epoch;
    part.replica_nodes = s.replicas;
    part.isr_nodes = s.isr;
    for (int32_t r : s.replicas) {
      if (image->broker(r) == nullptr) part.offline_replicas.push_back(r);
    }
  }
}

DescribeTopicPartitionsResponse invalid_request(const DescribeTopicPartitionsRequest& req) {
  DescribeTopicPartitionsResponse resp;
  for (const auto& t : req.topics) {
    auto& out = resp.topics.emplace_back();
    out.name = t.name;
    out.error_code = protocol::code(ErrorCode::invalid_request);
  }
  return resp;
}

}  // namespace

void handle_describe_topic_partitions(RequestContext& ctx, Responder respond) {
  DescribeTopicPartitionsRequest req;
  if (!ctx.decode(req)) return respond.close();
  const bool all = req.topics.empty();
  const std::string from_topic = req.cursor ? req.cursor->topic_name : "";
  // In name order, from the cursor's topic on; listed topics come with their info, named ones
  // are looked up once they are reached.
  std::map<std::string, std::optional<cluster::TopicInfo>> names;
  if (all) {
    for (auto& t : ctx.broker.topics().list()) {
      if (t.name >= from_topic) names.emplace(t.name, std::move(t));
    }
  } else {
    for (const auto& t : req.topics) {
      if (t.name >= from_topic) names.emplace(t.name, std::nullopt);
    }
    if (req.cursor && names.count(req.cursor->topic_name) == 0) {
      return respond.send(invalid_request(req));
    }
  }
  if (req.cursor && req.cursor->partition_index < 0) return respond.send(invalid_request(req));

  DescribeTopicPartitionsResponse resp;
  std::vector<Topic> refused;
  const cluster::ImagePtr image = ctx.broker.image();
  int32_t remaining = std::max(
      std::min(ctx.broker.config().max_request_partition_size_limit, req.response_partition_limit),
      1);
  for (auto& [name, t] : names) {
    if (all ? !allowed(ctx, AclOperation::describe, ResourceType::topic, name)
            : !authorize(ctx, AclOperation::describe, ResourceType::topic, name)) {
      if (!all) {
        auto& out = refused.emplace_back();
        out.name = name;
        out.error_code = protocol::code(ErrorCode::topic_authorization_failed);
      }
      continue;
    }
    if (remaining == 0) {  // the previous topic filled the page: go on from this one
      resp.next_cursor.emplace().topic_name = name;
      resp.next_cursor->partition_index = 0;
      break;
    }
    if (!all) t = ctx.broker.topics().find(name);
    if (!t) {  // a named topic that does not exist (listed ones always do)
      auto& out = resp.topics.emplace_back();
      out.name = name;
      out.error_code =
          protocol::code(cluster::invalid_topic_name(name) ? ErrorCode::invalid_topic_exception
                                                           : ErrorCode::unknown_topic_or_partition);
      continue;
    }
    auto& out = resp.topics.emplace_back();
    out.name = name;
    out.topic_id = t->id;
    out.is_internal = t->internal;
    out.topic_authorized_operations = authorized_operations(ctx, ResourceType::topic, name);
    const int32_t first = name == from_topic && req.cursor ? req.cursor->partition_index : 0;
    const int32_t start = std::min(first, t->partitions);
    const int32_t end = start + std::min(remaining, t->partitions - start);
    add_partitions(ctx, *t, image.get(), start, end, out);
    remaining -= end - start;
    if (end < t->partitions) {  // cut inside this topic
      resp.next_cursor.emplace().topic_name = name;
      resp.next_cursor->partition_index = end;
      break;
    }
  }
  for (auto& r : refused) resp.topics.push_back(std::move(r));
  respond.send(resp);
}

}  // namespace kaffa::broker
