// Per-group configs (Kafka 4's GroupConfig): the checks against the broker's bounds, the stored
// text, and what a group's coordinator uses.
#include "coordinator/group_configs.h"

#include <gtest/gtest.h>

#include <memory>
#include <string>

#include "coordinator/group_config.h"

namespace kaffa::coordinator {
namespace {

using Configs = std::map<std::string, std::string, std::less<>>;

TEST(GroupConfigs, ValuesAreCheckedAsKafkaDoes) {
  GroupConfig broker;  // Kafka's defaults: session 45-60 s, heartbeat 5-15 s
  EXPECT_FALSE(validate_group_configs({}, broker));
  EXPECT_FALSE(validate_group_configs(
      {{"consumer.session.timeout.ms", "60000"}, {"consumer.heartbeat.interval.ms", "15000"}},
      broker));
  EXPECT_EQ(validate_group_configs({{"consumer.session.timeout.ms", "30000"}}, broker),
            "consumer.session.timeout.ms must be greater than or equal to "
            "group.consumer.min.session.timeout.ms");
  EXPECT_EQ(validate_group_configs({{"consumer.heartbeat.interval.ms", "20000"}}, broker),
            "consumer.heartbeat.interval.ms must be less than or equal to "
            "group.consumer.max.heartbeat.interval.ms");
  EXPECT_EQ(validate_group_configs({{"share.session.timeout.ms", "45000"}}, broker),
            "Unknown group config name: share.session.timeout.ms");
  EXPECT_EQ(validate_group_configs({{"consumer.session.timeout.ms", "soon"}}, broker),
            "Invalid value soon for configuration consumer.session.timeout.ms: Not a number");
  // Bounds that overlap: the heartbeat interval must stay below the session timeout, whichever of
  // the two is the group's own.
  broker.consumer_min_session_timeout_ms = 1000;
  broker.consumer_max_heartbeat_interval_ms = 50000;
  EXPECT_EQ(validate_group_configs({{"consumer.session.timeout.ms", "5000"}}, broker),
            "consumer.heartbeat.interval.ms must be less than consumer.session.timeout.ms");
  EXPECT_FALSE(validate_group_configs({{"consumer.session.timeout.ms", "6000"}}, broker));
}

TEST(GroupConfigs, TheStoredTextRoundTripsAndDamageIsReported) {
  GroupConfigSet set;
  set["g,with\ttabs\nand lines"] = {{"consumer.session.timeout.ms", "50000"}};
  set["plain"] = {{"consumer.heartbeat.interval.ms", "6000"},
                  {"consumer.session.timeout.ms", "46000"}};
  std::string why;
  auto back = decode_group_configs(encode(set), &why);
  ASSERT_TRUE(back) << why;
  EXPECT_EQ(*back, set);
  EXPECT_EQ(decode_group_configs(encode({}), &why), GroupConfigSet{});
  EXPECT_FALSE(decode_group_configs("kaffa-group-configs v1\n1\n", &why));
  EXPECT_FALSE(decode_group_configs("kaffa-group-configs v1\n1\nZw==\tconsumer.x=abc\n", &why));
  EXPECT_EQ(why, "bad config on line 3");
  EXPECT_FALSE(decode_group_configs("other\n0\n", &why));
}

TEST(GroupConfigs, AGroupUsesItsOwnValueElseTheBrokers) {
  GroupConfig broker;
  EXPECT_EQ(broker.session_timeout_ms("g"), 45000);
  auto overrides = std::make_shared<GroupConfigs>();
  broker.group_configs = overrides;
  GroupConfigSet set;
  set["g"] = {{"consumer.heartbeat.interval.ms", "7000"}};
  overrides->replace(set);
  EXPECT_EQ(broker.heartbeat_interval_ms("g"), 7000);
  EXPECT_EQ(broker.session_timeout_ms("g"), 45000);
  EXPECT_EQ(broker.heartbeat_interval_ms("other"), 5000);
  overrides->replace({});
  EXPECT_EQ(broker.heartbeat_interval_ms("g"), 5000);
}

}  // namespace
}  // namespace kaffa::coordinator
