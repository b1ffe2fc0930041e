// ReplicaTracker: Kafka's leader-side ISR and high watermark rules.
#include "cluster/replica_tracker.h"

#include <gtest/gtest.h>

namespace kaffa::cluster {
namespace {

using Ids = std::vector<int32_t>;
constexpr int64_t kLag = 30000;  // replica.lag.time.max.ms

TEST(ReplicaTracker, HighWatermarkIsTheSmallestLogEndInTheIsr) {
  ReplicaTracker t(1, {1, 2, 3}, {1, 2, 3}, 10, 0);
  EXPECT_EQ(t.update_high_watermark(20), 10);  // followers have not fetched yet
  ASSERT_TRUE(t.on_fetch(2, 20, 20, 5));
  EXPECT_EQ(t.update_high_watermark(20), 10);  // 3 still unknown
  ASSERT_TRUE(t.on_fetch(3, 15, 20, 6));
  EXPECT_EQ(t.update_high_watermark(20), 15);
  ASSERT_TRUE(t.on_fetch(3, 20, 20, 7));
  EXPECT_EQ(t.update_high_watermark(20), 20);
  // Never back, even if a member reports less (it truncated; the controller will act on it).
  ASSERT_TRUE(t.on_fetch(3, 12, 20, 8));
  EXPECT_EQ(t.update_high_watermark(20), 20);
}

TEST(ReplicaTracker, ShrinkingTheIsrLetsTheWatermarkAdvance) {
  ReplicaTracker t(1, {1, 2, 3}, {1, 2, 3}, 0, 0);
  ASSERT_TRUE(t.on_fetch(2, 50, 50, 10));
  ASSERT_TRUE(t.on_fetch(3, 5, 50, 10));
  EXPECT_EQ(t.update_high_watermark(50), 5);
  t.set_isr({1, 2});
  EXPECT_EQ(t.update_high_watermark(50), 50);
  // The leader alone: its own log end.
  t.set_isr({1});
  EXPECT_EQ(t.update_high_watermark(60), 60);
}

TEST(ReplicaTracker, AFollowerOneFetchBehindASteadyStreamStaysInSync) {
  ReplicaTracker t(1, {1, 2}, {1, 2}, 0, 0);
  // Every fetch returns what the leader had at the previous fetch; appends never stop.
  int64_t leader_end = 100;
  int64_t follower_end = 0;
  for (int64_t now = 1000; now <= 100000; now += 1000) {
    ASSERT_TRUE(t.on_fetch(2, follower_end, leader_end, now));
    follower_end = leader_end;
    leader_end += 100;
    EXPECT_TRUE(t.out_of_sync(leader_end, now, kLag).empty()) << now;
  }
}

TEST(ReplicaTracker, AFrozenFollowerLeavesAfterTheLagTime) {
  ReplicaTracker t(1, {1, 2, 3}, {1, 2, 3}, 0, 0);
  ASSERT_TRUE(t.on_fetch(2, 100, 100, 1000));
  ASSERT_TRUE(t.on_fetch(3, 100, 100, 1000));
  // 3 stops fetching (SIGSTOP); 2 keeps up; the leader appends.
  for (int64_t now = 2000; now <= 40000; now += 1000) {
    ASSERT_TRUE(t.on_fetch(2, 100 + now, 100 + now, now));
  }
  EXPECT_EQ(t.out_of_sync(40100, 30000, kLag), Ids{});   // 29 s since 3 was caught up
  EXPECT_EQ(t.out_of_sync(40100, 31001, kLag), Ids{3});  // beyond the lag
  EXPECT_EQ(t.out_of_sync(100, 31001, kLag), Ids{});     // all at the end: nobody lags
}

TEST(ReplicaTracker, ASlowFollowerThatNeverReachesTheEndLeaves) {
  ReplicaTracker t(1, {1, 2}, {1, 2}, 0, 0);
  int64_t leader_end = 1000;
  for (int64_t now = 1000; now <= 40000; now += 1000) {
    // Fetches often but gains only 10 offsets per fetch while the leader gains 100.
    ASSERT_TRUE(t.on_fetch(2, now / 100, leader_end, now));
    leader_end += 100;
  }
  EXPECT_EQ(t.out_of_sync(leader_end, 40000, kLag), Ids{2});
}

TEST(ReplicaTracker, AnOutOfSyncFollowerRejoinsAtTheWatermarkAndEpochStart) {
  ReplicaTracker t(1, {1, 2, 3}, {1, 2}, 50, 0);
  ASSERT_TRUE(t.on_fetch(2, 80, 80, 10));
  EXPECT_EQ(t.update_high_watermark(80), 80);
  EXPECT_EQ(t.caught_up(60), Ids{});  // 3 has not fetched
  ASSERT_TRUE(t.on_fetch(3, 70, 80, 20));
  EXPECT_EQ(t.caught_up(60), Ids{});  // below the high watermark
  ASSERT_TRUE(t.on_fetch(3, 80, 80, 30));
  EXPECT_EQ(t.caught_up(90), Ids{});  // not yet at the start of the leader's epoch
  EXPECT_EQ(t.caught_up(60), Ids{3});
  t.set_isr({1, 2, 3});
  EXPECT_EQ(t.caught_up(60), Ids{});
}

TEST(ReplicaTracker, FetchesFromNonReplicasAreRefused) {
  ReplicaTracker t(1, {1, 2}, {1, 2}, 0, 0);
  EXPECT_FALSE(t.on_fetch(7, 0, 0, 1));
  EXPECT_FALSE(t.on_fetch(1, 0, 0, 1));  // the leader is not its own follower
  EXPECT_EQ(t.follower(7), nullptr);
  ASSERT_NE(t.follower(2), nullptr);
  EXPECT_EQ(t.follower(2)->log_end_offset, -1);
}

TEST(ReplicaTracker, ReplicasAddedWithinALeadershipAreFollowedAndRemovedOnesForgotten) {
  ReplicaTracker t(1, {1, 2}, {1, 2}, 0, 0);
  ASSERT_TRUE(t.on_fetch(2, 40, 40, 5));
  EXPECT_FALSE(t.on_fetch(3, 0, 40, 6));
  t.set_replicas({3, 1, 2});  // a reassignment adds broker 3
  ASSERT_NE(t.follower(3), nullptr);
  EXPECT_EQ(t.follower(3)->log_end_offset, -1);
  EXPECT_EQ(t.follower(2)->log_end_offset, 40) << "what is known of the others is kept";
  EXPECT_EQ(t.update_high_watermark(40), 40);
  EXPECT_EQ(t.caught_up(0), Ids{});
  ASSERT_TRUE(t.on_fetch(3, 40, 40, 7));
  EXPECT_EQ(t.caught_up(0), Ids{3});
  t.set_replicas({1, 3});
  EXPECT_EQ(t.follower(2), nullptr);
  EXPECT_FALSE(t.on_fetch(2, 40, 40, 8));
}

}  // namespace
}  // namespace kaffa::cluster
