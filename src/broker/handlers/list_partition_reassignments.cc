// ListPartitionReassignments (key 46), version 0 (flexible; KIP-455): the reassignments in
// progress with the current replicas (the target followed by the replicas being removed) and the
// replicas being added and removed. Null topics list every partition; partitions that do not
// exist or are not being reassigned are left out, as Kafka does. A single node never has one.
// Authorization: DESCRIBE on the cluster, else CLUSTER_AUTHORIZATION_FAILED at the top.
#include "protocol/messages/list_partition_reassignments.h"

#include <ranges>

#include "broker/authorize.h"
#include "broker/broker.h"
#include "broker/handlers/handlers.h"
#include "protocol/error_codes.h"

namespace kaffa::broker {
namespace {

using protocol::ErrorCode;
using protocol::ListPartitionReassignmentsRequest;
using protocol::ListPartitionReassignmentsResponse;

// Adds partition `index` of `topic` when it is being reassigned.
void add_if_reassigning(const cluster::TopicImage& topic, int32_t index,
                        ListPartitionReassignmentsResponse::OngoingTopicReassignment& out) {
  if (index < 0 || index >= static_cast<int32_t>(topic.partitions.size())) return;
  const cluster::PartitionState& p = topic.partitions[static_cast<size_t>(index)];
  if (!p.reassigning()) return;
  auto& part = out.partitions.emplace_back();
  part.partition_index = index;
  part.replicas = p.replicas;
  part.adding_replicas = p.adding;
  part.removing_replicas = p.removing;
}

}  // namespace

void handle_list_partition_reassignments(RequestContext& ctx, Responder respond) {
  ListPartitionReassignmentsRequest req;
  if (!ctx.decode(req)) return respond.close();
  ListPartitionReassignmentsResponse resp;
  if (!authorize_cluster(ctx, AclOperation::describe)) {
    resp.error_code = protocol::code(ErrorCode::cluster_authorization_failed);
    resp.error_message = "Authorization failed.";
    return respond.send(resp);
  }
  const cluster::ImagePtr image = ctx.broker.image();
  if (!image) return respond.send(resp);  // a single node
  auto list_topic = [&resp](const cluster::TopicImage& topic, auto&& indexes) {
    ListPartitionReassignmentsResponse::OngoingTopicReassignment t;
    t.name = topic.info.name;
    for (int32_t i : indexes) add_if_reassigning(topic, i, t);
    if (!t.partitions.empty()) resp.topics.push_back(std::move(t));
  };
  if (!req.topics) {
    for (const auto& [name, topic] : image->topics) {
      list_topic(topic, std::views::iota(0, static_cast<int32_t>(topic.partitions.size())));
    }
  } else {
    for (const auto& t : *req.topics) {
      if (const cluster::TopicImage* topic = image->topic(t.name)) {
        list_topic(*topic, t.partition_indexes);
      }
    }
  }
  respond.send(resp);
}

}  // namespace kaffa::broker
