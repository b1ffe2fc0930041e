// AlterConfigs (key 33), versions 0-2 (flexible from 2): replaces the whole set of a resource's
// dynamic configs (configs not named are removed), as Kafka's legacy AlterConfigs does.
// Per resource, in Kafka's order: the same (type, name) twice (INVALID_REQUEST for each copy),
// duplicate config names and null values (INVALID_REQUEST), then by type: topics
// (config_admin.h: INVALID_TOPIC_EXCEPTION, INVALID_CONFIG, UNKNOWN_TOPIC_OR_PARTITION), groups
// and brokers (config_admin.h: the dynamic broker configs of a broker's own resource or of the
// cluster-wide "", each set replaced whole), anything else INVALID_REQUEST. validate_only checks
// without changing anything.
// Authorization: ALTER_CONFIGS on the topic, or on the cluster for a broker resource (checked
// first per resource: TOPIC_/CLUSTER_AUTHORIZATION_FAILED).
#include "protocol/messages/alter_configs.h"

#include <map>

#include "broker/broker.h"
#include "broker/handlers/config_admin.h"
#include "broker/handlers/handlers.h"

namespace kaffa::broker {

using protocol::AlterConfigsRequest;
using protocol::AlterConfigsResponse;
using protocol::ErrorCode;

namespace {

config_admin::Outcome alter_one(const RequestContext& ctx, Broker& broker,
                                const AlterConfigsRequest::AlterConfigsResource& r,
                                bool validate_only) {
  if (auto refused = config_admin::refuse(ctx, AclOperation::alter_configs, r.resource_type,
                                          r.resource_name)) {
    return *refused;
  }
  std::vector<std::string> names;
  std::vector<bool> nulls;
  for (const auto& c : r.configs) {
    names.push_back(c.name);
    nulls.push_back(!c.value.has_value());
  }
  if (auto bad = config_admin::check_entries(names, nulls)) return *bad;
  return config_admin::alter_resource(
      broker, r.resource_type, r.resource_name, names,
      [entries =
           r.configs](std::map<std::string, std::string>& configs) -> std::optional<std::string> {
        configs.clear();
        for (const auto& c : entries) configs[c.name] = *c.value;
        return std::nullopt;
      },
      validate_only);
}

}  // namespace

void handle_alter_configs(RequestContext& ctx, Responder respond) {
  AlterConfigsRequest req;
  if (!ctx.decode(req)) return respond.close();
  config_admin::answer_each_resource<AlterConfigsResponse>(
      req, [&](const auto& r) { return alter_one(ctx, ctx.broker, r, req.validate_only); },
      std::move(respond));
}

}  // namespace kaffa::broker
