#include "cluster/config_catalog.h"

#include <algorithm>
#include <charconv>

#include "cluster/topic_config.h"

namespace kaffa::cluster {
namespace {

using T = ConfigType;
constexpr std::string_view kLongMax = "9223372036854775807";

// Kafka's LogConfig definitions (types, defaults, atLeast bounds) and ServerTopicConfigSynonyms
// (the first, highest-priority broker synonym).
constexpr TopicConfigDef kDefs[] = {
    {"cleanup.policy", T::list, "delete", "log.cleanup.policy", std::nullopt},
    {"compression.type", T::string, "producer", "compression.type", std::nullopt},
    {"delete.retention.ms", T::int64, "86400000", "log.cleaner.delete.retention.ms", 0},
    {"file.delete.delay.ms", T::int64, "60000", "log.segment.delete.delay.ms", 0},
    {"flush.messages", T::int64, kLongMax, "log.flush.interval.messages", 1},
    {"flush.ms", T::int64, kLongMax, "log.flush.interval.ms", 0},
    {"follower.replication.throttled.replicas", T::list, "", "", std::nullopt},
    {"index.interval.bytes", T::int32, "4096", "log.index.interval.bytes", 0},
    {"leader.replication.throttled.replicas", T::list, "", "", std::nullopt},
    {"local.retention.bytes", T::int64, "-2", "log.local.retention.bytes", -2},
    {"local.retention.ms", T::int64, "-2", "log.local.retention.ms", -2},
    {"max.compaction.lag.ms", T::int64, kLongMax, "log.cleaner.max.compaction.lag.ms", 1},
    {"max.message.bytes", T::int32, "1048588", "message.max.bytes", 0},
    {"message.downconversion.enable", T::boolean, "true", "log.message.downconversion.enable",
     std::nullopt},
    {"message.format.version", T::string, "3.0-IV1", "log.message.format.version", std::nullopt},
    {"message.timestamp.after.max.ms", T::int64, kLongMax, "log.message.timestamp.after.max.ms", 0},
    {"message.timestamp.before.max.ms", T::int64, kLongMax, "log.message.timestamp.before.max.ms",
     0},
    {"message.timestamp.difference.max.ms", T::int64, kLongMax,
     "log.message.timestamp.difference.max.ms", 0},
    {"message.timestamp.type", T::string, "CreateTime", "log.message.timestamp.type", std::nullopt},
    {"min.cleanable.dirty.ratio", T::float64, "0.5", "log.cleaner.min.cleanable.ratio",
     std::nullopt},
    {"min.compaction.lag.ms", T::int64, "0", "log.cleaner.min.compaction.lag.ms", 0},
    {"min.insync.replicas", T::int32, "1", "min.insync.replicas", 1},
    {"preallocate", T::boolean, "false", "log.preallocate", std::nullopt},
    {"remote.storage.enable", T::boolean, "false", "", std::nullopt},
    {"retention.bytes", T::int64, "-1", "log.retention.bytes", std::nullopt},
    {"retention.ms", T::int64, "604800000", "log.retention.ms", -1},
    {"segment.bytes", T::int32, "1073741824", "log.segment.bytes", 14},
    {"segment.index.bytes", T::int32, "10485760", "log.index.size.max.bytes", 4},
    {"segment.jitter.ms", T::int64, "0", "log.roll.jitter.ms", 0},
    {"segment.ms", T::int64, "604800000", "log.roll.ms", 1},
    {"unclean.leader.election.enable", T::boolean, "false", "unclean.leader.election.enable",
     std::nullopt},
};

std::optional<int64_t> parse_long(std::string_view v) {
  int64_t n = 0;
  auto [p, ec] = std::from_chars(v.data(), v.data() + v.size(), n);
  if (ec != std::errc() || p != v.data() + v.size()) return std::nullopt;
  return n;
}

// Kafka's list parsing: comma-separated, items trimmed, empty items dropped.
std::vector<std::string> split_list(std::string_view v) {
  std::vector<std::string> out;
  size_t start = 0;
  while (start <= v.size()) {
    size_t end = v.find(',', start);
    if (end == std::string_view::npos) end = v.size();
    std::string_view item = v.substr(start, end - start);
    while (!item.empty() && item.front() == ' ') item.remove_prefix(1);
    while (!item.empty() && item.back() == ' ') item.remove_suffix(1);
    if (!item.empty()) out.emplace_back(item);
    start = end + 1;
  }
  return out;
}

std::string join_list(const std::vector<std::string>& items) {
  std::string out;
  for (const auto& i : items) {
    if (!out.empty()) out += ',';
    out += i;
  }
  return out;
}

std::string_view op_name(AlterOp op) {
  switch (op) {
    case AlterOp::set:
      return "SET";
    case AlterOp::remove:
      return "DELETE";
    case AlterOp::append:
      return "APPEND";
    case AlterOp::subtract:
      return "SUBTRACT";
  }
  return "UNKNOWN";
}

}  // namespace

std::span<const TopicConfigDef> topic_config_defs() {
  return kDefs;
}

const TopicConfigDef* find_topic_config_def(std::string_view name) {
  for (const auto& d : kDefs) {
    if (d.name == name) return &d;
  }
  return nullptr;
}

std::optional<std::string> validate_topic_config(std::string_view name,
                                                 const std::optional<std::string>& value) {
  if (auto why = invalid_topic_config(name, value)) return why;
  const TopicConfigDef* def = find_topic_config_def(name);
  if (def == nullptr || !value) return std::nullopt;
  const std::string prefix = "Invalid value " + *value + " for configuration " + std::string(name);
  if (def->at_least) {
    const auto n = parse_long(*value);
    if (n && *n < *def->at_least) {
      return prefix + ": Value must be at least " + std::to_string(*def->at_least);
    }
  }
  if (def->type == ConfigType::list && name == "cleanup.policy") {
    for (const auto& item : split_list(*value)) {
      if (item != "delete" && item != "compact") {
        return prefix + ": String must be one of: compact, delete";
      }
    }
  }
  return std::nullopt;
}

std::optional<std::string> validate_topic_configs(const std::map<std::string, std::string>& all) {
  for (const auto& [name, value] : all) {
    if (auto why = validate_topic_config(name, value)) return why;
  }
  auto number = [&](const char* name) {
    auto it = all.find(name);
    const TopicConfigDef* def = find_topic_config_def(name);
    return parse_long(it != all.end() ? it->second : def->kafka_default).value_or(0);
  };
  const int64_t min_lag = number("min.compaction.lag.ms");
  const int64_t max_lag = number("max.compaction.lag.ms");
  if (min_lag > max_lag) {
    return "conflict topic config setting min.compaction.lag.ms (" + std::to_string(min_lag) +
           ") > max.compaction.lag.ms (" + std::to_string(max_lag) + ")";
  }
  if (auto it = all.find("remote.storage.enable"); it != all.end() && it->second == "true") {
    return "Tiered Storage functionality is disabled in the broker. Topic cannot be configured "
           "with remote log storage.";
  }
  return std::nullopt;
}

DescribedConfig describe_topic_config(const TopicConfigDef& def,
                                      const std::map<std::string, std::string>& overrides,
                                      const BrokerLookup& broker) {
  DescribedConfig out;
  out.name = std::string(def.name);
  out.type = def.type;
  out.value = std::string(def.kafka_default);
  if (auto it = overrides.find(out.name); it != overrides.end()) {
    out.synonyms.push_back({out.name, it->second, ConfigSource::topic});
  }
  if (!def.broker_name.empty() && broker) {
    if (auto b = broker(def.broker_name)) {
      const std::string bname(def.broker_name);
      if (b->dynamic) out.synonyms.push_back({bname, b->dynamic, ConfigSource::dynamic_broker});
      if (b->dynamic_default) {
        out.synonyms.push_back({bname, b->dynamic_default, ConfigSource::dynamic_default_broker});
      }
      if (b->configured)
        out.synonyms.push_back({bname, b->configured, ConfigSource::static_broker});
      if (b->default_value) {
        out.synonyms.push_back({bname, b->default_value, ConfigSource::default_config});
      }
    }
  }
  if (!out.synonyms.empty()) {
    out.value = out.synonyms.front().value;
    out.source = out.synonyms.front().source;
  } else {
    out.source = ConfigSource::default_config;
  }
  return out;
}

std::optional<std::string> apply_alter_op(std::map<std::string, std::string>& overrides,
                                          std::string_view name, AlterOp op,
                                          const std::optional<std::string>& value,
                                          ListConfigs lists) {
  const std::string key(name);
  switch (op) {
    case AlterOp::set:
      if (!value) return "Null value not supported for topic configs: " + key;
      overrides[key] = *value;
      return std::nullopt;
    case AlterOp::remove:
      overrides.erase(key);
      return std::nullopt;
    case AlterOp::append:
    case AlterOp::subtract: {
      const TopicConfigDef* def =
          lists == ListConfigs::topic ? find_topic_config_def(name) : nullptr;
      if (def == nullptr || def->type != ConfigType::list) {
        return "Can't " + std::string(op_name(op)) + " to key " + key +
               " because its type is not LIST.";
      }
      auto it = overrides.find(key);
      auto items =
          split_list(it != overrides.end() ? std::string_view(it->second) : def->kafka_default);
      for (const auto& v : split_list(value.value_or(""))) {
        auto pos = std::find(items.begin(), items.end(), v);
        if (op == AlterOp::append && pos == items.end()) items.push_back(v);
        if (op == AlterOp::subtract && pos != items.end()) items.erase(pos);
      }
      overrides[key] = join_list(items);
      return std::nullopt;
    }
  }
  return "Unknown operation " + std::to_string(static_cast<int>(op));
}

}  // namespace kaffa::cluster
