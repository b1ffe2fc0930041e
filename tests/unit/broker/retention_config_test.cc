// log.retention.* settings: Kafka's precedence (ms > minutes > hours) and -1 for no limit.
#include <gtest/gtest.h>

#include "broker/config.h"

namespace kaffa::broker {
namespace {

BrokerConfig load(std::vector<std::string> overrides) {
  BrokerConfig c;
  const auto error = load_config({}, overrides, c);
  EXPECT_FALSE(error) << error->message;
  return c;
}

TEST(RetentionConfig, DefaultsAreSevenDaysUnlimitedSizeFiveMinuteChecks) {
  const auto c = load({});
  EXPECT_EQ(c.log_retention_ms, 168 * 3600000LL);
  EXPECT_EQ(c.log_retention_bytes, -1);
  EXPECT_EQ(c.log_retention_check_interval_ms, 300000);
}

TEST(RetentionConfig, MillisecondsWinOverMinutesWinOverHours) {
  EXPECT_EQ(load({"log.retention.hours=2"}).log_retention_ms, 7200000);
  EXPECT_EQ(load({"log.retention.hours=2", "log.retention.minutes=3"}).log_retention_ms, 180000);
  EXPECT_EQ(load({"log.retention.ms=5", "log.retention.minutes=3", "log.retention.hours=2"})
                .log_retention_ms,
            5);
  // Set in any order.
  EXPECT_EQ(load({"log.retention.ms=5", "log.retention.hours=2"}).log_retention_ms, 5);
}

TEST(RetentionConfig, NegativeMeansUnlimitedAndZeroIsRejected) {
  EXPECT_EQ(load({"log.retention.ms=-1"}).log_retention_ms, -1);
  EXPECT_EQ(load({"log.retention.hours=-1"}).log_retention_ms, -1);
  EXPECT_EQ(load({"log.retention.bytes=1024"}).log_retention_bytes, 1024);
  BrokerConfig c;
  EXPECT_TRUE(load_config({}, {"log.retention.ms=0"}, c));
  EXPECT_TRUE(load_config({}, {"log.retention.check.interval.ms=0"}, c));
  EXPECT_TRUE(load_config({}, {"log.retention.hours=x"}, c));
}

}  // namespace
}  // namespace kaffa::broker
