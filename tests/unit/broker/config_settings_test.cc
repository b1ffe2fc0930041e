#include <gtest/gtest.h>

#include "broker/config.h"

namespace kaffa::broker {
namespace {

TEST(ConfigSettings, ExplicitSettingsAreTheGivenOnes) {
  BrokerConfig c;
  ASSERT_FALSE(load_config({{"num.partitions", "3"}}, {"log.segment.bytes=2000000"}, c));
  EXPECT_EQ(c.explicit_settings, (std::set<std::string>{"num.partitions", "log.segment.bytes"}));
  EXPECT_EQ(c.raw.at("message.max.bytes"), "1048588");  // a default, not explicit
}

TEST(ConfigSettings, ListsEverySettingWithDefaultAndDoc) {
  const auto all = list_settings();
  ASSERT_FALSE(all.empty());
  bool found = false;
  for (const auto& s : all) {
    EXPECT_FALSE(s.doc.empty()) << s.name;
    if (s.name == "message.max.bytes") {
      found = true;
      EXPECT_EQ(s.default_value, "1048588");
    }
  }
  EXPECT_TRUE(found);
}

}  // namespace
}  // namespace kaffa::broker
