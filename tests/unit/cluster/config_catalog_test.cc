#include "cluster/config_catalog.h"

#include <gtest/gtest.h>

#include "cluster/topic_config.h"
#include "cluster/topic_registry.h"

namespace kaffa::cluster {
namespace {

TEST(ConfigCatalog, EveryKafkaTopicConfigWithValidDefaultAndDoc) {
  EXPECT_EQ(topic_config_defs().size(), 31u);
  std::string_view previous;
  for (const auto& d : topic_config_defs()) {
    EXPECT_LT(previous, d.name);  // sorted
    previous = d.name;
    EXPECT_FALSE(invalid_topic_config(d.name, std::string(d.kafka_default))) << d.name;
    if (d.name != "remote.storage.enable") {
      EXPECT_FALSE(validate_topic_config(d.name, std::string(d.kafka_default))) << d.name;
    }
    EXPECT_FALSE(topic_config_doc(d.name).empty()) << d.name;
  }
  EXPECT_EQ(find_topic_config_def("retention.ms")->broker_name, "log.retention.ms");
  EXPECT_EQ(find_topic_config_def("max.message.bytes")->broker_name, "message.max.bytes");
  EXPECT_EQ(find_topic_config_def("cleanup.policy")->type, ConfigType::list);
  EXPECT_EQ(find_topic_config_def("segment.bytes")->type, ConfigType::int32);
  EXPECT_EQ(find_topic_config_def("nope"), nullptr);
}

TEST(ConfigCatalog, KafkaBoundsAndMessages) {
  EXPECT_EQ(*validate_topic_config("segment.bytes", "13"),
            "Invalid value 13 for configuration segment.bytes: Value must be at least 14");
  EXPECT_FALSE(validate_topic_config("segment.bytes", "14"));
  EXPECT_TRUE(validate_topic_config("segment.ms", "0"));
  EXPECT_FALSE(validate_topic_config("retention.ms", "-1"));
  EXPECT_TRUE(validate_topic_config("retention.ms", "-2"));
  EXPECT_TRUE(validate_topic_config("max.message.bytes", "abc"));
  EXPECT_EQ(*validate_topic_config("no.such", "1"), "Unknown topic config name: no.such");
  EXPECT_FALSE(validate_topic_configs({{"min.compaction.lag.ms", "5"}}));
  EXPECT_TRUE(
      validate_topic_configs({{"min.compaction.lag.ms", "5"}, {"max.compaction.lag.ms", "4"}}));
  EXPECT_TRUE(validate_topic_configs({{"remote.storage.enable", "true"}}));
}

TEST(ConfigCatalog, DescribeSourcesAndSynonyms) {
  const BrokerLookup broker = [](std::string_view name) -> std::optional<BrokerSetting> {
    if (name == "log.segment.bytes") {
      return BrokerSetting{.configured = "2000000", .default_value = "1073741824"};
    }
    if (name == "message.max.bytes") return BrokerSetting{.default_value = "1048588"};
    if (name == "log.retention.bytes") {
      return BrokerSetting{
          .dynamic = "30", .dynamic_default = "20", .configured = "10", .default_value = "-1"};
    }
    return std::nullopt;
  };
  const std::map<std::string, std::string> overrides{{"max.message.bytes", "5000"}};

  auto c = describe_topic_config(*find_topic_config_def("max.message.bytes"), overrides, broker);
  EXPECT_EQ(c.value, "5000");
  EXPECT_EQ(c.source, ConfigSource::topic);
  ASSERT_EQ(c.synonyms.size(), 2u);
  EXPECT_EQ(c.synonyms[1].name, "message.max.bytes");
  EXPECT_EQ(c.synonyms[1].source, ConfigSource::default_config);

  c = describe_topic_config(*find_topic_config_def("segment.bytes"), overrides, broker);
  EXPECT_EQ(c.value, "2000000");
  EXPECT_EQ(c.source, ConfigSource::static_broker);
  ASSERT_EQ(c.synonyms.size(), 2u);
  EXPECT_EQ(c.synonyms[0].name, "log.segment.bytes");

  c = describe_topic_config(*find_topic_config_def("retention.ms"), overrides, broker);
  EXPECT_EQ(c.value, "604800000");  // Kafka's default, no broker setting
  EXPECT_EQ(c.source, ConfigSource::default_config);
  EXPECT_TRUE(c.synonyms.empty());
  EXPECT_EQ(c.type, ConfigType::int64);

  // The dynamic values come first: this broker's own, then the cluster-wide default.
  c = describe_topic_config(*find_topic_config_def("retention.bytes"), overrides, broker);
  EXPECT_EQ(c.value, "30");
  EXPECT_EQ(c.source, ConfigSource::dynamic_broker);
  ASSERT_EQ(c.synonyms.size(), 4u);
  EXPECT_EQ(c.synonyms[1].value, "20");
  EXPECT_EQ(c.synonyms[1].source, ConfigSource::dynamic_default_broker);
  EXPECT_EQ(c.synonyms[2].source, ConfigSource::static_broker);
  EXPECT_EQ(c.synonyms[3].source, ConfigSource::default_config);
}

TEST(ConfigCatalog, IncrementalOperations) {
  std::map<std::string, std::string> m;
  EXPECT_FALSE(apply_alter_op(m, "cleanup.policy", AlterOp::append, "compact"));
  EXPECT_EQ(m["cleanup.policy"], "delete,compact");  // from Kafka's default "delete"
  EXPECT_FALSE(apply_alter_op(m, "cleanup.policy", AlterOp::append, "compact"));
  EXPECT_EQ(m["cleanup.policy"], "delete,compact");
  EXPECT_FALSE(apply_alter_op(m, "cleanup.policy", AlterOp::subtract, "delete"));
  EXPECT_EQ(m["cleanup.policy"], "compact");
  EXPECT_FALSE(validate_topic_configs(m));
  EXPECT_EQ(*apply_alter_op(m, "retention.ms", AlterOp::append, "1"),
            "Can't APPEND to key retention.ms because its type is not LIST.");
  EXPECT_FALSE(apply_alter_op(m, "retention.ms", AlterOp::set, "1000"));
  EXPECT_EQ(m["retention.ms"], "1000");
  EXPECT_FALSE(apply_alter_op(m, "retention.ms", AlterOp::remove, std::nullopt));
  EXPECT_EQ(m.count("retention.ms"), 0u);
  EXPECT_FALSE(apply_alter_op(m, "cleanup.policy", AlterOp::set, "bogus"));
  EXPECT_TRUE(validate_topic_configs(m));
  // Kafka's message for any name that is not a list, unknown ones included; a group has none.
  EXPECT_EQ(*apply_alter_op(m, "no.such", AlterOp::subtract, "1"),
            "Can't SUBTRACT to key no.such because its type is not LIST.");
  EXPECT_EQ(*apply_alter_op(m, "cleanup.policy", AlterOp::append, "compact", ListConfigs::none),
            "Can't APPEND to key cleanup.policy because its type is not LIST.");
}

TEST(TopicRegistryChanges, SetConfigsAndAddPartitionsPersistOrUndo) {
  TopicRegistry r;
  bool fail = false;
  int saves = 0;
  r.set_persistence([&](const std::vector<TopicInfo>&, std::string* error) {
    if (fail) {
      *error = "disk full";
      return false;
    }
    ++saves;
    return true;
  });
  TopicInfo t;
  t.name = "t";
  t.partitions = 1;
  ASSERT_EQ(r.create(t), TopicRegistry::CreateResult::created);
  EXPECT_TRUE(r.set_configs("t", {{"retention.ms", "5"}}));
  EXPECT_EQ(r.find("t")->configs.at("retention.ms"), "5");
  EXPECT_TRUE(r.add_partitions("t", 3));
  EXPECT_EQ(r.find("t")->partitions, 3);
  EXPECT_FALSE(r.add_partitions("t", 3));
  EXPECT_FALSE(r.set_configs("absent", {}));
  EXPECT_EQ(saves, 3);
  fail = true;
  std::string error;
  EXPECT_FALSE(r.set_configs("t", {}, &error));
  EXPECT_EQ(error, "disk full");
  EXPECT_EQ(r.find("t")->configs.size(), 1u);
  EXPECT_FALSE(r.add_partitions("t", 4, &error));
  EXPECT_EQ(r.find("t")->partitions, 3);
}

}  // namespace
}  // namespace kaffa::cluster
