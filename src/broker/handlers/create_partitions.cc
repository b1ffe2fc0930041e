// CreatePartitions (key 37), versions 0-3 (flexible from 2): raises a topic's partition count, as
// Kafka's ReplicationControlManager.createPartitions. Per topic: a name given twice
// (INVALID_REQUEST "Duplicate topic name.", answered once), an unknown topic
// (UNKNOWN_TOPIC_OR_PARTITION), a count not larger than the current one (INVALID_PARTITIONS),
// manual assignments (one per new partition, each naming live brokers once, as many replicas as
// the topic has: INVALID_REPLICA_ASSIGNMENT). Kaffa-only: __consumer_offsets keeps its count
// (it decides which partition holds each group) and more than kMaxNewPartitions at once is
// refused (POLICY_VIOLATION / INVALID_PARTITIONS). validate_only checks without creating.
// The new partitions are recorded durably in the registry, then their logs are created (in a
// cluster: in the metadata store, placed there unless assigned; the answer waits for the image).
// Authorization: ALTER on the topic, after the duplicate check (TOPIC_AUTHORIZATION_FAILED).
#include "protocol/messages/create_partitions.h"

#include <algorithm>
#include <map>
#include <set>

#include "broker/authorize.h"
#include "broker/broker.h"
#include "broker/handlers/gathered_response.h"
#include "broker/handlers/handlers.h"
#include "coordinator/group_coordinator.h"
#include "protocol/error_codes.h"

namespace kaffa::broker {
namespace {

using protocol::CreatePartitionsRequest;
using protocol::CreatePartitionsResponse;
using protocol::ErrorCode;

constexpr int32_t kMaxNewPartitions = 10000;

struct Problem {
  ErrorCode code;
  std::optional<std::string> message;
};

std::optional<Problem> check(const CreatePartitionsRequest::CreatePartitionsTopic& t,
                             const cluster::TopicInfo& topic, const Broker& broker) {
  const int32_t current = topic.partitions;
  if (t.name == coordinator::kOffsetsTopic) {
    return Problem{ErrorCode::policy_violation,
                   "The partition count of " + t.name +
                       " cannot change: it decides which partition holds each group."};
  }
  if (t.count == current) {
    return Problem{ErrorCode::invalid_partitions,
                   "Topic already has " + std::to_string(current) + " partition(s)."};
  }
  if (t.count < current) {
    return Problem{ErrorCode::invalid_partitions,
                   "The topic " + t.name + " currently has " + std::to_string(current) +
                       " partition(s); " + std::to_string(t.count) + " would not be an increase."};
  }
  const int64_t additional = int64_t{t.count} - current;
  if (additional > kMaxNewPartitions) {
    return Problem{ErrorCode::invalid_partitions,
                   "Kaffa adds at most " + std::to_string(kMaxNewPartitions) +
                       " partitions per request; " + std::to_string(additional) + " requested."};
  }
  if (!t.assignments) return std::nullopt;
  if (static_cast<int64_t>(t.assignments->size()) != additional) {
    return Problem{ErrorCode::invalid_replica_assignment,
                   "Attempted to add " + std::to_string(additional) +
                       " additional partition(s), but only " +
                       std::to_string(t.assignments->size()) + " assignment(s) were specified."};
  }
  for (const auto& a : *t.assignments) {
    if (a.broker_ids.empty()) {
      return Problem{ErrorCode::invalid_replica_assignment,
                     "The manual partition assignment includes an empty replica list."};
    }
    auto ids = a.broker_ids;
    std::sort(ids.begin(), ids.end());
    for (size_t i = 0; i < ids.size(); ++i) {
      if (!broker.broker_alive(ids[i])) {
        return Problem{ErrorCode::invalid_replica_assignment,
                       "The manual partition assignment includes broker " + std::to_string(ids[i]) +
                           ", but no such broker is registered."};
      }
      if (i > 0 && ids[i] == ids[i - 1]) {
        return Problem{ErrorCode::invalid_replica_assignment,
                       "The manual partition assignment includes the broker " +
                           std::to_string(ids[i]) + " more than once."};
      }
    }
    if (static_cast<int32_t>(ids.size()) != topic.replication_factor) {
      return Problem{ErrorCode::invalid_replica_assignment,
                     "The manual partition assignment includes a partition with " +
                         std::to_string(ids.size()) +
                         " replica(s), but this is not consistent with previous partitions, "
                         "which have " +
                         std::to_string(topic.replication_factor) + " replica(s)."};
    }
  }
  return std::nullopt;
}

}  // namespace

void handle_create_partitions(RequestContext& ctx, Responder respond) {
  CreatePartitionsRequest req;
  if (!ctx.decode(req)) return respond.close();
  Broker& broker = ctx.broker;
  std::map<std::string, int> copies;
  for (const auto& t : req.topics) ++copies[t.name];
  std::set<std::string> answered;

  auto op = std::make_shared<GatheredResponse<CreatePartitionsResponse>>();
  op->respond.emplace(std::move(respond));
  CreatePartitionsResponse& resp = op->resp;
  resp.results.reserve(req.topics.size());  // slots stay put while growths complete elsewhere
  for (const auto& t : req.topics) {
    if (!answered.insert(t.name).second) continue;
    auto& out = resp.results.emplace_back();
    out.name = t.name;
    auto problem = [&]() -> std::optional<Problem> {
      if (copies[t.name] > 1) return Problem{ErrorCode::invalid_request, "Duplicate topic name."};
      if (!authorize(ctx, AclOperation::alter, ResourceType::topic, t.name)) {
        return Problem{ErrorCode::topic_authorization_failed, "Authorization failed."};
      }
      auto topic = broker.topics().find(t.name);
      if (!topic)
        return Problem{ErrorCode::unknown_topic_or_partition,
                       "This server does not host this topic-partition."};
      if (auto p = check(t, *topic, broker)) return p;
      if (req.validate_only) return std::nullopt;
      std::vector<std::vector<int32_t>> assignment;
      if (t.assignments) {
        for (const auto& a : *t.assignments) assignment.push_back(a.broker_ids);
      }
      op->pending.fetch_add(1, std::memory_order_relaxed);
      broker.add_partitions_async(
          *topic, t.count, std::move(assignment),
          [op, &out, from = topic->partitions, count = t.count](Broker::TopicResult r) {
            if (r.error == ErrorCode::none) {
              log::info("topic {}: {} -> {} partitions", out.name, from, count);
            } else {
              out.error_code = protocol::code(r.error);
              out.error_message = r.message;
            }
            op->finish_one();
          });
      return std::nullopt;
    }();
    if (problem) {
      out.error_code = protocol::code(problem->code);
      out.error_message = problem->message;
    }
  }
  op->finish_one();
}

}  // namespace kaffa::broker
