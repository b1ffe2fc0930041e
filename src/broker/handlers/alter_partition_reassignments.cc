// AlterPartitionReassignments (key 45), version 0 (flexible; KIP-455). Each partition is given a
// target replica list, or null to cancel its reassignment in progress. The answer says the
// change is recorded: in a cluster the new replicas are added at once and copy the leader's log;
// the controller completes the reassignment (drops the replicas being removed, moves leadership
// off them) once every target replica is in sync. ListPartitionReassignments follows it.
// Per partition: UNKNOWN_TOPIC_OR_PARTITION, INVALID_REPLICA_ASSIGNMENT (empty list, duplicate,
// unregistered broker, or a cancel that would leave no in-sync replica),
// NO_REASSIGNMENT_IN_PROGRESS (cancel), REQUEST_TIMED_OUT. On a single node the only valid target
// is this broker, and there is never a reassignment to cancel.
// Authorization: ALTER on the cluster, else CLUSTER_AUTHORIZATION_FAILED at the top.
#include "protocol/messages/alter_partition_reassignments.h"

#include "broker/authorize.h"
#include "broker/broker.h"
#include "broker/handlers/handlers.h"
#include "cluster/controller_rules.h"
#include "cluster/etcd_metadata.h"
#include "protocol/error_codes.h"

namespace kaffa::broker {
namespace {

using protocol::AlterPartitionReassignmentsRequest;
using protocol::AlterPartitionReassignmentsResponse;
using protocol::ErrorCode;
using Reassignment = cluster::EtcdMetadata::Reassignment;
using Result = cluster::EtcdMetadata::PartitionResult;

// The request's partitions in order, and the answer built from one result per partition.
std::vector<Reassignment> flatten(const AlterPartitionReassignmentsRequest& req) {
  std::vector<Reassignment> out;
  for (const auto& t : req.topics) {
    for (const auto& p : t.partitions) out.push_back({t.name, p.partition_index, p.replicas});
  }
  return out;
}

AlterPartitionReassignmentsResponse answer(const AlterPartitionReassignmentsRequest& req,
                                           const std::vector<Result>& results) {
  AlterPartitionReassignmentsResponse resp;
  size_t i = 0;
  for (const auto& t : req.topics) {
    auto& topic = resp.responses.emplace_back();
    topic.name = t.name;
    for (const auto& p : t.partitions) {
      const Result& r = results[i++];
      auto& out = topic.partitions.emplace_back();
      out.partition_index = p.partition_index;
      out.error_code = protocol::code(r.error);
      if (r.error != ErrorCode::none) out.error_message = r.message;
    }
  }
  return resp;
}

// A single node: the rules applied to an image of this broker alone, which never changes.
Result single_node(Broker& broker, const Reassignment& r) {
  const auto topic = broker.topics().find(r.topic);
  if (!topic || r.partition < 0 || r.partition >= topic->partitions) {
    return {ErrorCode::unknown_topic_or_partition, "The partition does not exist."};
  }
  const int32_t self = broker.config().node_id;
  cluster::MetadataImage image;
  image.brokers[self].id = self;
  cluster::PartitionState p;
  p.replicas = p.isr = {self};
  p.leader = self;
  Result out;
  if (r.target) {
    cluster::start_reassignment(image, p, *r.target, &out.error, &out.message);
  } else {
    cluster::cancel_reassignment(image, p, false, &out.error, &out.message);
  }
  return out;
}

}  // namespace

void handle_alter_partition_reassignments(RequestContext& ctx, Responder respond) {
  AlterPartitionReassignmentsRequest req;
  if (!ctx.decode(req)) return respond.close();
  Broker& broker = ctx.broker;
  if (!authorize_cluster(ctx, AclOperation::alter)) {
    AlterPartitionReassignmentsResponse resp;
    resp.error_code = protocol::code(ErrorCode::cluster_authorization_failed);
    resp.error_message = "Authorization failed.";
    return respond.send(resp);
  }
  auto list = flatten(req);
  if (!broker.clustered()) {
    std::vector<Result> results;
    for (const auto& r : list) results.push_back(single_node(broker, r));
    return respond.send(answer(req, results));
  }
  auto out = std::make_shared<Responder>(std::move(respond));
  broker.metadata_store()->alter_reassignments(
      std::move(list), [out, req = std::move(req)](std::vector<Result> results) {
        out->send(answer(req, results));
      });
}

}  // namespace kaffa::broker
