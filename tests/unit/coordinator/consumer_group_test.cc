// The consumer group protocol's pure parts: the uniform and range assignors and one
// reconciliation step (coordinator/assignor.h, coordinator/consumer_group.h).
#include "coordinator/consumer_group.h"

#include <gtest/gtest.h>

#include "coordinator/assignor.h"

namespace kaffa::coordinator {
namespace {

using protocol::Uuid;

Uuid id(uint8_t n) {
  Uuid u;
  u.bytes[15] = n;
  return u;
}

const std::map<std::string, TopicMeta, std::less<>> kTopics = {{"a", {id(1), "a", 4}},
                                                               {"b", {id(2), "b", 3}}};

size_t count(const TopicAssignment& a) {
  size_t n = 0;
  for (const auto& [_, ps] : a) n += ps.size();
  return n;
}

// Every partition of the subscribed topics assigned exactly once.
void expect_complete(const AssignmentOutput& out, size_t partitions) {
  std::set<std::pair<Uuid, int32_t>> seen;
  for (const auto& [_, a] : out) {
    for (const auto& [t, ps] : a) {
      for (int32_t p : ps) EXPECT_TRUE(seen.insert({t, p}).second);
    }
  }
  EXPECT_EQ(seen.size(), partitions);
}

TEST(Assignor, UniformBalancesAndSticks) {
  AssignmentInput in;
  in.topics = &kTopics;
  in.subscriptions = {{"m1", {"a", "b"}}, {"m2", {"a", "b"}}, {"m3", {"a", "b"}}};
  auto first = *assign("uniform", in);
  expect_complete(first, 7);
  for (const auto& [_, a] : first) EXPECT_GE(count(a), 2u);
  // m3 leaves: m1 and m2 keep what they had and share m3's partitions.
  in.subscriptions.erase("m3");
  in.previous = &first;
  auto second = *assign("uniform", in);
  expect_complete(second, 7);
  for (const char* m : {"m1", "m2"}) {
    for (const auto& [t, ps] : first[m]) {
      for (int32_t p : ps) EXPECT_TRUE(second[m][t].count(p)) << m << " lost " << p;
    }
  }
  EXPECT_LE(std::max(count(second["m1"]), count(second["m2"])) -
                std::min(count(second["m1"]), count(second["m2"])),
            1u);
}

TEST(Assignor, UniformGivesOnlySubscribedTopics) {
  AssignmentInput in;
  in.topics = &kTopics;
  in.subscriptions = {{"m1", {"a"}}, {"m2", {"a", "b"}}, {"m3", {"missing"}}};
  auto out = *assign("uniform", in);
  expect_complete(out, 7);
  EXPECT_FALSE(out["m1"].count(id(2)));
  EXPECT_TRUE(out["m3"].empty());
  // 4 of a and 3 of b over two members: as even as the subscriptions allow.
  EXPECT_EQ(count(out["m1"]) + count(out["m2"]), 7u);
  EXPECT_LE(count(out["m2"]) - count(out["m1"]), 1u);
}

TEST(Assignor, RangeGivesContiguousRangesPerTopic) {
  AssignmentInput in;
  in.topics = &kTopics;
  in.subscriptions = {{"m2", {"a", "b"}}, {"m1", {"a", "b"}}};
  auto out = *assign("range", in);
  EXPECT_EQ(out["m1"][id(1)], (std::set<int32_t>{0, 1}));
  EXPECT_EQ(out["m2"][id(1)], (std::set<int32_t>{2, 3}));
  EXPECT_EQ(out["m1"][id(2)], (std::set<int32_t>{0, 1}));
  EXPECT_EQ(out["m2"][id(2)], (std::set<int32_t>{2}));
  EXPECT_FALSE(assign("sticky", in));
}

OwnedPartitions owns(std::vector<int32_t> ps) {
  return OwnedPartitions{{{id(1), std::move(ps)}}};
}

TEST(Reconcile, RevokesBeforeTakingTheNextEpoch) {
  ConsumerMember m;
  m.member_id = "m";
  m.member_epoch = 1;
  m.assigned = {{id(1), {0, 1, 2, 3}}};
  const TopicAssignment target = {{id(1), {0, 1}}};
  auto nobody = [](const Uuid&, int32_t) { return -1; };
  // Still owning 2 and 3: it stays at epoch 1 and keeps 0 and 1.
  auto r = reconcile(m, 2, target, nobody, owns({0, 1, 2, 3}));
  EXPECT_EQ(r.state, MemberState::unrevoked_partitions);
  EXPECT_EQ(r.member_epoch, 1);
  EXPECT_EQ(r.assigned, target);
  EXPECT_EQ(r.pending_revocation, (TopicAssignment{{id(1), {2, 3}}}));
  // Not saying what it owns counts as owning.
  EXPECT_EQ(reconcile(r, 2, target, nobody, std::nullopt).state, MemberState::unrevoked_partitions);
  // Revoked: epoch 2, stable.
  auto done = reconcile(r, 2, target, nobody, owns({0, 1}));
  EXPECT_EQ(done.state, MemberState::stable);
  EXPECT_EQ(done.member_epoch, 2);
  EXPECT_EQ(done.previous_member_epoch, 1);
  EXPECT_TRUE(done.pending_revocation.empty());
}

TEST(Reconcile, WaitsForPartitionsOthersStillHold) {
  ConsumerMember m;
  m.member_id = "m";
  m.member_epoch = 1;
  const TopicAssignment target = {{id(1), {2, 3}}};
  auto held_2 = [](const Uuid&, int32_t p) { return p == 2 ? 1 : -1; };
  auto r = reconcile(m, 2, target, held_2, owns({}));
  EXPECT_EQ(r.state, MemberState::unreleased_partitions);
  EXPECT_EQ(r.member_epoch, 2);
  EXPECT_EQ(r.assigned, (TopicAssignment{{id(1), {3}}}));
  auto nobody = [](const Uuid&, int32_t) { return -1; };
  auto all = reconcile(r, 2, target, nobody, owns({3}));
  EXPECT_EQ(all.state, MemberState::stable);
  EXPECT_EQ(all.assigned, target);
}

TEST(ConsumerGroup, TracksPartitionOwnersAndState) {
  ConsumerGroup g("g");
  EXPECT_EQ(g.state(), ConsumerGroupState::empty);
  ConsumerMember m;
  m.member_id = "m";
  m.member_epoch = 3;
  m.assigned = {{id(1), {0}}};
  m.pending_revocation = {{id(1), {1}}};
  g.set_group_epoch(3);
  g.set_targets(3, {{"m", {{id(1), {0}}}}});
  g.put_member(m);
  EXPECT_EQ(g.partition_epoch(id(1), 0), 3);
  EXPECT_EQ(g.partition_epoch(id(1), 1), 3);
  EXPECT_EQ(g.state(), ConsumerGroupState::stable);  // stable member at the target epoch
  g.set_group_epoch(4);
  EXPECT_EQ(g.state(), ConsumerGroupState::assigning);
  m.pending_revocation.clear();
  g.put_member(m);
  EXPECT_EQ(g.partition_epoch(id(1), 1), -1);
  g.remove_member("m");
  EXPECT_EQ(g.partition_epoch(id(1), 0), -1);
  EXPECT_TRUE(g.targets().empty());
  EXPECT_EQ(g.state(), ConsumerGroupState::empty);
}

}  // namespace
}  // namespace kaffa::coordinator
