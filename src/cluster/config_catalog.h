// The catalog of Kafka's topic configs for DescribeConfigs / AlterConfigs /
// IncrementalAlterConfigs: each config's type, Kafka's default, the broker setting that provides
// its default (Kafka's ServerTopicConfigSynonyms: retention.ms <- log.retention.ms, ...), its
// documentation (config_docs.cc), and Kafka's value rules on top of invalid_topic_config()
// (topic_config.h): lower bounds, the compaction-lag relation, no tiered storage.
//
// Also what DescribeConfigs reports for a topic (the effective value of every config, its source
// and synonyms, as Kafka's ConfigHelper does), and the incremental operations (SET, DELETE,
// APPEND, SUBTRACT) as Kafka's ConfigurationControlManager applies them.
//
// Pure functions over values; no state, any thread.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace kaffa::cluster {

// DescribeConfigsResponse config_type (v3+), Kafka's ConfigType ids.
enum class ConfigType : int8_t {
  unknown = 0,
  boolean = 1,
  string = 2,
  int32 = 3,
  int16 = 4,
  int64 = 5,
  float64 = 6,
  list = 7,
  class_name = 8,
  password = 9,
};

// DescribeConfigsResponse config_source (v1+), Kafka's ConfigSource ids.
enum class ConfigSource : int8_t {
  unknown = 0,
  topic = 1,  // TOPIC_CONFIG (a dynamic topic override)
  dynamic_broker = 2,
  dynamic_default_broker = 3,
  static_broker = 4,  // set in the broker's properties file or by an override
  default_config = 5,
  dynamic_broker_logger = 6,
  client_metrics = 7,
  group = 8,  // GROUP_CONFIG (a group's own value, coordinator/group_configs.h)
};

struct TopicConfigDef {
  std::string_view name;
  ConfigType type;
  std::string_view kafka_default;   // as DescribeConfigs prints it; "" for an empty list
  std::string_view broker_name;     // the broker setting giving the default; "" = none
  std::optional<int64_t> at_least;  // Kafka's lower bound of a numeric config
};

// Every topic config Kafka defines (the names invalid_topic_config() accepts), sorted by name.
std::span<const TopicConfigDef> topic_config_defs();
const TopicConfigDef* find_topic_config_def(std::string_view name);
// Kafka's documentation of a topic config ("" when unknown). config_docs.cc.
std::string_view topic_config_doc(std::string_view name);

// invalid_topic_config() plus Kafka's bounds, with Kafka's message ("Invalid value 1 for
// configuration segment.bytes: Value must be at least 14"). nullopt when valid.
std::optional<std::string> validate_topic_config(std::string_view name,
                                                 const std::optional<std::string>& value);
// A topic's whole set of overrides: each one, then the relations between them.
std::optional<std::string> validate_topic_configs(const std::map<std::string, std::string>& all);

// A broker setting as the topic config's default source sees it.
struct BrokerSetting {
  std::optional<std::string> dynamic;          // this broker's dynamic value (KIP-226)
  std::optional<std::string> dynamic_default;  // the cluster-wide dynamic default
  std::optional<std::string> configured;       // given in the file / overrides (static)
  std::optional<std::string> default_value;    // the broker's own default
};
// Looks up a broker setting by name; nullopt when the broker has no such setting.
using BrokerLookup = std::function<std::optional<BrokerSetting>(std::string_view name)>;

struct ConfigSynonym {
  std::string name;
  std::optional<std::string> value;
  ConfigSource source = ConfigSource::unknown;
};

struct DescribedConfig {
  std::string name;
  std::optional<std::string> value;
  ConfigSource source = ConfigSource::default_config;
  ConfigType type = ConfigType::unknown;
  bool read_only = false;
  bool sensitive = false;
  std::vector<ConfigSynonym> synonyms;  // highest precedence first (the value's own source)
};

// One topic config as Kafka's ConfigHelper.createTopicConfigEntry describes it: the value is the
// topic's override, else the broker setting, else Kafka's default; synonyms are the override
// (TOPIC_CONFIG), the broker setting's dynamic values (DYNAMIC_BROKER_CONFIG,
// DYNAMIC_DEFAULT_BROKER_CONFIG), as configured (STATIC_BROKER_CONFIG) and the broker's default
// (DEFAULT_CONFIG); the source is the first synonym's, DEFAULT_CONFIG when none.
DescribedConfig describe_topic_config(const TopicConfigDef& def,
                                      const std::map<std::string, std::string>& overrides,
                                      const BrokerLookup& broker);

// IncrementalAlterConfigs operations (Kafka's AlterConfigOp.OpType ids).
enum class AlterOp : int8_t { set = 0, remove = 1, append = 2, subtract = 3 };

// Which configs of a resource are lists: a topic's as Kafka's catalog says; none of a group's.
enum class ListConfigs { topic, none };

// Applies one operation to a resource's overrides. APPEND/SUBTRACT work on list configs only,
// starting from the current override or Kafka's default; on any other name, known or not,
// Kafka's "Can't APPEND to key ... because its type is not LIST.". The other checks are the
// caller's (validate_topic_configs on the result). Returns an INVALID_CONFIG message on failure.
std::optional<std::string> apply_alter_op(std::map<std::string, std::string>& overrides,
                                          std::string_view name, AlterOp op,
                                          const std::optional<std::string>& value,
                                          ListConfigs lists = ListConfigs::topic);

// A change of a resource's configs applied in place to the configs as they are; returns an
// INVALID_CONFIG message to refuse. It holds its own data: a store applies it again to the
// newest configs after losing a race, as Kafka's controller applies alterations one at a time.
using ConfigChange = std::function<std::optional<std::string>(std::map<std::string, std::string>&)>;

}  // namespace kaffa::cluster
