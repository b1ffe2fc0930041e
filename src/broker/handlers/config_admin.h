// What AlterConfigs (33) and IncrementalAlterConfigs (44) share: Kafka's per-resource checks
// (ConfigAdminManager.preprocess and ConfigurationControlManager) and the change of a topic's
// overrides — validated (INVALID_CONFIG), stored durably in the registry and applied to the
// topic's partitions without a restart.
//
// Broker resources: the dynamic broker configs are the keystore/truststore settings of TLS
// listeners (listener.name.<l>.ssl.keystore.location etc., tls_config.h), on a broker's own
// resource only: the new files are read and validated (the old context stays on failure) and new
// connections use them; and dynamic_configs.h's (replication rates, log defaults, ...), on a
// broker's own resource or the cluster-wide default "" (Broker::alter_dynamic_configs), which
// apply at once. Any other broker config is what Kafka calls non-dynamic: a change is
// INVALID_REQUEST "Cannot update these configs dynamically". A value that fails its check is
// INVALID_REQUEST with the check's message too: a KRaft broker wraps the ConfigException of its
// DynamicBrokerConfig.validate that way (ConfigAdminManager, KAFKA-13609), where topics and
// groups answer INVALID_CONFIG.
#pragma once

#include <cstdlib>
#include <functional>
#include <map>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "base/log.h"
#include "broker/authorize.h"
#include "broker/broker.h"
#include "broker/dynamic_configs.h"
#include "broker/handlers/gathered_response.h"
#include "broker/tls_config.h"
#include "cluster/config_catalog.h"
#include "cluster/topic_registry.h"
#include "coordinator/group_configs.h"
#include "protocol/error_codes.h"

namespace kaffa::broker::config_admin {

constexpr int8_t kTopicResource = 2;
constexpr int8_t kBrokerResource = 4;
constexpr int8_t kGroupResource = 32;

struct Outcome {
  protocol::ErrorCode code = protocol::ErrorCode::none;
  std::optional<std::string> message;  // null on success, as Kafka's ApiError.NONE
  // Set when the change completes later (a topic in a cluster): starts it; the callback gets the
  // final outcome, maybe on another thread.
  std::function<void(std::function<void(Outcome)>)> deferred;
};

inline Outcome fail(protocol::ErrorCode code, std::string message) {
  return {code, std::move(message)};
}

// Authorization of `op` (ALTER_CONFIGS, DESCRIBE_CONFIGS) on a config resource, as Kafka: a topic
// needs it on the topic (TOPIC_AUTHORIZATION_FAILED), a group on the group
// (GROUP_AUTHORIZATION_FAILED), a broker or broker logger (8) on the cluster
// (CLUSTER_AUTHORIZATION_FAILED). Other types are left to the caller's INVALID_REQUEST.
inline std::optional<Outcome> refuse(const RequestContext& ctx, AclOperation op, int8_t type,
                                     const std::string& name) {
  if (type == kTopicResource && !authorize(ctx, op, ResourceType::topic, name)) {
    return fail(protocol::ErrorCode::topic_authorization_failed, "Authorization failed.");
  }
  if (type == kGroupResource && !authorize(ctx, op, ResourceType::group, name)) {
    return fail(protocol::ErrorCode::group_authorization_failed, "Authorization failed.");
  }
  if ((type == kBrokerResource || type == 8) && !authorize_cluster(ctx, op)) {
    return fail(protocol::ErrorCode::cluster_authorization_failed, "Authorization failed.");
  }
  return std::nullopt;
}

// Kafka's Set(...) rendering in "Cannot update these configs dynamically: Set(a, b)".
inline std::string scala_set(const std::vector<std::string>& names) {
  std::string s = "Set(";
  for (size_t i = 0; i < names.size(); ++i) s += (i ? ", " : "") + names[i];
  return s + ")";
}

// A broker resource of an alter request: the name must be "" (cluster default) or our node id;
// then a change of `config_names` is refused as static.
inline Outcome alter_broker(const std::string& name, int32_t node_id,
                            const std::vector<std::string>& config_names) {
  if (!name.empty()) {
    char* end = nullptr;
    const long id = std::strtol(name.c_str(), &end, 10);
    if (*end != '\0' || end == name.c_str()) {
      return fail(protocol::ErrorCode::invalid_request,
                  "Node id must be an integer, but it is: " + name);
    }
    if (id != node_id) {
      return fail(
          protocol::ErrorCode::invalid_request,
          "Unexpected broker id, expected " + std::to_string(node_id) + ", but received " + name);
    }
  }
  if (!config_names.empty()) {
    return fail(protocol::ErrorCode::invalid_request,
                "Cannot update these configs dynamically: " + scala_set(config_names));
  }
  return {};
}

// A change of a resource's configs, given as they are: an INVALID_CONFIG message on failure. It
// is checked here against this broker's view, then applied again where it is stored, to the
// newest configs (cluster::ConfigChange): it must hold its own copy of the request's entries.
using Change = cluster::ConfigChange;

// The outcome of a change that `store` makes durable: deferred in a cluster (the metadata store
// answers later), at once on a single node.
using Store = std::function<void(std::function<void(Outcome)>)>;
inline Outcome stored(const Broker& broker, Store store) {
  if (broker.clustered()) return Outcome{protocol::ErrorCode::none, std::nullopt, std::move(store)};
  Outcome out;
  store([&out](Outcome o) { out = std::move(o); });
  return out;
}

// Duplicate names, then null values (for operations other than DELETE: `null_allowed`).
inline std::optional<Outcome> check_entries(const std::vector<std::string>& names,
                                            const std::vector<bool>& null_values) {
  std::set<std::string> seen;
  for (const auto& n : names) {
    if (!seen.insert(n).second) {
      return fail(protocol::ErrorCode::invalid_request, "Error due to duplicate config keys");
    }
  }
  std::string nulls;
  for (size_t i = 0; i < names.size(); ++i) {
    if (null_values[i]) nulls += (nulls.empty() ? "" : ", ") + names[i];
  }
  if (!nulls.empty()) {
    return fail(protocol::ErrorCode::invalid_request, "Null value not supported for : " + nulls);
  }
  return std::nullopt;
}

// Changes a topic's overrides with `change` (which returns an INVALID_CONFIG message on failure).
// Kafka's order: topic name, then the resulting configs, then existence; validate_only stops
// before storing. The change and the checks are applied again to the configs as stored, so that
// concurrent incremental changes do not lose updates: serialized on a single node, and in a
// cluster applied again to the newest record after a lost race.
inline Outcome alter_topic(Broker& broker, const std::string& name, const Change& change,
                           bool validate_only) {
  static std::mutex mu;
  std::lock_guard lock(mu);
  if (auto why = cluster::invalid_topic_name(name)) {
    return fail(protocol::ErrorCode::invalid_topic_exception, *why);
  }
  Change checked = [change](std::map<std::string, std::string>& configs) {
    if (auto why = change(configs)) return why;
    return cluster::validate_topic_configs(configs);
  };
  auto topic = broker.topics().find(name);
  std::map<std::string, std::string> configs;
  if (topic) configs = topic->configs;
  if (auto why = checked(configs)) return fail(protocol::ErrorCode::invalid_config, *why);
  if (!topic) {
    return fail(protocol::ErrorCode::unknown_topic_or_partition,
                "This server does not host this topic-partition.");
  }
  if (validate_only) return {};
  auto store = [&broker, name, checked](std::function<void(Outcome)> done) {
    broker.set_topic_configs_async(name, checked, [name, done](Broker::TopicResult r) {
      if (r.error != protocol::ErrorCode::none) return done(fail(r.error, r.message));
      log::info("altered the configs of topic {}", name);
      done({});
    });
  };
  return stored(broker, std::move(store));
}

// Changes a consumer group's configs (coordinator/group_configs.h) with `change`: Kafka's
// GroupConfig checks against the broker's bounds (INVALID_CONFIG), then the group's new configs
// are stored through the broker (a file; in a cluster, the metadata store's record: deferred).
// The group need not exist. The change and the checks are applied again to the set as stored, so
// that concurrent incremental changes do not lose updates: serialized on a single node, and in a
// cluster applied again to the newest record after a lost race.
inline Outcome alter_group(Broker& broker, const std::string& name, const Change& change,
                           bool validate_only) {
  static std::mutex mu;
  std::lock_guard lock(mu);
  if (name.empty()) {
    return fail(protocol::ErrorCode::invalid_request, "Group name must not be empty.");
  }
  // Changes the group's entry of `all`: whether it changed, or nullopt with `why` if refused.
  auto apply = [&broker, name, change](coordinator::GroupConfigSet& all,
                                       std::string& why) -> std::optional<bool> {
    std::map<std::string, std::string> configs;
    auto it = all.find(name);
    if (it != all.end()) configs.insert(it->second.begin(), it->second.end());
    auto refused = change(configs);
    std::map<std::string, std::string, std::less<>> next(configs.begin(), configs.end());
    if (!refused) refused = coordinator::validate_group_configs(next, broker.config().group);
    if (refused) {
      why = std::move(*refused);
      return std::nullopt;
    }
    if (it != all.end() && it->second == next) return false;
    if (next.empty()) {
      if (it == all.end()) return false;
      all.erase(it);
      return true;
    }
    all[name] = std::move(next);
    return true;
  };
  std::string why;
  coordinator::GroupConfigSet view;  // this broker's view of the group's entry
  const auto set = broker.group_configs().current();
  if (auto it = set->find(name); it != set->end()) view.insert(*it);
  if (!apply(view, why).has_value()) return fail(protocol::ErrorCode::invalid_config, why);
  if (validate_only) return {};
  auto store = [&broker, name, apply](std::function<void(Outcome)> done) {
    auto refused = std::make_shared<std::string>();
    broker.update_group_configs(
        [apply, refused](coordinator::GroupConfigSet& all) {
          refused->clear();
          return apply(all, *refused).value_or(false);
        },
        [name, done, refused](std::string error) {
          if (!refused->empty()) return done(fail(protocol::ErrorCode::invalid_config, *refused));
          if (!error.empty()) return done(fail(protocol::ErrorCode::unknown_server_error, error));
          log::info("altered the configs of group {}", name);
          done({});
        });
  };
  return stored(broker, std::move(store));
}

// A change of one layer of dynamic_configs.h's broker configs: this broker's own values
// (synchronous) or the cluster-wide defaults (deferred in a cluster: the metadata store answers).
inline Outcome alter_dynamic(Broker& broker, bool cluster_default, const Change& change,
                             bool validate_only) {
  auto store = [&broker, cluster_default, change,
                validate_only](std::function<void(Outcome)> done) {
    broker.alter_dynamic_configs(
        cluster_default, change, validate_only, [done](std::string invalid, std::string error) {
          if (!invalid.empty()) return done(fail(protocol::ErrorCode::invalid_request, invalid));
          if (!error.empty()) return done(fail(protocol::ErrorCode::unknown_server_error, error));
          done({});
        });
  };
  if (cluster_default) return stored(broker, std::move(store));
  Outcome out;
  store([&out](Outcome o) { out = std::move(o); });
  return out;
}

// A broker resource's change: dynamic_configs.h's names on either resource, the TLS stores' on
// this broker's own (tls_config::update; Kafka's message for them on the default), anything else
// refused as static (alter_broker).
inline Outcome alter_broker_configs(Broker& broker, const std::string& name,
                                    const std::vector<std::string>& names, const Change& change,
                                    bool validate_only) {
  const BrokerConfig& config = broker.config();
  Outcome target = alter_broker(name, config.node_id, {});
  if (target.code != protocol::ErrorCode::none) return target;
  std::vector<std::string> others;  // names that are not dynamic_configs.h's
  for (const auto& n : names) {
    if (!dynamic_configs::is_dynamic(n)) others.push_back(n);
  }
  if (!others.empty() && !tls_config::all_dynamic(config, others)) {
    std::vector<std::string> fixed;
    for (const auto& n : others) {
      if (!tls_config::all_dynamic(config, {n})) fixed.push_back(n);
    }
    return alter_broker(name, config.node_id, fixed);
  }
  if (!others.empty() && name.empty()) {
    return fail(protocol::ErrorCode::invalid_request,
                "Cannot update these configs at default cluster level, broker id must be "
                "specified: " +
                    scala_set(others));
  }
  if (others.size() < names.size() || others.empty()) {
    Outcome o = alter_dynamic(broker, name.empty(), change, validate_only);
    if (o.deferred || o.code != protocol::ErrorCode::none || others.empty()) return o;
  }
  if (auto why = tls_config::update(config, others, change, validate_only)) {
    return fail(protocol::ErrorCode::invalid_request, *why);
  }
  return {};
}

// One resource of an alter request, by type: a topic's overrides changed with `change`
// (alter_topic), a group's configs (alter_group), a broker's dynamic configs
// (alter_broker_configs), anything else INVALID_REQUEST.
inline Outcome alter_resource(Broker& broker, int8_t type, const std::string& name,
                              const std::vector<std::string>& names, const Change& change,
                              bool validate_only) {
  switch (type) {
    case kTopicResource:
      return alter_topic(broker, name, change, validate_only);
    case kGroupResource:
      return alter_group(broker, name, change, validate_only);
    case kBrokerResource:
      return alter_broker_configs(broker, name, names, change, validate_only);
    default:
      return fail(protocol::ErrorCode::invalid_request,
                  "Unknown resource type " + std::to_string(type));
  }
}

// Answers an AlterConfigs-shaped request (AlterConfigs, IncrementalAlterConfigs): each resource
// with alter_one(resource), except that a resource named more than once in one request is
// INVALID_REQUEST for every copy (as Kafka). Deferred outcomes are waited for.
template <class Response, class Request, class AlterOne>
void answer_each_resource(const Request& req, AlterOne alter_one, Responder respond) {
  std::map<std::pair<int8_t, std::string>, int> copies;
  for (const auto& r : req.resources) ++copies[{r.resource_type, r.resource_name}];
  auto op = std::make_shared<GatheredResponse<Response>>();
  op->respond.emplace(std::move(respond));
  op->resp.responses.reserve(req.resources.size());  // slots stay put for deferred outcomes
  for (const auto& r : req.resources) {
    auto& out = op->resp.responses.emplace_back();
    out.resource_type = r.resource_type;
    out.resource_name = r.resource_name;
    Outcome o =
        copies[{r.resource_type, r.resource_name}] > 1
            ? fail(protocol::ErrorCode::invalid_request, "Each resource must appear at most once.")
            : alter_one(r);
    if (o.deferred) {
      op->pending.fetch_add(1, std::memory_order_relaxed);
      o.deferred([op, &out](Outcome done) {
        out.error_code = protocol::code(done.code);
        out.error_message = done.message;
        op->finish_one();
      });
      continue;
    }
    out.error_code = protocol::code(o.code);
    out.error_message = o.message;
  }
  op->finish_one();
}

}  // namespace kaffa::broker::config_admin
