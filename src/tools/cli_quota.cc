// `kaffa quota list|set|delete`: client quotas (KIP-546's DescribeClientQuotas and
// AlterClientQuotas), as `kafka-configs.sh --entity-type users|clients` manages them.
// librdkafka 2.0 has no API for these requests, so they go through RawClient.
//
// An entity is given with --user NAME and/or --client-id NAME; `--user-default` /
// `--client-id-default` name Kafka's <default> entities.
#include <CLI/CLI.hpp>
#include <cstdio>

#include "protocol/messages/alter_client_quotas.h"
#include "protocol/messages/describe_client_quotas.h"
#include "tools/cli_common.h"
#include "tools/raw_client.h"

namespace kaffa::cli {
namespace {

constexpr int16_t kDescribe = 48;
constexpr int16_t kAlter = 49;

struct QuotaOptions {
  std::optional<std::string> user, client_id;
  bool user_default = false, client_id_default = false;
  std::vector<std::string> values;  // set: key=value
  std::vector<std::string> keys;    // delete: the keys (default: both byte rates)
};

// (type, name or null) pairs of the entity the options name.
std::vector<std::pair<std::string, std::optional<std::string>>> entity_of(const QuotaOptions& o) {
  std::vector<std::pair<std::string, std::optional<std::string>>> out;
  if (o.user && o.user_default) usage_error("give --user or --user-default, not both");
  if (o.client_id && o.client_id_default) {
    usage_error("give --client-id or --client-id-default, not both");
  }
  if (o.user || o.user_default) out.emplace_back("user", o.user);
  if (o.client_id || o.client_id_default) out.emplace_back("client-id", o.client_id);
  return out;
}

std::string entity_text(const std::string& type, const std::optional<std::string>& name) {
  return type + "=" + name.value_or("<default>");
}

int quota_list(Globals& g, const QuotaOptions& o) {
  protocol::DescribeClientQuotasRequest req;
  for (const auto& [type, name] : entity_of(o)) {
    req.components.push_back({type, static_cast<int8_t>(name ? 0 : 1), name});
  }
  RawClient c(g);
  protocol::DescribeClientQuotasResponse resp;
  c.call_checked("DescribeClientQuotas", kDescribe, 1, req, resp);
  Json j;
  j.begin_array();
  Table t({"ENTITY", "QUOTA", "VALUE"});
  for (const auto& e : resp.entries.value_or(decltype(resp.entries)::value_type{})) {
    std::string entity;
    j.begin_object().key("entity").begin_object();
    for (const auto& part : e.entity) {
      entity += (entity.empty() ? "" : ",") + entity_text(part.entity_type, part.entity_name);
      j.key(part.entity_type).opt_str(part.entity_name);
    }
    j.end_object().key("quotas").begin_object();
    for (const auto& v : e.values) {
      const auto value = static_cast<int64_t>(v.value);
      t.row({entity, v.key, std::to_string(value)});
      j.key(v.key).num(value);
    }
    j.end_object().end_object();
  }
  j.end_array();
  g.json ? j.print() : t.print();
  return 0;
}

int alter(Globals& g, const QuotaOptions& o,
          std::vector<protocol::AlterClientQuotasRequest::OpData> ops, const char* done) {
  const auto entity = entity_of(o);
  if (entity.empty()) usage_error("name an entity: --user, --client-id or their -default forms");
  protocol::AlterClientQuotasRequest req;
  auto& e = req.entries.emplace_back();
  for (const auto& [type, name] : entity) e.entity.push_back({type, name});
  e.ops = std::move(ops);
  RawClient c(g);
  protocol::AlterClientQuotasResponse resp;
  c.call(kAlter, 1, req, resp);
  for (const auto& r : resp.entries) {
    if (r.error_code != 0) {
      throw Failure(kExitKafka, "AlterClientQuotas failed: " +
                                    r.error_message.value_or(std::to_string(r.error_code)));
    }
  }
  std::string text;
  for (const auto& [type, name] : entity)
    text += (text.empty() ? "" : ",") + entity_text(type, name);
  if (!g.json) std::printf("%s the quotas of %s\n", done, text.c_str());
  return 0;
}

int quota_set(Globals& g, const QuotaOptions& o) {
  std::vector<protocol::AlterClientQuotasRequest::OpData> ops;
  for (const auto& kv : o.values) {
    auto [key, value] = split_kv(kv, "quota");
    try {
      size_t used = 0;
      const double v = std::stod(value, &used);
      if (used != value.size()) throw std::invalid_argument(value);
      ops.push_back({key, v, false});
    } catch (const std::exception&) {
      usage_error("bad number in '" + kv + "'");
    }
  }
  if (ops.empty())
    usage_error("give at least one KEY=VALUE (producer_byte_rate, consumer_byte_rate)");
  return alter(g, o, std::move(ops), "Set");
}

int quota_delete(Globals& g, const QuotaOptions& o) {
  std::vector<protocol::AlterClientQuotasRequest::OpData> ops;
  const std::vector<std::string> all{"producer_byte_rate", "consumer_byte_rate"};
  for (const auto& key : o.keys.empty() ? all : o.keys) ops.push_back({key, 0, true});
  return alter(g, o, std::move(ops), "Deleted");
}

void add_entity_options(CLI::App* cmd, QuotaOptions& o) {
  cmd->add_option("--user", o.user, "User principal name (without User:)");
  cmd->add_flag("--user-default", o.user_default, "The <default> user");
  cmd->add_option("--client-id", o.client_id, "Client id");
  cmd->add_flag("--client-id-default", o.client_id_default, "The <default> client id");
}

}  // namespace

void add_quota_commands(CLI::App& app, Globals& g) {
  auto* quota = app.add_subcommand(
      "quota", "Client quotas (as kafka-configs.sh --entity-type users|clients)");
  quota->require_subcommand(1);
  auto o = std::make_shared<QuotaOptions>();

  auto* list = quota->add_subcommand("list", "Quotas, all or of the entity given");
  add_entity_options(list, *o);
  on_run(list, g, [&g, o] { return quota_list(g, *o); });

  auto* set = quota->add_subcommand("set", "Set quotas: KEY=BYTES_PER_SECOND...");
  add_entity_options(set, *o);
  set->add_option("values", o->values, "producer_byte_rate=N, consumer_byte_rate=N")->required();
  on_run(set, g, [&g, o] { return quota_set(g, *o); });

  auto* del = quota->add_subcommand("delete", "Remove quotas of an entity");
  add_entity_options(del, *o);
  del->add_option("keys", o->keys, "Only these keys (default: both byte rates)");
  on_run(del, g, [&g, o] { return quota_delete(g, *o); });
}

}  // namespace kaffa::cli
