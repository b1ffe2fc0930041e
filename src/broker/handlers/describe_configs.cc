// DescribeConfigs (key 32), versions 0-4 (flexible from 4), as Kafka's ConfigHelper.
// Topics (type 2): every topic config Kafka defines (cluster/config_catalog.h) with its effective
// value — the topic's override, else the broker setting, else Kafka's default — its source and
// synonyms (v1+, when include_synonyms), type and documentation (v3+). An invalid name is
// INVALID_TOPIC_EXCEPTION, an unknown topic UNKNOWN_TOPIC_OR_PARTITION.
// Brokers (type 4): named by our node id, every setting of broker/config.cc — DYNAMIC_BROKER_CONFIG
// or DYNAMIC_DEFAULT_BROKER_CONFIG when set dynamically (broker/dynamic_configs.h), else
// STATIC_BROKER_CONFIG when given in the file or an override, else DEFAULT_CONFIG; read-only but
// for the dynamic ones (the TLS stores' dynamic values are not listed). The empty name is the
// cluster-wide dynamic defaults that are set. Another id, or a name that is not a number, is
// INVALID_REQUEST. `configuration_keys` null or empty means all. Groups
// (type 32): consumer.session.timeout.ms and consumer.heartbeat.interval.ms, the group's own value
// (GROUP_CONFIG) or the broker's (DEFAULT_CONFIG); coordinator/group_configs.h. Authorization:
// DESCRIBE_CONFIGS on the topic, on the group, or on the cluster for a broker resource
// (TOPIC_/GROUP_/CLUSTER_AUTHORIZATION_FAILED for that resource).
#include "protocol/messages/describe_configs.h"

#include <algorithm>
#include <cstdlib>
#include <span>

#include "broker/broker.h"
#include "broker/handlers/config_admin.h"
#include "broker/handlers/handlers.h"
#include "cluster/config_catalog.h"
#include "cluster/topic_registry.h"
#include "coordinator/group_configs.h"
#include "protocol/error_codes.h"

namespace kaffa::broker {
namespace {

using cluster::ConfigSource;
using cluster::ConfigType;
using protocol::DescribeConfigsRequest;
using protocol::DescribeConfigsResponse;
using protocol::ErrorCode;
using Result = DescribeConfigsResponse::DescribeConfigsResult;
using Entry = DescribeConfigsResponse::DescribeConfigsResourceResult;

constexpr int8_t kTopic = 2;
constexpr int8_t kBroker = 4;
constexpr int8_t kGroup = 32;

bool wanted(const DescribeConfigsRequest::DescribeConfigsResource& r, const std::string& name) {
  if (!r.configuration_keys || r.configuration_keys->empty()) return true;
  const auto& keys = *r.configuration_keys;
  return std::find(keys.begin(), keys.end(), name) != keys.end();
}

// Kafka's types of the broker settings Kaffa has (KafkaConfig's definitions).
ConfigType broker_type(const SettingInfo& s) {
  static const char* const kLongs[] = {"connections.max.idle.ms",
                                       "log.roll.ms",
                                       "log.flush.interval.messages",
                                       "log.flush.interval.ms",
                                       "log.retention.ms",
                                       "log.retention.bytes",
                                       "log.retention.check.interval.ms",
                                       "log.message.timestamp.before.max.ms",
                                       "log.message.timestamp.after.max.ms",
                                       "offsets.retention.check.interval.ms"};
  for (const char* n : kLongs) {
    if (s.name == n) return ConfigType::int64;
  }
  if (s.name == "offsets.topic.replication.factor") return ConfigType::int16;
  if (s.name == "log.cleanup.policy") return ConfigType::list;
  if (s.default_value == "true" || s.default_value == "false") return ConfigType::boolean;
  if (s.name.ends_with(".minutes") || s.name.ends_with(".hours")) return ConfigType::int32;
  char* end = nullptr;
  std::strtoll(s.default_value.c_str(), &end, 10);
  if (!s.default_value.empty() && *end == '\0') return ConfigType::int32;
  return ConfigType::string;
}

// A broker setting as seen by topic configs and by the broker resource: its dynamic values, its
// configured value (file or override) and its default. Settings derived from others report the
// derived value as their default (log.roll.ms from log.roll.hours, log.retention.ms from
// minutes/hours).
std::optional<cluster::BrokerSetting> broker_setting(const BrokerConfig& cfg,
                                                     const Broker::DynamicConfigs& dynamic,
                                                     std::string_view name) {
  static const auto kSettings = list_settings();
  for (const auto& s : kSettings) {
    if (s.name != name) continue;
    cluster::BrokerSetting out;
    if (auto it = dynamic.own.find(s.name); it != dynamic.own.end()) out.dynamic = it->second;
    if (auto it = dynamic.cluster_default.find(s.name); it != dynamic.cluster_default.end()) {
      out.dynamic_default = it->second;
    }
    if (cfg.explicit_settings.count(s.name) != 0) {
      if (auto it = cfg.raw.find(s.name); it != cfg.raw.end()) out.configured = it->second;
    }
    if (!s.default_value.empty()) out.default_value = s.default_value;
    if (name == "log.roll.ms" && !out.configured) {
      out.default_value = std::to_string(cfg.log_roll_ms);
    }
    if (name == "log.retention.ms" && !out.configured) {
      out.default_value = std::to_string(cfg.log_retention_ms);
    }
    return out;
  }
  return std::nullopt;
}

// For a topic's retention.ms and segment.ms: the broker's time may be given in coarser forms
// (log.retention.minutes/hours, log.roll.hours), of which the finest given anywhere (file or a
// dynamic layer) is in force, as Kafka merges them. When that is a coarser form, the dynamic
// layers' values of it are shown as the milliseconds they make.
void coarse_forms(const BrokerConfig& cfg, const Broker::DynamicConfigs& dynamic,
                  std::string_view name, cluster::BrokerSetting& out) {
  using Form = std::pair<const char*, int64_t>;  // name, milliseconds per unit
  static const Form kRetention[] = {
      {"log.retention.ms", 1}, {"log.retention.minutes", 60000}, {"log.retention.hours", 3600000}};
  static const Form kRoll[] = {{"log.roll.ms", 1}, {"log.roll.hours", 3600000}};
  const std::span<const Form> forms = name == "log.retention.ms" ? std::span<const Form>(kRetention)
                                      : name == "log.roll.ms"    ? std::span<const Form>(kRoll)
                                                                 : std::span<const Form>();
  for (const auto& [form, unit] : forms) {
    if (dynamic.own.count(form) == 0 && dynamic.cluster_default.count(form) == 0 &&
        cfg.explicit_settings.count(form) == 0) {
      continue;
    }
    if (unit == 1) return;
    const auto millis = [form, unit](const dynamic_configs::Values& layer) {
      auto it = layer.find(form);
      if (it == layer.end()) return std::optional<std::string>();
      const int64_t n = std::strtoll(it->second.c_str(), nullptr, 10);
      return std::optional<std::string>(std::to_string(n < 0 ? -1 : n * unit));
    };
    out.dynamic = millis(dynamic.own);
    out.dynamic_default = millis(dynamic.cluster_default);
    return;
  }
}

Entry to_entry(const cluster::DescribedConfig& c, const DescribeConfigsRequest& req, int16_t v,
               std::string_view doc) {
  Entry e;
  e.name = c.name;
  e.value = c.sensitive ? std::nullopt : c.value;
  e.read_only = c.read_only;
  e.is_default = c.source == ConfigSource::default_config;
  e.config_source = static_cast<int8_t>(c.source);
  e.is_sensitive = c.sensitive;
  if (v >= 1 && req.include_synonyms) {
    for (const auto& s : c.synonyms) {
      auto& out = e.synonyms.emplace_back();
      out.name = s.name;
      out.value = s.value;
      out.source = static_cast<int8_t>(s.source);
    }
  }
  e.config_type = static_cast<int8_t>(c.type);
  e.documentation =
      v >= 3 && req.include_documentation ? std::optional<std::string>(doc) : std::nullopt;
  return e;
}

void describe_topic(Broker& broker, const DescribeConfigsRequest& req,
                    const DescribeConfigsRequest::DescribeConfigsResource& r, int16_t v,
                    Result& out) {
  if (auto why = cluster::invalid_topic_name(r.resource_name)) {
    out.error_code = protocol::code(ErrorCode::invalid_topic_exception);
    out.error_message = *why;
    return;
  }
  auto topic = broker.topics().find(r.resource_name);
  if (!topic) {
    out.error_code = protocol::code(ErrorCode::unknown_topic_or_partition);
    out.error_message = "This server does not host this topic-partition.";
    return;
  }
  const BrokerConfig& cfg = broker.config();
  const auto dynamic = broker.dynamic_configs();
  const cluster::BrokerLookup lookup = [&cfg, &dynamic](std::string_view name) {
    auto setting = broker_setting(cfg, dynamic, name);
    if (setting) coarse_forms(cfg, dynamic, name, *setting);
    return setting;
  };
  for (const auto& def : cluster::topic_config_defs()) {
    if (!wanted(r, std::string(def.name))) continue;
    const auto c = cluster::describe_topic_config(def, topic->configs, lookup);
    out.configs.push_back(to_entry(c, req, v, cluster::topic_config_doc(def.name)));
  }
}

void describe_broker(Broker& broker, const DescribeConfigsRequest& req,
                     const DescribeConfigsRequest::DescribeConfigsResource& r, int16_t v,
                     Result& out) {
  const BrokerConfig& cfg = broker.config();
  const auto dynamic = broker.dynamic_configs();
  if (r.resource_name.empty()) {  // the cluster-wide dynamic defaults that are set
    for (const auto& s : list_settings()) {
      auto it = dynamic.cluster_default.find(s.name);
      if (it == dynamic.cluster_default.end() || !wanted(r, s.name)) continue;
      cluster::DescribedConfig c;
      c.name = s.name;
      c.type = broker_type(s);
      c.value = it->second;
      c.source = ConfigSource::dynamic_default_broker;
      c.synonyms.push_back({s.name, it->second, ConfigSource::dynamic_default_broker});
      out.configs.push_back(to_entry(c, req, v, s.doc));
    }
    return;
  }
  char* end = nullptr;
  const long id = std::strtol(r.resource_name.c_str(), &end, 10);
  if (*end != '\0' || end == r.resource_name.c_str()) {
    out.error_code = protocol::code(ErrorCode::invalid_request);
    out.error_message = "Broker id must be an integer, but it is: " + r.resource_name;
    return;
  }
  if (id != cfg.node_id) {
    out.error_code = protocol::code(ErrorCode::invalid_request);
    out.error_message = "Unexpected broker id, expected " + std::to_string(cfg.node_id) +
                        " or empty string, but received " + r.resource_name;
    return;
  }
  for (const auto& s : list_settings()) {
    if (!wanted(r, s.name)) continue;
    cluster::DescribedConfig c;
    c.name = s.name;
    c.type = broker_type(s);
    c.read_only = !dynamic_configs::is_dynamic(s.name);
    if (auto b = broker_setting(cfg, dynamic, s.name)) {
      if (b->dynamic) c.synonyms.push_back({s.name, b->dynamic, ConfigSource::dynamic_broker});
      if (b->dynamic_default) {
        c.synonyms.push_back({s.name, b->dynamic_default, ConfigSource::dynamic_default_broker});
      }
      if (b->configured) c.synonyms.push_back({s.name, b->configured, ConfigSource::static_broker});
      if (b->default_value) {
        c.synonyms.push_back({s.name, b->default_value, ConfigSource::default_config});
      }
    }
    if (!c.synonyms.empty()) {
      c.value = c.synonyms.front().value;
      c.source = c.synonyms.front().source;
    }
    // An alias not given shows the value of the setting it stands for.
    const char* alias_of = s.name == "broker.id" ? "node.id"
                           : s.name == "log.dir" ? "log.dirs"
                                                 : "";
    if (auto t = cfg.raw.find(alias_of);
        t != cfg.raw.end() && c.source != ConfigSource::static_broker) {
      c.value = t->second;
    }
    out.configs.push_back(to_entry(c, req, v, s.doc));
  }
}

// A consumer group's configs (Kafka 4's GroupConfig): its own value (GROUP_CONFIG), else the
// broker's setting (DEFAULT_CONFIG), INT, not read-only. The group need not exist.
void describe_group(Broker& broker, const DescribeConfigsRequest& req,
                    const DescribeConfigsRequest::DescribeConfigsResource& r, int16_t v,
                    Result& out) {
  const auto& g = broker.config().group;
  const auto set = broker.group_configs().current();
  const auto own = set->find(r.resource_name);
  const struct {
    std::string_view name;
    int32_t broker_value;
    const char* doc;
  } defs[] = {{coordinator::kConsumerSessionTimeoutMs, g.consumer_session_timeout_ms,
               "The timeout to detect client failures when using the consumer group protocol."},
              {coordinator::kConsumerHeartbeatIntervalMs, g.consumer_heartbeat_interval_ms,
               "The heartbeat interval given to the members of this consumer group."}};
  for (const auto& d : defs) {
    const std::string name(d.name);
    if (!wanted(r, name)) continue;
    cluster::DescribedConfig c;
    c.name = name;
    c.type = ConfigType::int32;
    c.read_only = false;
    c.value = std::to_string(d.broker_value);
    c.source = ConfigSource::default_config;
    if (own != set->end()) {
      if (auto it = own->second.find(d.name); it != own->second.end()) {
        c.value = it->second;
        c.source = ConfigSource::group;
        c.synonyms.push_back({name, it->second, ConfigSource::group});
      }
    }
    c.synonyms.push_back({name, std::to_string(d.broker_value), ConfigSource::default_config});
    out.configs.push_back(to_entry(c, req, v, d.doc));
  }
}

}  // namespace

void handle_describe_configs(RequestContext& ctx, Responder respond) {
  DescribeConfigsRequest req;
  if (!ctx.decode(req)) return respond.close();
  const int16_t v = ctx.version();
  DescribeConfigsResponse resp;
  for (const auto& r : req.resources) {
    auto& out = resp.results.emplace_back();
    out.resource_type = r.resource_type;
    out.resource_name = r.resource_name;
    out.error_message = std::nullopt;
    if (auto refused = config_admin::refuse(ctx, AclOperation::describe_configs, r.resource_type,
                                            r.resource_name)) {
      out.error_code = protocol::code(refused->code);
      out.error_message = refused->message;
      continue;
    }
    switch (r.resource_type) {
      case kTopic:
        describe_topic(ctx.broker, req, r, v, out);
        break;
      case kBroker:
        describe_broker(ctx.broker, req, r, v, out);
        break;
      case kGroup:
        describe_group(ctx.broker, req, r, v, out);
        break;
      default:
        out.error_code = protocol::code(ErrorCode::invalid_request);
        out.error_message = "Unsupported resource type: " + std::to_string(r.resource_type);
    }
  }
  respond.send(resp);
}

}  // namespace kaffa::broker
