// `kaffa config get|set (topic NAME | broker ID)`.
//
// librdkafka 2.0.2 has no IncrementalAlterConfigs, so `set` describes the resource, merges the
// new values into its current dynamic overrides and sends the whole set with AlterConfigs (which
// replaces every override of the resource). Two concurrent `set`s can therefore lose an update.
#include <CLI/CLI.hpp>
#include <algorithm>
#include <cstdio>
#include <map>

#include "tools/cli_common.h"

namespace kaffa::cli {
namespace {

struct ConfigOpts {
  std::string type;
  std::string name;
  std::vector<std::string> pairs;
  std::vector<std::string> deletes;
  bool overrides_only = false;
};

rd_kafka_ResourceType_t resource_type(const ConfigOpts& o) {
  if (o.type == "broker") {
    if (o.name.empty() || o.name.find_first_not_of("0123456789") != std::string::npos) {
      usage_error("config: a broker is named by its numeric id, got '" + o.name + "'");
    }
    return RD_KAFKA_RESOURCE_BROKER;
  }
  return RD_KAFKA_RESOURCE_TOPIC;
}

rd_kafka_ConfigSource_t override_source(rd_kafka_ResourceType_t t) {
  return t == RD_KAFKA_RESOURCE_BROKER ? RD_KAFKA_CONFIG_SOURCE_DYNAMIC_BROKER_CONFIG
                                       : RD_KAFKA_CONFIG_SOURCE_DYNAMIC_TOPIC_CONFIG;
}

int config_get(Globals& g, const ConfigOpts& o) {
  auto type = resource_type(o);
  Client c(g, RD_KAFKA_PRODUCER);
  auto rows = describe_configs(c, type, o.name);
  std::sort(rows.begin(), rows.end(), [](auto& a, auto& b) { return a.name < b.name; });
  if (o.overrides_only) {
    std::erase_if(rows, [&](const ConfigRow& r) { return r.source_id != override_source(type); });
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

int config_set(Globals& g, const ConfigOpts& o) {
  auto type = resource_type(o);
  if (o.pairs.empty() && o.deletes.empty()) {
    usage_error("config set: give at least one key=value or --delete KEY");
  }
  std::map<std::string, std::string> updates;
  for (const auto& p : o.pairs) {
    auto [k, v] = split_kv(p, "config set");
    updates[k] = v;
  }
  Client c(g, RD_KAFKA_PRODUCER);
  std::map<std::string, std::string> merged;
  for (const auto& r : describe_configs(c, type, o.name)) {
    if (r.source_id != override_source(type)) continue;
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
  if (g.json) {
    Json j;
    j.begin_object().key("resource").str(o.type).key("name").str(o.name).key("set").begin_object();
    for (const auto& [k, v] : updates) j.key(k).str(v);
    j.end_object().key("deleted").begin_array();
    for (const auto& k : o.deletes) j.str(k);
    j.end_array().end_object().print();
  } else {
    for (const auto& [k, v] : updates) {
      std::printf("Set %s=%s on %s %s.\n", k.c_str(), v.c_str(), o.type.c_str(), o.name.c_str());
    }
    for (const auto& k : o.deletes) {
      std::printf("Removed %s from %s %s.\n", k.c_str(), o.type.c_str(), o.name.c_str());
    }
  }
  return 0;
}

void add_resource_args(CLI::App* sub, ConfigOpts& o) {
  sub->add_option("type", o.type, "topic or broker")
      ->required()
      ->check(CLI::IsMember({"topic", "broker"}));
  sub->add_option("name", o.name, "Topic name or broker id")->required();
}

}  // namespace

void add_config_commands(CLI::App& app, Globals& g) {
  auto* config = app.add_subcommand("config", "Show and change topic and broker configs");
  config->require_subcommand(1);
  auto o = std::make_shared<ConfigOpts>();

  auto* get = config->add_subcommand("get", "Show configs: config get (topic NAME | broker ID)");
  add_resource_args(get, *o);
  get->add_flag("-o,--overrides", o->overrides_only, "Only the values set on the resource");
  on_run(get, g, [&g, o] { return config_get(g, *o); });

  auto* set = config->add_subcommand(
      "set", "Change configs: config set (topic NAME | broker ID) key=value...");
  add_resource_args(set, *o);
  set->add_option("pairs", o->pairs, "key=value to set");
  set->add_option("--delete", o->deletes, "Remove an override (repeatable)");
  on_run(set, g, [&g, o] { return config_set(g, *o); });
}

}  // namespace kaffa::cli
