// KIP-73: the replication quota's bound, the throttled-replica lists of the topic configs, and a
// partition's view of whether its replica on this broker is listed.
#include "cluster/replication_quota.h"

#include <gtest/gtest.h>

#include "cluster/partition.h"
#include "cluster/topic_config.h"
#include "partition_testing.h"
#include "storage_dir.h"

namespace kaffa::cluster {
namespace {

TEST(ReplicationQuota, UnboundedIsNeverExceeded) {
  ReplicationQuota q(11, 1000);
  EXPECT_EQ(q.bound(), ReplicationQuota::kUnbounded);
  q.record(int64_t{1} << 40, 0);
  EXPECT_FALSE(q.exceeded(0));
}

TEST(ReplicationQuota, ExceededWhileTheRateIsAboveTheBound) {
  ReplicationQuota q(11, 1000);
  q.set_bound(1000);  // 1000 B/s: 10000 bytes fill the ten windows measured at first
  q.record(10000, 0);
  EXPECT_FALSE(q.exceeded(0));
  q.record(1, 0);
  EXPECT_TRUE(q.exceeded(0));
  EXPECT_TRUE(q.exceeded(5000));
  EXPECT_FALSE(q.exceeded(11000));  // the burst left the measured span
  q.set_bound(-1);                  // a negative bound is none
  EXPECT_EQ(q.bound(), ReplicationQuota::kUnbounded);
  q.count_held_back();
  q.count_held_back(2);
  EXPECT_EQ(q.held_back(), 3);
}

TEST(ThrottledReplicas, KafkasListFormat) {
  auto all = parse_throttled_replicas(" * ");
  ASSERT_TRUE(all);
  EXPECT_TRUE(all->contains(7, 9));
  auto some = parse_throttled_replicas("0:1, 1:2 ,,3:101");
  ASSERT_TRUE(some);
  EXPECT_TRUE(some->contains(0, 1));
  EXPECT_TRUE(some->contains(1, 2));
  EXPECT_TRUE(some->contains(3, 101));
  EXPECT_FALSE(some->contains(1, 1));
  auto none = parse_throttled_replicas("");
  ASSERT_TRUE(none);
  EXPECT_FALSE(none->contains(0, 0));
  for (const char* bad : {"0", "0:", ":1", "a:1", "0:1:2", "-1:2", "*,0:1", "0:1;1:2"}) {
    EXPECT_FALSE(parse_throttled_replicas(bad)) << bad;
  }
  auto why = invalid_topic_config("leader.replication.throttled.replicas", std::string("0-1"));
  ASSERT_TRUE(why);
  EXPECT_EQ(*why,
            "Invalid value 0-1 for configuration leader.replication.throttled.replicas: must be "
            "the literal '*' or a list of replicas in the following format: "
            "[partitionId]:[brokerId],[partitionId]:[brokerId],...");
  EXPECT_FALSE(
      invalid_topic_config("follower.replication.throttled.replicas", std::string("0:1,1:1")));
}

TEST(ThrottledReplicas, APartitionKnowsWhetherItsReplicaHereIsListed) {
  testing::TempDir dir;
  storage::Flusher flusher;
  Loop loop;
  PartitionConfig cfg =
      resolve_partition_config({}, {{"leader.replication.throttled.replicas", "1:2,0:1"},
                                    {"follower.replication.throttled.replicas", "0:3"}});
  std::string error;
  auto log = storage::Log::open(dir.path() / "t-1", cfg.log, 0, &error);
  ASSERT_TRUE(log) << error;
  Partition p("t", 1, 0, std::move(log), cfg, flusher,
              [&loop](size_t, std::function<void()> fn) { loop.post(fn); });
  EXPECT_FALSE(p.leader_throttled());  // this broker's id is not known yet
  p.set_replication({100, {}, nullptr, 2});
  EXPECT_TRUE(p.leader_throttled());  // 1:2 names partition 1 on broker 2
  EXPECT_FALSE(p.follower_throttled());
  p.set_config(resolve_partition_config({}, {{"follower.replication.throttled.replicas", "*"}}));
  EXPECT_FALSE(p.leader_throttled());
  EXPECT_TRUE(p.follower_throttled());
  flusher.stop();
}

}  // namespace
}  // namespace kaffa::cluster
