// IncrementalAlterConfigs (key 44), versions 0-1 (flexible from 1): SET (0), DELETE (1), APPEND
// (2) and SUBTRACT (3, list configs only: cleanup.policy and the throttled-replica lists) applied
// in order to a resource's dynamic configs (cluster/config_catalog.h apply_alter_op).
// Per resource, in Kafka's order: the same (type, name) twice (INVALID_REQUEST for each copy),
// duplicate config names, null values for operations other than DELETE (INVALID_REQUEST), then
// by type: topics, groups and brokers (config_admin.h: the dynamic broker configs on a broker's
// own resource or the cluster-wide ""), anything else INVALID_REQUEST. validate_only checks without
// changing anything. Authorization: ALTER_CONFIGS on the topic, or on the cluster for a broker
// resource (checked first per resource: TOPIC_/CLUSTER_AUTHORIZATION_FAILED).
#include "protocol/messages/incremental_alter_configs.h"

#include <map>

#include "broker/broker.h"
#include "broker/handlers/config_admin.h"
#include "broker/handlers/handlers.h"

namespace kaffa::broker {

using protocol::ErrorCode;
using protocol::IncrementalAlterConfigsRequest;
using protocol::IncrementalAlterConfigsResponse;

namespace {

constexpr int8_t kDelete = 1;

config_admin::Outcome alter_one(const RequestContext& ctx, Broker& broker,
                                const IncrementalAlterConfigsRequest::AlterConfigsResource& r,
                                bool validate_only) {
  if (auto refused = config_admin::refuse(ctx, AclOperation::alter_configs, r.resource_type,
                                          r.resource_name)) {
    return *refused;
  }
  std::vector<std::string> names;
  std::vector<bool> nulls;
  for (const auto& c : r.configs) {
    names.push_back(c.name);
    nulls.push_back(c.config_operation != kDelete && !c.value.has_value());
  }
  if (auto bad = config_admin::check_entries(names, nulls)) return *bad;
  for (const auto& c : r.configs) {
    if (c.config_operation < 0 || c.config_operation > 3) {
      return config_admin::fail(ErrorCode::invalid_request,
                                "Unknown operations type " + std::to_string(c.config_operation));
    }
  }
  return config_admin::alter_resource(
      broker, r.resource_type, r.resource_name, names,
      [ops = r.configs, lists = r.resource_type == config_admin::kTopicResource
                                    ? cluster::ListConfigs::topic
                                    : cluster::ListConfigs::none](
          std::map<std::string, std::string>& configs) -> std::optional<std::string> {
        for (const auto& c : ops) {
          const auto op = static_cast<cluster::AlterOp>(c.config_operation);
          if (auto why = cluster::apply_alter_op(configs, c.name, op, c.value, lists)) return why;
        }
        return std::nullopt;
      },
      validate_only);
}

}  // namespace

void handle_incremental_alter_configs(RequestContext& ctx, Responder respond) {
  IncrementalAlterConfigsRequest req;
  if (!ctx.decode(req)) return respond.close();
  config_admin::answer_each_resource<IncrementalAlterConfigsResponse>(
      req, [&](const auto& r) { return alter_one(ctx, ctx.broker, r, req.validate_only); },
      std::move(respond));
}

}  // namespace kaffa::broker
