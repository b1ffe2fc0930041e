// `kaffa config get|set (topic NAME | broker ID | cluster)`.
//
// `set` sends IncrementalAlterConfigs through RawClient, which sets and deletes each key on its own
// (as kafka-configs.sh does): other overrides are left as they are, sensitive ones included, and
// two concurrent `set`s cannot lose each other's keys. A broker's own resource goes to that broker
// (found in the metadata), as Kafka's admin client sends it.
//
// With settings RawClient cannot use (TLS, SCRAM, other -X settings) `set` on a topic or broker
// falls back to librdkafka 2.0.2, which has no IncrementalAlterConfigs: it describes the resource,
// merges the new values into its current dynamic overrides and sends the whole set with
// AlterConfigs (which replaces every override of the resource). Two concurrent `set`s can then
// lose an update, and a sensitive override (never described) is dropped, with a warning.
//
// `cluster` is Kafka's cluster-wide default of every broker (the broker resource named "", as
// `kafka-configs.sh --entity-type brokers --entity-default`). librdkafka cannot name that
// resource, so its verbs always go through RawClient.
#include <CLI/CLI.hpp>
#include <algorithm>
#include <cstdio>
#include <map>

#include "protocol/messages/describe_configs.h"
#include "protocol/messages/incremental_alter_configs.h"
#include "tools/cli_common.h"
#include "tools/raw_client.h"

namespace kaffa::cli {
namespace {

constexpr int16_t kDescribeConfigs = 32;
constexpr int16_t kIncrementalAlterConfigs = 44;
constexpr int8_t kTopicResource = 2;   // Kafka's ConfigResource.Type.TOPIC
constexpr int8_t kBrokerResource = 4;  // Kafka's ConfigResource.Type.BROKER
constexpr int8_t kSet = 0, kDelete = 1;

struct ConfigOpts {
  std::string type;
  std::vector<std::string> args;  // the topic's or broker's name, then (set) key=value pairs
  std::vector<std::string> deletes;
  bool overrides_only = false;
  // From args:
  std::string name;  // "" for the cluster
  std::vector<std::string> pairs;
};

bool cluster(const ConfigOpts& o) {
  return o.type == "cluster";
}

// Splits args into the resource's name and the pairs (a usage error for a missing name, or for
// pairs given to `get`).
void resolve(ConfigOpts& o, const char* verb) {
  auto first = o.args.begin();
  if (!cluster(o)) {
    if (o.args.empty()) usage_error(std::string("config ") + verb + ": name the " + o.type);
    o.name = *first++;
  }
  o.pairs.assign(first, o.args.end());
  if (std::string(verb) == "get" && !o.pairs.empty()) {
    usage_error("config get: unexpected argument '" + o.pairs.front() + "'");
  }
}

std::string resource_text(const ConfigOpts& o) {
  return cluster(o) ? "the cluster-wide broker defaults" : o.type + " " + o.name;
}

rd_kafka_ResourceType_t resource_type(const ConfigOpts& o) {
  if (o.type == "broker") {
    if (o.name.empty() || o.name.find_first_not_of("0123456789") != std::string::npos) {
      usage_error("config: a broker is named by its numeric id, got '" + o.name + "'");
    }
    return RD_KAFKA_RESOURCE_BROKER;
  }
  return RD_KAFKA_RESOURCE_TOPIC;
}

rd_kafka_ConfigSource_t override_source(const ConfigOpts& o) {
  if (cluster(o)) return RD_KAFKA_CONFIG_SOURCE_DYNAMIC_DEFAULT_BROKER_CONFIG;
  return o.type == "broker" ? RD_KAFKA_CONFIG_SOURCE_DYNAMIC_BROKER_CONFIG
                            : RD_KAFKA_CONFIG_SOURCE_DYNAMIC_TOPIC_CONFIG;
}

// A failed resource of a raw answer: `kaffa: <what>: <message> (<ERROR_NAME>)`, exit 1.
void check_resource(const std::string& what, int16_t error,
                    const std::optional<std::string>& message) {
  if (error == 0) return;
  kafka_error(what, static_cast<rd_kafka_resp_err_t>(error), message ? message->c_str() : nullptr);
}

// DescribeConfigs v1 of the broker resource "": the cluster-wide values set.
std::vector<ConfigRow> describe_cluster(Globals& g) {
  protocol::DescribeConfigsRequest req;
  req.resources.push_back({kBrokerResource, "", std::nullopt, {}});
  RawClient c(g);
  protocol::DescribeConfigsResponse resp;
  c.call(kDescribeConfigs, 1, req, resp);
  std::vector<ConfigRow> rows;
  for (const auto& res : resp.results) {
    check_resource("describe configs of the cluster-wide broker defaults", res.error_code,
                   res.error_message);
    for (const auto& e : res.configs) {
      ConfigRow r;
      r.name = e.name;
      r.value = e.value;
      r.source_id = static_cast<rd_kafka_ConfigSource_t>(e.config_source);
      r.source = rd_kafka_ConfigSource_name(r.source_id);
      r.read_only = e.read_only;
      r.is_default = e.is_default;
      r.sensitive = e.is_sensitive;
      rows.push_back(std::move(r));
    }
  }
  return rows;
}

// Where a broker resource's change goes: broker `id`'s address in the metadata.
Globals at_broker(Globals g, const std::string& id) {
  Client c(g, RD_KAFKA_PRODUCER);
  const Metadata md = fetch_metadata(c);
  for (int i = 0; i < md->broker_cnt; ++i) {
    if (std::to_string(md->brokers[i].id) == id) {
      g.brokers = std::string(md->brokers[i].host) + ":" + std::to_string(md->brokers[i].port);
      return g;
    }
  }
  throw Failure(kExitKafka, "alter configs of broker " + id + ": no such broker in the cluster");
}

// IncrementalAlterConfigs v0 of the topic, the broker or the cluster-wide defaults (the broker
// resource ""): each key set or deleted on its own.
void alter_incremental(Globals& g, const ConfigOpts& o,
                       const std::map<std::string, std::string>& updates) {
  protocol::IncrementalAlterConfigsRequest req;
  auto& res = req.resources.emplace_back();
  res.resource_type = o.type == "topic" ? kTopicResource : kBrokerResource;
  res.resource_name = o.name;
  for (const auto& [k, v] : updates) res.configs.push_back({k, kSet, v, {}});
  for (const auto& k : o.deletes) res.configs.push_back({k, kDelete, std::nullopt, {}});
  RawClient c(o.type == "broker" ? at_broker(g, o.name) : g);
  protocol::IncrementalAlterConfigsResponse resp;
  c.call(kIncrementalAlterConfigs, 0, req, resp);
  for (const auto& r : resp.responses) {
    check_resource("alter configs of " + resource_text(o), r.error_code, r.error_message);
  }
}

// The librdkafka path of `set` for a topic or broker (see the top of the file).
void alter_merged(Globals& g, const ConfigOpts& o, rd_kafka_ResourceType_t type,
                  const std::map<std::string, std::string>& updates) {
  Client c(g, RD_KAFKA_PRODUCER);
  std::map<std::string, std::string> merged;
  for (const auto& r : describe_configs(c, type, o.name)) {
    if (r.source_id != override_source(o)) continue;
    if (!r.value) {
      std::fprintf(stderr, "kaffa: warning: %s is sensitive and cannot be kept by AlterConfigs\n",
                   r.name.c_str());
      continue;
    }
    merged[r.name] = *r.value;
  }
  for (const auto& k : o.deletes) merged.erase(k);
  for (const auto& [k, v] : updates) merged[k] = v;

  rd_kafka_ConfigResource_t* res = rd_kafka_ConfigResource_new(type, o.name.c_str());
  for (const auto& [k, v] : merged) rd_kafka_ConfigResource_set_config(res, k.c_str(), v.c_str());
  std::string what = "alter configs of " + o.type + " " + o.name;
  Event ev = [&] {
    try {
      return admin_call(c, RD_KAFKA_ADMIN_OP_ALTERCONFIGS, what, [&](auto* opt, auto* q) {
        rd_kafka_AlterConfigs(c.get(), &res, 1, opt, q);
      });
    } catch (...) {
      rd_kafka_ConfigResource_destroy(res);
      throw;
    }
  }();
  rd_kafka_ConfigResource_destroy(res);
  size_t n = 0;
  auto** results =
      rd_kafka_AlterConfigs_result_resources(rd_kafka_event_AlterConfigs_result(ev.get()), &n);
  for (size_t i = 0; i < n; ++i) {
    if (auto err = rd_kafka_ConfigResource_error(results[i])) {
      kafka_error(what, err, rd_kafka_ConfigResource_error_string(results[i]));
    }
  }
}

int config_get(Globals& g, ConfigOpts& o) {
  resolve(o, "get");
  std::vector<ConfigRow> rows;
  if (cluster(o)) {
    rows = describe_cluster(g);
  } else {
    auto type = resource_type(o);
    Client c(g, RD_KAFKA_PRODUCER);
    rows = describe_configs(c, type, o.name);
  }
  std::sort(rows.begin(), rows.end(), [](auto& a, auto& b) { return a.name < b.name; });
  if (o.overrides_only) {
    std::erase_if(rows, [&](const ConfigRow& r) { return r.source_id != override_source(o); });
  }
  if (g.json) {
    Json j;
    j.begin_object().key("resource").str(o.type).key("name").str(o.name).key("configs");
    json_configs(j, rows);
    j.end_object().print();
    return 0;
  }
  Table t({"NAME", "VALUE", "SOURCE", "READ-ONLY"});
  for (const auto& r : rows) {
    t.row({r.name, r.sensitive ? "(sensitive)" : r.value.value_or("(null)"), r.source,
           r.read_only ? "yes" : "no"});
  }
  t.print();
  return 0;
}

int config_set(Globals& g, ConfigOpts& o) {
  resolve(o, "set");
  if (o.pairs.empty() && o.deletes.empty()) {
    usage_error("config set: give at least one key=value or --delete KEY");
  }
  std::map<std::string, std::string> updates;
  for (const auto& p : o.pairs) {
    auto [k, v] = split_kv(p, "config set");
    updates[k] = v;
  }
  if (cluster(o) || !RawClient::unsupported(g)) {
    if (!cluster(o)) resource_type(o);  // a broker's id is checked first
    alter_incremental(g, o, updates);
  } else {
    alter_merged(g, o, resource_type(o), updates);
  }
  if (g.json) {
    Json j;
    j.begin_object().key("resource").str(o.type).key("name").str(o.name).key("set").begin_object();
    for (const auto& [k, v] : updates) j.key(k).str(v);
    j.end_object().key("deleted").begin_array();
    for (const auto& k : o.deletes) j.str(k);
    j.end_array().end_object().print();
  } else {
    const std::string on = resource_text(o);
    for (const auto& [k, v] : updates) {
      std::printf("Set %s=%s on %s.\n", k.c_str(), v.c_str(), on.c_str());
    }
    for (const auto& k : o.deletes) std::printf("Removed %s from %s.\n", k.c_str(), on.c_str());
  }
  return 0;
}

void add_resource_args(CLI::App* sub, ConfigOpts& o, const char* rest) {
  sub->add_option("type", o.type, "topic, broker or cluster (every broker's default)")
      ->required()
      ->check(CLI::IsMember({"topic", "broker", "cluster"}));
  sub->add_option("args", o.args, rest);
}

}  // namespace

void add_config_commands(CLI::App& app, Globals& g) {
  auto* config = app.add_subcommand("config", "Show and change topic and broker configs");
  config->require_subcommand(1);
  auto o = std::make_shared<ConfigOpts>();

  auto* get =
      config->add_subcommand("get", "Show configs: config get (topic NAME | broker ID | cluster)");
  add_resource_args(get, *o, "Topic name or broker id (none for cluster)");
  get->add_flag("-o,--overrides", o->overrides_only, "Only the values set on the resource");
  on_run(get, g, [&g, o] { return config_get(g, *o); });

  auto* set = config->add_subcommand(
      "set", "Change configs: config set (topic NAME | broker ID | cluster) key=value...");
  add_resource_args(set, *o, "Topic name or broker id (none for cluster), then key=value pairs");
  set->add_option("--delete", o->deletes, "Remove an override (repeatable)");
  on_run(set, g, [&g, o] { return config_set(g, *o); });
}

}  // namespace kaffa::cli
