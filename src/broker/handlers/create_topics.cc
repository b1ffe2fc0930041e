// CreateTopics (key 19), versions 0-7 (flexible from 5).
// Per topic, in Kafka's order of checks: duplicate names in one request (INVALID_REQUEST for each
// copy), name rules (INVALID_TOPIC_EXCEPTION), existence (TOPIC_ALREADY_EXISTS), partitions and
// replication factor or a manual assignment (INVALID_PARTITIONS, INVALID_REPLICATION_FACTOR,
// INVALID_REPLICA_ASSIGNMENT, INVALID_REQUEST when both are given), configs (INVALID_CONFIG).
// -1 partitions / replication factor take the broker defaults (v4+). validate_only (v1+) checks
// without creating. v5+ echoes partitions, replication factor and the configs; v7 the topic id.
// Authorization, right after the duplicate check as Kafka: CREATE on the cluster or on the topic
// (else TOPIC_AUTHORIZATION_FAILED); v5+ return the configs only with DESCRIBE_CONFIGS on the
// topic (else topic_config_error_code TOPIC_AUTHORIZATION_FAILED and no configs).
// A replication factor above the live brokers is INVALID_REPLICATION_FACTOR; an assignment naming
// a broker that is not alive is INVALID_REPLICA_ASSIGNMENT. In a cluster the topic is created in
// the metadata store (replicas placed there unless assigned) and the answer waits until this
// broker's metadata has it.
#include "protocol/messages/create_topics.h"

#include <map>
#include <set>

#include "broker/authorize.h"
#include "broker/broker.h"
#include "broker/handlers/gathered_response.h"
#include "broker/handlers/handlers.h"
#include "cluster/config_catalog.h"
#include "protocol/error_codes.h"

namespace kaffa::broker {
namespace {

using protocol::CreateTopicsRequest;
using protocol::CreateTopicsResponse;
using protocol::ErrorCode;

struct Problem {
  ErrorCode code;
  std::string message;
};

std::optional<Problem> check_layout(const CreateTopicsRequest::CreatableTopic& t,
                                    const Broker& broker, int32_t& partitions, int16_t& rf,
                                    std::vector<std::vector<int32_t>>& assignment) {
  const BrokerConfig& cfg = broker.config();
  const int32_t live = broker.live_brokers();
  if (!t.assignments.empty()) {
    if (t.num_partitions != -1 || t.replication_factor != -1) {
      return Problem{ErrorCode::invalid_request,
                     "Both numPartitions or replicationFactor and replicasAssignments were set. "
                     "Both cannot be used at the same time."};
    }
    std::set<int32_t> seen;
    size_t width = t.assignments.front().broker_ids.size();
    for (const auto& a : t.assignments) {
      if (!seen.insert(a.partition_index).second || a.partition_index < 0 ||
          a.partition_index >= static_cast<int32_t>(t.assignments.size())) {
        return Problem{ErrorCode::invalid_replica_assignment,
                       "Partitions must be numbered 0 to n-1, each once."};
      }
      if (a.broker_ids.empty() || a.broker_ids.size() != width) {
        return Problem{ErrorCode::invalid_replica_assignment,
                       "All partitions must have the same, non-zero number of replicas."};
      }
      for (int32_t b : a.broker_ids) {
        if (!broker.broker_alive(b)) {
          return Problem{ErrorCode::invalid_replica_assignment,
                         "Unknown broker id " + std::to_string(b) + " in the assignment."};
        }
      }
      if (std::set<int32_t>(a.broker_ids.begin(), a.broker_ids.end()).size() !=
          a.broker_ids.size()) {
        return Problem{ErrorCode::invalid_replica_assignment,
                       "Duplicate brokers in the assignment of a partition."};
      }
    }
    partitions = static_cast<int32_t>(t.assignments.size());
    rf = static_cast<int16_t>(width);
    assignment.resize(t.assignments.size());
    for (const auto& a : t.assignments) {
      assignment[static_cast<size_t>(a.partition_index)] = a.broker_ids;
    }
    return std::nullopt;
  }
  partitions = t.num_partitions == -1 ? cfg.num_partitions : t.num_partitions;
  rf = t.replication_factor == -1 ? cfg.default_replication_factor : t.replication_factor;
  if (partitions <= 0) {
    return Problem{ErrorCode::invalid_partitions, "Number of partitions must be larger than 0."};
  }
  if (rf <= 0) {
    return Problem{ErrorCode::invalid_replication_factor,
                   "Replication factor must be larger than 0."};
  }
  if (rf > live) {
    return Problem{ErrorCode::invalid_replication_factor,
                   "Replication factor: " + std::to_string(rf) +
                       " larger than available brokers: " + std::to_string(live) + "."};
  }
  return std::nullopt;
}

}  // namespace

void handle_create_topics(RequestContext& ctx, Responder respond) {
  CreateTopicsRequest req;
  if (!ctx.decode(req)) return respond.close();
  Broker& broker = ctx.broker;
  const int16_t v = ctx.version();

  std::map<std::string, int> copies;
  for (const auto& t : req.topics) ++copies[t.name];

  // Each topic's slot is filled here or, once created, by the creation's callback (another
  // thread in a cluster): the slots exist before the first creation starts.
  auto op = std::make_shared<GatheredResponse<CreateTopicsResponse>>();
  op->respond.emplace(std::move(respond));
  CreateTopicsResponse& resp = op->resp;
  resp.topics.reserve(req.topics.size());
  for (size_t i = 0; i < req.topics.size(); ++i) resp.topics.emplace_back();
  for (size_t i = 0; i < req.topics.size(); ++i) {
    const auto& t = req.topics[i];
    auto& out = resp.topics[i];
    out.name = t.name;
    out.error_message = std::nullopt;
    const bool configs_visible =
        v < 5 || authorize(ctx, AclOperation::describe_configs, ResourceType::topic, t.name);
    if (!configs_visible) {
      out.topic_config_error_code = protocol::code(ErrorCode::topic_authorization_failed);
    }
    auto fail = [&](ErrorCode code, std::string message) {
      out.error_code = protocol::code(code);
      out.error_message = std::move(message);
      out.configs = std::nullopt;
    };
    if (copies[t.name] > 1) {
      fail(ErrorCode::invalid_request,
           "Create topics request from client contains a duplicate "
           "topic: " +
               t.name);
      continue;
    }
    if (!authorize_cluster_or_topic(ctx, AclOperation::create, t.name)) {
      fail(ErrorCode::topic_authorization_failed, "Authorization failed.");
      continue;
    }
    if (auto why = cluster::invalid_topic_name(t.name)) {
      fail(ErrorCode::invalid_topic_exception, *why);
      continue;
    }
    if (broker.topics().find(t.name)) {
      fail(ErrorCode::topic_already_exists, "Topic '" + t.name + "' already exists.");
      continue;
    }
    if (auto other = broker.topics().collision(t.name)) {
      fail(ErrorCode::invalid_topic_exception,
           "Topic '" + t.name + "' collides with existing topic: " + *other);
      continue;
    }
    int32_t partitions = 0;
    int16_t rf = 0;
    std::vector<std::vector<int32_t>> assignment;
    if (auto p = check_layout(t, broker, partitions, rf, assignment)) {
      fail(p->code, p->message);
      continue;
    }
    cluster::TopicInfo info;
    info.name = t.name;
    info.partitions = partitions;
    info.replication_factor = rf;
    std::optional<std::string> config_problem;
    for (const auto& c : t.configs) {
      if (auto why = cluster::validate_topic_config(c.name, c.value)) {
        config_problem = why;
        break;
      }
      if (c.value) info.configs[c.name] = *c.value;
    }
    if (!config_problem) config_problem = cluster::validate_topic_configs(info.configs);
    if (config_problem) {
      fail(ErrorCode::invalid_config, *config_problem);
      continue;
    }
    out.num_partitions = partitions;
    out.replication_factor = rf;
    if (configs_visible) {
      out.configs.emplace();
      for (const auto& [name, value] : info.configs) {
        auto& c = out.configs->emplace_back();
        c.name = name;
        c.value = value;
        c.config_source = 1;  // DYNAMIC_TOPIC_CONFIG
      }
    }
    if (v >= 1 && req.validate_only) continue;
    op->pending.fetch_add(1, std::memory_order_relaxed);
    broker.create_topic_async(
        std::move(info), std::move(assignment), [op, &out, partitions](Broker::TopicResult r) {
          if (r.error == ErrorCode::none) {
            out.topic_id = r.topic.id;
            log::info("created topic {} with {} partitions", out.name, partitions);
          } else {
            out.error_code = protocol::code(r.error);
            out.error_message = std::move(r.message);
            out.configs = std::nullopt;
          }
          op->finish_one();
        });
  }
  op->finish_one();
}

}  // namespace kaffa::broker
