// Dynamic broker configs (KIP-226): which names are dynamic, and the configuration the two layers
// make with the static settings (a broker's own value over the cluster-wide default over the
// properties file).
#include "broker/dynamic_configs.h"

#include <gtest/gtest.h>

namespace kaffa::broker {
namespace {

using dynamic_configs::effective;
using dynamic_configs::Values;

BrokerConfig load(std::vector<std::string> overrides) {
  BrokerConfig c;
  const auto error = load_config({}, overrides, c);
  EXPECT_FALSE(error) << error->message;
  return c;
}

TEST(DynamicConfigs, TheLogDefaultsAndReplicationRatesAreDynamicOthersAreNot) {
  for (const char* name :
       {"log.retention.ms", "log.retention.bytes", "message.max.bytes", "log.segment.bytes",
        "min.insync.replicas", "compression.type", "leader.replication.throttled.rate",
        "log.cleaner.threads", "log.cleaner.backoff.ms", "log.cleaner.dedupe.buffer.size"}) {
    EXPECT_TRUE(dynamic_configs::is_dynamic(name)) << name;
  }
  for (const char* name : {"log.dirs", "num.network.threads", "log.retention.check.interval.ms",
                           "log.cleaner.enable", "listener.name.SSL.ssl.keystore.location"}) {
    EXPECT_FALSE(dynamic_configs::is_dynamic(name)) << name;
  }
}

TEST(DynamicConfigs, CleanerThreadsMayAtMostHalveOrDouble) {
  const auto base = load({"log.cleaner.threads=2", "log.cleaner.backoff.ms=500"});
  BrokerConfig out;
  ASSERT_FALSE(effective(base, {{"log.cleaner.threads", "4"}}, {}, out));
  EXPECT_FALSE(dynamic_configs::check_reconfiguration(base, out));
  const auto cleaner = dynamic_configs::cleaner_config(out);
  EXPECT_EQ(cleaner.threads, 4);
  EXPECT_EQ(cleaner.backoff_ms, 500);
  ASSERT_FALSE(effective(base, {}, {{"log.cleaner.threads", "5"}}, out));
  EXPECT_EQ(dynamic_configs::check_reconfiguration(base, out),
            "Log cleaner threads cannot be increased to more than double the current value 2");
  const auto four = load({"log.cleaner.threads=4"});
  ASSERT_FALSE(effective(four, {}, {{"log.cleaner.threads", "1"}}, out));
  EXPECT_EQ(dynamic_configs::check_reconfiguration(four, out),
            "Log cleaner threads cannot be reduced to less than half the current value 4");
  ASSERT_FALSE(effective(four, {}, {{"log.cleaner.threads", "2"}}, out));
  EXPECT_FALSE(dynamic_configs::check_reconfiguration(four, out));
}

TEST(DynamicConfigs, ReplicaFetchersMayAtMostHalveOrDouble) {
  const auto base = load({"num.replica.fetchers=4"});
  BrokerConfig out;
  ASSERT_FALSE(effective(base, {{"num.replica.fetchers", "8"}}, {}, out));
  EXPECT_FALSE(dynamic_configs::check_reconfiguration(base, out));
  EXPECT_EQ(out.cluster.num_replica_fetchers, 8);
  ASSERT_FALSE(effective(base, {{"num.replica.fetchers", "9"}}, {}, out));
  EXPECT_EQ(dynamic_configs::check_reconfiguration(base, out),
            "Dynamic thread count update validation failed for num.replica.fetchers=9, value "
            "should not be greater than double the current value 4");
  ASSERT_FALSE(effective(base, {}, {{"num.replica.fetchers", "1"}}, out));
  EXPECT_EQ(dynamic_configs::check_reconfiguration(base, out),
            "Dynamic thread count update validation failed for num.replica.fetchers=1, value "
            "should be at least half the current value 4");
}

TEST(DynamicConfigs, RecoveryThreadsMayAtMostHalveOrDouble) {
  const auto base = load({});
  EXPECT_EQ(base.num_recovery_threads_per_data_dir, 2);  // Kafka 4's default
  EXPECT_TRUE(dynamic_configs::is_dynamic("num.recovery.threads.per.data.dir"));
  BrokerConfig out;
  ASSERT_FALSE(effective(base, {}, {{"num.recovery.threads.per.data.dir", "4"}}, out));
  EXPECT_FALSE(dynamic_configs::check_reconfiguration(base, out));
  EXPECT_EQ(out.num_recovery_threads_per_data_dir, 4);
  ASSERT_FALSE(effective(base, {}, {{"num.recovery.threads.per.data.dir", "5"}}, out));
  EXPECT_EQ(dynamic_configs::check_reconfiguration(base, out),
            "Dynamic thread count update validation failed for num.recovery.threads.per.data.dir=5,"
            " value should not be greater than double the current value 2");
  EXPECT_TRUE(effective(base, {}, {{"num.recovery.threads.per.data.dir", "0"}}, out));
}

TEST(DynamicConfigs, OwnValueWinsOverClusterDefaultWhichWinsOverTheFile) {
  const auto base = load({"log.retention.bytes=100", "message.max.bytes=5000"});
  BrokerConfig out;
  ASSERT_FALSE(effective(base, {}, {}, out));
  EXPECT_EQ(out.log_retention_bytes, 100);

  ASSERT_FALSE(effective(base, {{"log.retention.bytes", "200"}}, {}, out));
  EXPECT_EQ(out.log_retention_bytes, 200);
  EXPECT_EQ(out.message_max_bytes, 5000);  // untouched by the layers

  ASSERT_FALSE(
      effective(base, {{"log.retention.bytes", "200"}}, {{"log.retention.bytes", "300"}}, out));
  EXPECT_EQ(out.log_retention_bytes, 300);
  EXPECT_EQ(dynamic_configs::log_defaults(out).retention_bytes, 300);
}

TEST(DynamicConfigs, DynamicRetentionMillisecondsWinOverStaticHours) {
  const auto base = load({"log.retention.hours=2"});
  BrokerConfig out;
  ASSERT_FALSE(effective(base, {{"log.retention.ms", "1000"}}, {}, out));
  EXPECT_EQ(out.log_retention_ms, 1000);
  EXPECT_EQ(dynamic_configs::log_defaults(out).retention_ms, 1000);
  ASSERT_FALSE(effective(base, {{"log.retention.ms", "-5"}}, {}, out));
  EXPECT_EQ(out.log_retention_ms, -1);  // any negative value: no limit
  ASSERT_FALSE(effective(base, {}, {}, out));
  EXPECT_EQ(out.log_retention_ms, 7200000);
}

TEST(DynamicConfigs, TheFinestFormOfATimeWinsWhateverItsLayer) {
  BrokerConfig out;
  const auto hours = load({"log.retention.hours=2", "log.roll.hours=3"});
  ASSERT_FALSE(effective(hours, {{"log.retention.hours", "5"}}, {{"log.roll.hours", "1"}}, out));
  EXPECT_EQ(out.log_retention_ms, 5 * 3600000LL);
  EXPECT_EQ(out.log_roll_ms, 3600000);
  ASSERT_FALSE(effective(hours, {{"log.retention.minutes", "7"}}, {}, out));
  EXPECT_EQ(out.log_retention_ms, 7 * 60000);
  ASSERT_FALSE(effective(hours, {}, {}, out));
  EXPECT_EQ(out.log_roll_ms, 3 * 3600000LL);

  const auto millis = load({"log.retention.ms=1000", "log.roll.ms=2000"});
  ASSERT_FALSE(effective(millis, {{"log.retention.hours", "5"}, {"log.roll.hours", "1"}}, {}, out));
  EXPECT_EQ(out.log_retention_ms, 1000);  // the file's milliseconds win over dynamic hours
  EXPECT_EQ(out.log_roll_ms, 2000);
}

TEST(DynamicConfigs, InvalidValuesAreRefusedInKafkasWords) {
  const auto base = load({});
  BrokerConfig out;
  auto why = effective(base, {}, {{"log.retention.ms", "soon"}}, out);
  ASSERT_TRUE(why);
  EXPECT_EQ(why->rfind("Invalid value soon for configuration log.retention.ms", 0), 0u) << *why;
  EXPECT_TRUE(effective(base, {{"log.retention.ms", "0"}}, {}, out));
  EXPECT_TRUE(effective(base, {}, {{"min.insync.replicas", "0"}}, out));
  EXPECT_TRUE(effective(base, {}, {{"compression.type", "brotli"}}, out));
  EXPECT_TRUE(effective(base, {}, {{"leader.replication.throttled.rate", "-1"}}, out));
}

TEST(DynamicConfigs, TheRatesAndTheTopicDefaultsFollowTheLayers) {
  const auto base = load({"leader.replication.throttled.rate=1000"});
  BrokerConfig out;
  ASSERT_FALSE(effective(base, {{"follower.replication.throttled.rate", "10"}},
                         {{"compression.type", "zstd"}, {"min.insync.replicas", "2"}}, out));
  EXPECT_EQ(out.cluster.leader_replication_throttled_rate, 1000);
  EXPECT_EQ(out.cluster.follower_replication_throttled_rate, 10);
  const auto d = dynamic_configs::log_defaults(out);
  EXPECT_EQ(d.compression, record::Compression::zstd);
  EXPECT_EQ(d.min_insync_replicas, 2);
}

TEST(DynamicConfigs, CleanupPolicyAndTimestampBoundsAreTopicDefaults) {
  const auto base =
      load({"log.cleanup.policy=compact,delete", "log.message.timestamp.after.max.ms=3600000"});
  const auto d = dynamic_configs::log_defaults(base);
  EXPECT_TRUE(d.compact);
  EXPECT_TRUE(d.cleanup_delete);
  EXPECT_EQ(d.timestamp_after_max_ms, 3600000);
  auto c = cluster::resolve_partition_config(d, {});
  EXPECT_TRUE(c.compact);
  EXPECT_EQ(c.timestamp_after_max_ms, 3600000);
  c = cluster::resolve_partition_config(
      d, {{"cleanup.policy", "delete"}, {"message.timestamp.after.max.ms", "5"}});
  EXPECT_FALSE(c.compact);  // the topic's own value wins
  EXPECT_EQ(c.timestamp_after_max_ms, 5);

  BrokerConfig out;
  ASSERT_FALSE(effective(base, {{"log.cleanup.policy", "delete"}}, {}, out));
  EXPECT_FALSE(dynamic_configs::log_defaults(out).compact);
  EXPECT_TRUE(effective(base, {{"log.cleanup.policy", "shred"}}, {}, out));
  EXPECT_TRUE(load_config({}, {"log.cleanup.policy=shred"}, out));
}

}  // namespace
}  // namespace kaffa::broker
