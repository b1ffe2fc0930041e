#include "cluster/controller_rules.h"

#include <gtest/gtest.h>

namespace kaffa::cluster {
namespace {

using protocol::ErrorCode;

PartitionState partition(std::vector<int32_t> replicas, std::vector<int32_t> isr, int32_t leader,
                         int32_t epoch = 3) {
  PartitionState p;
  p.replicas = std::move(replicas);
  p.isr = std::move(isr);
  p.leader = leader;
  p.leader_epoch = epoch;
  p.partition_epoch = 10;
  p.store_version = 11;
  return p;
}

// An image with live brokers `alive` (those in `shutting` are shutting down) and one topic "t".
MetadataImage image(std::vector<int32_t> alive, std::vector<PartitionState> partitions,
                    std::vector<int32_t> shutting = {}) {
  MetadataImage i;
  for (int32_t b : alive) {
    i.brokers[b].id = b;
    i.brokers[b].shutting_down = std::find(shutting.begin(), shutting.end(), b) != shutting.end();
  }
  TopicImage t;
  t.info.name = "t";
  t.info.partitions = static_cast<int32_t>(partitions.size());
  t.partitions = std::move(partitions);
  i.topics["t"] = t;
  return i;
}

TEST(ControllerRules, DeadLeaderIsReplacedByTheFirstLiveIsrMember) {
  const auto changes = repair_changes(image({2, 3}, {partition({1, 2, 3}, {1, 3, 2}, 1)}), false);
  ASSERT_EQ(changes.size(), 1u);
  const auto& n = changes[0].next;
  EXPECT_EQ(n.leader, 2);  // replica order, not ISR order
  EXPECT_EQ(n.isr, (std::vector<int32_t>{2, 3}));
  EXPECT_EQ(n.leader_epoch, 4);
  EXPECT_EQ(n.partition_epoch, 11);
  EXPECT_EQ(n.store_version, 11) << "the CAS expects the version it saw";
}

TEST(ControllerRules, NoEligibleLeaderLeavesThePartitionOfflineWithItsIsr) {
  const auto p = partition({1, 2}, {1}, 1);
  auto changes = repair_changes(image({2}, {p}), false);
  ASSERT_EQ(changes.size(), 1u);
  EXPECT_EQ(changes[0].next.leader, -1);
  EXPECT_EQ(changes[0].next.isr, (std::vector<int32_t>{1}));
  EXPECT_EQ(changes[0].next.leader_epoch, 4);
  // Nothing more to do while it stays so...
  EXPECT_TRUE(repair_changes(image({2}, {changes[0].next}), false).empty());
  // ...until the last in-sync replica returns.
  auto back = repair_changes(image({1, 2}, {changes[0].next}), false);
  ASSERT_EQ(back.size(), 1u);
  EXPECT_EQ(back[0].next.leader, 1);
  EXPECT_EQ(back[0].next.leader_epoch, 5);
  // Unclean: any live replica, alone in the ISR.
  auto unclean = repair_changes(image({2}, {p}), true);
  ASSERT_EQ(unclean.size(), 1u);
  EXPECT_EQ(unclean[0].next.leader, 2);
  EXPECT_EQ(unclean[0].next.isr, (std::vector<int32_t>{2}));
}

TEST(ControllerRules, ATopicsOwnUncleanElectionSettingWins) {
  const auto p = partition({1, 2}, {1}, 1);
  auto with_config = [&p](const char* value) {
    auto i = image({2}, {p});
    if (value != nullptr) i.topics["t"].info.configs["unclean.leader.election.enable"] = value;
    return i;
  };
  ASSERT_EQ(repair_changes(with_config("true"), false).size(), 1u);
  EXPECT_EQ(repair_changes(with_config("true"), false)[0].next.leader, 2);
  EXPECT_EQ(repair_changes(with_config("false"), true)[0].next.leader, -1);
  EXPECT_EQ(repair_changes(with_config(nullptr), true)[0].next.leader, 2);
}

TEST(ControllerRules, APreferredReadReplicaIsAnInSyncLiveReplicaInTheConsumersRack) {
  auto i = image({1, 2, 3}, {});
  i.brokers[1].rack = "a";
  i.brokers[2].rack = "b";
  i.brokers[3].rack = "b";
  const auto p = partition({1, 2, 3}, {1, 3}, 1);
  EXPECT_EQ(preferred_read_replica(i, p, "b", 1), 3) << "2 is out of sync";
  EXPECT_EQ(preferred_read_replica(i, p, "a", 1), -1) << "the leader is in that rack";
  EXPECT_EQ(preferred_read_replica(i, p, "c", 1), -1);
  EXPECT_EQ(preferred_read_replica(i, p, "", 1), -1);
  i.brokers.erase(3);
  EXPECT_EQ(preferred_read_replica(i, p, "b", 1), -1) << "not live";
}

TEST(ControllerRules, DeadAndShuttingDownFollowersLeaveTheIsr) {
  auto changes = repair_changes(image({1, 3}, {partition({1, 2, 3}, {1, 2, 3}, 1)}, {3}), false);
  ASSERT_EQ(changes.size(), 1u);
  EXPECT_EQ(changes[0].next.isr, (std::vector<int32_t>{1}));
  EXPECT_EQ(changes[0].next.leader_epoch, 3) << "the leader did not change";
  EXPECT_EQ(changes[0].next.partition_epoch, 11);
  EXPECT_TRUE(repair_changes(image({1, 2, 3}, {partition({1, 2, 3}, {1, 2}, 1)}), false).empty());
}

TEST(ControllerRules, AShuttingDownLeaderHandsOverOrKeepsLeadingAlone) {
  auto moved = repair_changes(image({1, 2}, {partition({1, 2}, {1, 2}, 1)}, {1}), false);
  ASSERT_EQ(moved.size(), 1u);
  EXPECT_EQ(moved[0].next.leader, 2);
  EXPECT_EQ(moved[0].next.isr, (std::vector<int32_t>{2}));
  EXPECT_TRUE(repair_changes(image({1, 2}, {partition({1, 2}, {1}, 1)}, {1}), false).empty());
}

TEST(ControllerRules, PreferredAndUncleanElections) {
  ErrorCode e;
  const auto i = image({1, 2, 3}, {partition({1, 2, 3}, {2, 3, 1}, 2)});
  auto next = preferred_election(i, i.topics.at("t").partitions[0], &e);
  ASSERT_TRUE(next.has_value());
  EXPECT_EQ(next->leader, 1);
  EXPECT_EQ(next->leader_epoch, 4);
  EXPECT_EQ(rebalance_changes(i).size(), 1u);
  EXPECT_FALSE(preferred_election(i, partition({1, 2}, {1, 2}, 1), &e));
  EXPECT_EQ(e, ErrorCode::election_not_needed);
  EXPECT_FALSE(preferred_election(i, partition({1, 2}, {2}, 2), &e));
  EXPECT_EQ(e, ErrorCode::preferred_leader_not_available);
  EXPECT_TRUE(rebalance_changes(image({1, 2}, {partition({1, 2}, {2}, 2)})).empty());

  EXPECT_FALSE(unclean_election(i, partition({1, 2}, {1}, 1), &e));
  EXPECT_EQ(e, ErrorCode::election_not_needed);
  EXPECT_FALSE(unclean_election(image({3}, {}), partition({1, 2}, {1}, -1), &e));
  EXPECT_EQ(e, ErrorCode::eligible_leaders_not_available);
  auto u = unclean_election(image({2}, {}), partition({1, 2}, {1}, -1), &e);
  ASSERT_TRUE(u.has_value());
  EXPECT_EQ(u->leader, 2);
  EXPECT_EQ(u->isr, (std::vector<int32_t>{2}));
}

// Broker `b` reports its replica of t-`index` offline (a failed log directory).
void offline(MetadataImage& i, int32_t b, int32_t index) {
  i.brokers[b].offline_replicas.emplace_back(i.topics["t"].info.id, index);
}

TEST(ControllerRules, AnOfflineReplicaIsTreatedAsADeadBrokersForItsPartitionOnly) {
  // t-0 led by 1, whose replica of it is offline; 1's replica of t-1 is fine.
  auto i =
      image({1, 2, 3}, {partition({1, 2, 3}, {1, 2, 3}, 1), partition({1, 2, 3}, {1, 2, 3}, 1)});
  i.topics["t"].info.id = protocol::Uuid::random();
  offline(i, 1, 0);
  auto changes = repair_changes(i, false);
  ASSERT_EQ(changes.size(), 1u);
  EXPECT_EQ(changes[0].index, 0);
  EXPECT_EQ(changes[0].next.leader, 2);
  EXPECT_EQ(changes[0].next.isr, (std::vector<int32_t>{2, 3}));
  EXPECT_EQ(changes[0].next.leader_epoch, 4);
  // An offline follower leaves the ISR; the leader stays.
  auto f = image({1, 2, 3}, {partition({1, 2, 3}, {1, 2, 3}, 1)});
  f.topics["t"].info.id = protocol::Uuid::random();
  offline(f, 3, 0);
  changes = repair_changes(f, false);
  ASSERT_EQ(changes.size(), 1u);
  EXPECT_EQ(changes[0].next.leader, 1);
  EXPECT_EQ(changes[0].next.isr, (std::vector<int32_t>{1, 2}));
  EXPECT_EQ(changes[0].next.leader_epoch, 3);
  // Alone in the ISR, an offline leader does not keep leading (a shutting-down one would).
  auto alone = image({1, 2}, {partition({1, 2}, {1}, 1)}, {1});
  alone.topics["t"].info.id = protocol::Uuid::random();
  EXPECT_TRUE(repair_changes(alone, false).empty());
  offline(alone, 1, 0);
  changes = repair_changes(alone, false);
  ASSERT_EQ(changes.size(), 1u);
  EXPECT_EQ(changes[0].next.leader, -1);
  EXPECT_EQ(changes[0].next.isr, (std::vector<int32_t>{1}));
  // Nor does it get the leadership back; an unclean election picks a replica that serves.
  auto none = image({1, 2}, {changes[0].next});
  none.topics["t"].info.id = alone.topics["t"].info.id;
  offline(none, 1, 0);
  EXPECT_TRUE(repair_changes(none, false).empty());
  changes = repair_changes(none, true);
  ASSERT_EQ(changes.size(), 1u);
  EXPECT_EQ(changes[0].next.leader, 2);
  EXPECT_EQ(changes[0].next.isr, (std::vector<int32_t>{2}));
}

TEST(ControllerRules, AutoRebalanceNeverMovesLeadershipToAnOfflineReplica) {
  auto i = image({1, 2}, {partition({1, 2}, {1, 2}, 2)});
  i.topics["t"].info.id = protocol::Uuid::random();
  ASSERT_EQ(rebalance_changes(i).size(), 1u);
  offline(i, 1, 0);
  EXPECT_TRUE(rebalance_changes(i).empty());
}

}  // namespace
}  // namespace kaffa::cluster
