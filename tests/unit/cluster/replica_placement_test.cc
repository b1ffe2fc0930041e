#include "cluster/replica_placement.h"

#include <gtest/gtest.h>

#include <map>
#include <set>

namespace kaffa::cluster {
namespace {

std::vector<PlacementBroker> brokers(std::vector<std::pair<int32_t, std::string>> list) {
  std::vector<PlacementBroker> out;
  for (auto& [id, rack] : list) out.push_back({id, rack});
  return out;
}

TEST(ReplicaPlacement, LeadersAndReplicasSpreadEvenlyWithoutRacks) {
  const auto a = place(6, 3, brokers({{3, ""}, {1, ""}, {2, ""}}), 0);
  ASSERT_EQ(a.size(), 6u);
  std::map<int32_t, int> leaders, replicas;
  for (const auto& p : a) {
    ASSERT_EQ(p.size(), 3u);
    EXPECT_EQ(std::set<int32_t>(p.begin(), p.end()).size(), 3u) << "distinct brokers";
    ++leaders[p.front()];
    for (int32_t b : p) ++replicas[b];
  }
  EXPECT_EQ(leaders, (std::map<int32_t, int>{{1, 2}, {2, 2}, {3, 2}}));
  EXPECT_EQ(replicas, (std::map<int32_t, int>{{1, 6}, {2, 6}, {3, 6}}));
  // The first leader is the broker at the start index (brokers sorted by id).
  EXPECT_EQ(place(1, 1, brokers({{3, ""}, {1, ""}, {2, ""}}), 1)[0], (std::vector<int32_t>{2}));
}

TEST(ReplicaPlacement, FollowersShiftAfterEachRound) {
  // Kafka's example: with 5 brokers and RF 2, partition 0's follower is the next broker and
  // the follower of partition 5 (same leader) is shifted by one.
  const auto a = place(10, 2, brokers({{0, ""}, {1, ""}, {2, ""}, {3, ""}, {4, ""}}), 0);
  EXPECT_EQ(a[0], (std::vector<int32_t>{0, 1}));
  EXPECT_EQ(a[5], (std::vector<int32_t>{0, 2}));
  EXPECT_NE(a[1][1], a[6][1]);
}

TEST(ReplicaPlacement, RackAwarePutsReplicasOnDifferentRacks) {
  const auto list = brokers({{1, "a"}, {2, "a"}, {3, "b"}, {4, "b"}, {5, "c"}, {6, "c"}});
  const std::map<int32_t, std::string> rack{{1, "a"}, {2, "a"}, {3, "b"},
                                            {4, "b"}, {5, "c"}, {6, "c"}};
  const auto a = place(12, 3, list, 0);
  std::map<int32_t, int> leaders;
  for (const auto& p : a) {
    ASSERT_EQ(p.size(), 3u);
    std::set<std::string> racks;
    for (int32_t b : p) racks.insert(rack.at(b));
    EXPECT_EQ(racks.size(), 3u) << "every replica on its own rack";
    ++leaders[p.front()];
  }
  for (const auto& [b, n] : leaders) EXPECT_EQ(n, 2) << "broker " << b;
  // More replicas than racks: every rack first, then a second broker of a rack.
  const auto b = place(4, 4, brokers({{1, "a"}, {2, "a"}, {3, "b"}, {4, "b"}}), 0);
  for (const auto& p : b) EXPECT_EQ(std::set<int32_t>(p.begin(), p.end()).size(), 4u);
}

TEST(ReplicaPlacement, RefusesImpossibleReplicationFactors) {
  EXPECT_TRUE(place(1, 3, brokers({{1, ""}, {2, ""}}), 0).empty());
  EXPECT_TRUE(place(1, 0, brokers({{1, ""}}), 0).empty());
  EXPECT_EQ(place(3, 1, brokers({{7, ""}}), 5), (std::vector<std::vector<int32_t>>{{7}, {7}, {7}}));
}

}  // namespace
}  // namespace kaffa::cluster
