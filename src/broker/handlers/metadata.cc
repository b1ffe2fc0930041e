// Metadata (key 3), versions 0-12 (flexible from 9).
// Topics requested: v0 empty list = all topics; v1+ null = all, empty = none. v4+ carries
// allow_auto_topic_creation; older versions always allow it. v10+ returns topic ids and may ask by
// id (name null); v12 answers a topic asked by id with a null name when unknown. Every partition of
// a single node has this broker as leader, only replica and only in-sync replica; one whose log
// directory is offline (or may be: not found while a directory was offline from the start) has
// no leader (LEADER_NOT_AVAILABLE) and this broker as offline replica,
// as a KRaft controller would answer. In a cluster the
// answer comes from the newest metadata image: the live brokers (their address on the listener
// the client is connected to), the controller, and per partition its leader (LEADER_NOT_AVAILABLE
// with leader -1 while it has none), leader epoch, replicas, ISR and offline replicas. A topic
// auto-created in a cluster answers LEADER_NOT_AVAILABLE until it exists (clients retry). A broker
// fenced from the metadata store (session lost) closes the connection instead of answering from
// a stale image, so that the client asks another broker.
//
// Authorization (Kafka's): a topic the principal may not DESCRIBE is left out of a list of all
// topics and answers TOPIC_AUTHORIZATION_FAILED when named (by name or id, existing or not);
// auto-creation needs CREATE on the cluster or on the topic (else TOPIC_AUTHORIZATION_FAILED).
// The authorized-operations bit fields are filled when asked for.
#include "protocol/messages/metadata.h"

#include "broker/authorize.h"
#include "broker/broker.h"
#include "broker/handlers/handlers.h"
#include "protocol/error_codes.h"

namespace kaffa::broker {
namespace {

using protocol::ErrorCode;
using protocol::MetadataResponse;

MetadataResponse::MetadataResponseTopic describe(const RequestContext& ctx,
                                                 const cluster::TopicInfo& t, int32_t node_id,
                                                 bool with_operations) {
  MetadataResponse::MetadataResponseTopic out;
  out.name = t.name;
  out.topic_id = t.id;
  out.is_internal = t.internal;
  out.partitions.reserve(static_cast<size_t>(t.partitions));
  const auto& logs = ctx.broker.partitions();
  const bool degraded = logs.some_log_dir_offline();
  for (int32_t p = 0; p < t.partitions; ++p) {
    MetadataResponse::MetadataResponsePartition part;
    part.partition_index = p;
    part.leader_id = node_id;
    part.leader_epoch = 0;
    part.replica_nodes = {node_id};
    part.isr_nodes = {node_id};
    if (degraded) {
      // Offline, or not opened: its log may be in a directory offline since the start.
      if (const auto local = logs.get(t.name, p); !local || local->offline()) {
        part.leader_id = -1;
        part.error_code = protocol::code(ErrorCode::leader_not_available);
        part.offline_replicas = {node_id};
      }
    }
    out.partitions.push_back(std::move(part));
  }
  if (with_operations) {
    out.topic_authorized_operations = authorized_operations(ctx, ResourceType::topic, t.name);
  }
  return out;
}

// In a cluster: the partitions as the image records them.
MetadataResponse::MetadataResponseTopic describe_replicated(const RequestContext& ctx,
                                                            const cluster::TopicImage& t,
                                                            const cluster::MetadataImage& image,
                                                            bool with_operations) {
  MetadataResponse::MetadataResponseTopic out;
  out.name = t.info.name;
  out.topic_id = t.info.id;
  out.is_internal = t.info.internal;
  out.partitions.reserve(t.partitions.size());
  for (size_t p = 0; p < t.partitions.size(); ++p) {
    const cluster::PartitionState& s = t.partitions[p];
    MetadataResponse::MetadataResponsePartition part;
    part.partition_index = static_cast<int32_t>(p);
    const bool reachable =
        s.leader >= 0 && ctx.broker.node(image, s.leader, ctx.conn.listener_name);
    part.leader_id = reachable ? s.leader : -1;
    if (!reachable) part.error_code = protocol::code(ErrorCode::leader_not_available);
    part.leader_epoch = s.leader_epoch;
    part.replica_nodes = s.replicas;
    part.isr_nodes = s.isr;
    for (int32_t r : s.replicas) {
      const auto* b = image.broker(r);
      if (b == nullptr || b->replica_offline(t.info.id, part.partition_index)) {
        part.offline_replicas.push_back(r);  // dead, or its log directory failed
      }
    }
    out.partitions.push_back(std::move(part));
  }
  if (with_operations) {
    out.topic_authorized_operations = authorized_operations(ctx, ResourceType::topic, t.info.name);
  }
  return out;
}

MetadataResponse::MetadataResponseTopic topic_error(std::optional<std::string> name,
                                                    const protocol::Uuid& id, ErrorCode e) {
  MetadataResponse::MetadataResponseTopic out;
  out.name = std::move(name);
  out.topic_id = id;
  out.error_code = protocol::code(e);
  return out;
}

}  // namespace

void handle_metadata(RequestContext& ctx, Responder respond) {
  protocol::MetadataRequest req;
  if (!ctx.decode(req)) return respond.close();
  Broker& broker = ctx.broker;
  if (broker.fenced()) {
    // Cut off from the metadata store, this broker's view may be stale and it leads nothing:
    // closing makes the client ask another broker (an answer would keep it asking this one).
    log::debug("closing connection {}: Metadata while fenced from the metadata store", ctx.conn.id);
    return respond.close();
  }
  const int16_t v = ctx.version();
  const int32_t node = broker.config().node_id;
  const bool ops = req.include_topic_authorized_operations;

  MetadataResponse resp;
  const cluster::ImagePtr image = broker.image();
  for (auto& a : broker.live_nodes(ctx.conn.listener_name)) {
    resp.brokers.push_back({a.node_id, a.host, a.port, a.rack, {}});
  }
  resp.controller_id = broker.controller_id();
  resp.cluster_id = broker.cluster_id();
  // A topic as this broker knows it: from the image in a cluster, else from the registry.
  auto describe_topic = [&](const cluster::TopicInfo& t) {
    if (image) {
      if (const auto* ti = image->topic(t.name); ti && ti->info.id == t.id) {
        return describe_replicated(ctx, *ti, *image, ops);
      }
    }
    return describe(ctx, t, node, ops);
  };
  if (req.include_cluster_authorized_operations) {
    resp.cluster_authorized_operations =
        authorized_operations(ctx, ResourceType::cluster, security::kClusterResourceName);
  }
  auto may_describe = [&](const std::string& name) {
    return authorize(ctx, AclOperation::describe, ResourceType::topic, name);
  };

  const bool all = !req.topics.has_value() || (v == 0 && req.topics->empty());
  if (all) {
    for (const auto& t : broker.topics().list()) {
      // Not a denial to count or log: a list of all topics is filtered, as Kafka does.
      if (!allowed(ctx, AclOperation::describe, ResourceType::topic, t.name)) continue;
      resp.topics.push_back(describe_topic(t));
    }
    return respond.send(resp);
  }
  const bool may_create =
      broker.config().auto_create_topics_enable && (v < 4 || req.allow_auto_topic_creation);
  for (const auto& want : *req.topics) {
    if (!want.name.has_value()) {
      // By id (v10+).
      if (auto t = broker.topics().find(want.topic_id); t && !may_describe(t->name)) {
        resp.topics.push_back(
            topic_error(std::nullopt, want.topic_id, ErrorCode::topic_authorization_failed));
      } else if (t) {
        resp.topics.push_back(describe_topic(*t));
      } else {
        resp.topics.push_back(
            topic_error(std::nullopt, want.topic_id, ErrorCode::unknown_topic_id));
      }
      continue;
    }
    const std::string& name = *want.name;
    if (!may_describe(name)) {
      resp.topics.push_back(topic_error(name, {}, ErrorCode::topic_authorization_failed));
      continue;
    }
    if (auto t = broker.topics().find(name)) {
      resp.topics.push_back(describe_topic(*t));
      continue;
    }
    if (cluster::invalid_topic_name(name)) {
      resp.topics.push_back(topic_error(name, {}, ErrorCode::invalid_topic_exception));
      continue;
    }
    if (!may_create) {
      resp.topics.push_back(topic_error(name, {}, ErrorCode::unknown_topic_or_partition));
      continue;
    }
    if (!authorize_cluster_or_topic(ctx, AclOperation::create, name)) {
      resp.topics.push_back(topic_error(name, {}, ErrorCode::topic_authorization_failed));
      continue;
    }
    cluster::TopicInfo info;
    info.name = name;
    info.partitions = broker.config().num_partitions;
    info.replication_factor = 1;
    if (image) {
      // Kafka's answer while an auto-created topic comes into being; clients ask again.
      info.replication_factor = broker.config().default_replication_factor;
      broker.create_topic_async(std::move(info), {}, [name](Broker::TopicResult r) {
        if (r.error == ErrorCode::none) {
          log::info("auto-created topic {} with {} partitions", name, r.topic.partitions);
        } else if (r.error != ErrorCode::topic_already_exists) {
          log::warn("cannot auto-create topic {}: {}", name, r.message);
        }
      });
      resp.topics.push_back(topic_error(name, {}, ErrorCode::leader_not_available));
      continue;
    }
    cluster::TopicInfo created;
    std::string why;
    const auto result = broker.create_topic(std::move(info), &created, &why);
    if (result == cluster::TopicRegistry::CreateResult::collides) {
      resp.topics.push_back(topic_error(name, {}, ErrorCode::invalid_topic_exception));
      continue;
    }
    if (result == cluster::TopicRegistry::CreateResult::storage_error) {
      resp.topics.push_back(topic_error(name, {}, ErrorCode::leader_not_available));
      continue;
    }
    if (result == cluster::TopicRegistry::CreateResult::created) {
      log::info("auto-created topic {} with {} partitions", name, created.partitions);
      resp.topics.push_back(describe(ctx, created, node, ops));
    } else if (auto t = broker.topics().find(name)) {  // created concurrently by another request
      resp.topics.push_back(describe_topic(*t));
    }
  }
  respond.send(resp);
}

}  // namespace kaffa::broker
