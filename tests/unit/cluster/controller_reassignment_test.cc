// The reassignment rules of controller_rules.h (start, replace, complete, cancel), on images
// built by hand.
#include <gtest/gtest.h>

#include "cluster/controller_rules.h"

namespace kaffa::cluster {
namespace {

using protocol::ErrorCode;
using Ids = std::vector<int32_t>;

PartitionState partition(Ids replicas, Ids isr, int32_t leader) {
  PartitionState p;
  p.replicas = std::move(replicas);
  p.isr = std::move(isr);
  p.leader = leader;
  p.leader_epoch = 5;
  p.partition_epoch = 10;
  p.store_version = 11;
  return p;
}

MetadataImage brokers(Ids alive) {
  MetadataImage i;
  for (int32_t b : alive) i.brokers[b].id = b;
  return i;
}

PartitionState start(const MetadataImage& image, const PartitionState& p, Ids target) {
  ErrorCode error = ErrorCode::unknown_server_error;
  std::string message;
  auto next = start_reassignment(image, p, target, &error, &message);
  EXPECT_EQ(error, ErrorCode::none) << message;
  EXPECT_TRUE(next.has_value());
  return next.value_or(p);
}

TEST(ReassignmentRules, MovingAReplicaAddsTheNewOneFirstThenDropsTheOldOne) {
  const auto image = brokers({1, 2, 3, 4});
  const auto p = partition({1, 2, 3}, {1, 2, 3}, 1);
  const auto moving = start(image, p, {4, 2, 3});
  EXPECT_EQ(moving.replicas, (Ids{4, 2, 3, 1}));  // the target, then the replicas being removed
  EXPECT_EQ(moving.adding, (Ids{4}));
  EXPECT_EQ(moving.removing, (Ids{1}));
  EXPECT_EQ(moving.isr, p.isr);
  EXPECT_EQ(moving.leader, 1);
  EXPECT_EQ(moving.leader_epoch, 5) << "adding a follower needs no new leader epoch";
  EXPECT_EQ(moving.partition_epoch, 11);
  EXPECT_EQ(moving.store_version, 11) << "the CAS expects the version it read";

  // Not complete while the new replica is out of sync; the controller's pass leaves it alone.
  EXPECT_FALSE(complete_reassignment(image, moving).has_value());
  MetadataImage with_topic = image;
  with_topic.topics["t"].partitions = {moving};
  EXPECT_TRUE(repair_changes(with_topic, false).empty());

  // Once broker 4 joined the ISR: the old leader leaves and the first live target replica in
  // sync leads, in a new leader epoch.
  auto synced = moving;
  synced.isr = {1, 2, 3, 4};
  with_topic.topics["t"].partitions = {synced};
  const auto changes = repair_changes(with_topic, false);
  ASSERT_EQ(changes.size(), 1u);
  const auto& done = changes[0].next;
  EXPECT_EQ(done.replicas, (Ids{4, 2, 3}));
  EXPECT_EQ(done.isr, (Ids{2, 3, 4}));
  EXPECT_TRUE(done.adding.empty());
  EXPECT_TRUE(done.removing.empty());
  EXPECT_EQ(done.leader, 4);
  EXPECT_EQ(done.leader_epoch, 6);
  EXPECT_EQ(done.partition_epoch, 12);
}

TEST(ReassignmentRules, ALeaderThatStaysKeepsLeadingButAReplicaLeavingBumpsTheEpoch) {
  const auto image = brokers({1, 2, 3});
  auto p = start(image, partition({1, 2}, {1, 2}, 1), {1, 3});
  p.isr = {1, 2, 3};
  auto done = complete_reassignment(image, p);
  ASSERT_TRUE(done.has_value());
  EXPECT_EQ(done->leader, 1);
  EXPECT_EQ(done->replicas, (Ids{1, 3}));
  EXPECT_EQ(done->isr, (Ids{1, 3}));
  EXPECT_EQ(done->leader_epoch, 6) << "broker 2's fetches must be fenced";
}

TEST(ReassignmentRules, ReorderingOrShrinkingToInSyncReplicasIsOneStep) {
  const auto image = brokers({1, 2, 3});
  const auto p = partition({1, 2, 3}, {1, 2, 3}, 1);
  const auto reordered = start(image, p, {3, 1, 2});
  EXPECT_EQ(reordered.replicas, (Ids{3, 1, 2}));
  EXPECT_FALSE(reordered.reassigning());
  EXPECT_EQ(reordered.leader, 1) << "no election: the preferred leader moves on a rebalance";
  EXPECT_EQ(reordered.leader_epoch, 5);

  const auto shrunk = start(image, p, {2, 3});
  EXPECT_EQ(shrunk.replicas, (Ids{2, 3}));
  EXPECT_EQ(shrunk.isr, (Ids{2, 3}));
  EXPECT_FALSE(shrunk.reassigning());
  EXPECT_EQ(shrunk.leader, 2);
  EXPECT_EQ(shrunk.leader_epoch, 6);

  // A shrink to a replica out of sync waits for it.
  const auto lagging = start(image, partition({1, 2, 3}, {1, 2}, 1), {2, 3});
  EXPECT_EQ(lagging.removing, (Ids{1}));
  EXPECT_EQ(lagging.leader, 1);

  ErrorCode error = ErrorCode::unknown_server_error;
  std::string message;
  EXPECT_FALSE(start_reassignment(image, p, {1, 2, 3}, &error, &message).has_value());
  EXPECT_EQ(error, ErrorCode::none) << "already so: nothing to write";
}

TEST(ReassignmentRules, ANewTargetReplacesTheOneInProgress) {
  const auto image = brokers({1, 2, 3, 4, 5});
  const auto first = start(image, partition({1, 2, 3}, {1, 2, 3}, 1), {4, 2, 3});
  const auto second = start(image, first, {5, 2, 3});
  // Broker 4, added by the first, is now being removed along with 1.
  EXPECT_EQ(second.replicas, (Ids{5, 2, 3, 1, 4}));
  EXPECT_EQ(second.adding, (Ids{5}));
  EXPECT_EQ(second.removing, (Ids{1, 4}));
  // Going back to the original assignment completes at once (1, 2, 3 are in sync).
  const auto back = start(image, first, {1, 2, 3});
  EXPECT_EQ(back.replicas, (Ids{1, 2, 3}));
  EXPECT_FALSE(back.reassigning());
  EXPECT_EQ(back.leader, 1);
}

TEST(ReassignmentRules, BadTargetsAreInvalidReplicaAssignments) {
  const auto image = brokers({1, 2, 3});
  const auto p = partition({1, 2}, {1, 2}, 1);
  for (const Ids& target : {Ids{}, Ids{1, 1}, Ids{1, 9}, Ids{-1}}) {
    ErrorCode error = ErrorCode::none;
    std::string message;
    EXPECT_FALSE(start_reassignment(image, p, target, &error, &message).has_value());
    EXPECT_EQ(error, ErrorCode::invalid_replica_assignment);
    EXPECT_FALSE(message.empty());
  }
}

TEST(ReassignmentRules, CancelRevertsToTheReplicasBeforeAndDropsTheAddedOnes) {
  const auto image = brokers({1, 2, 3, 4});
  auto moving = start(image, partition({1, 2, 3}, {1, 2, 3}, 1), {4, 2, 3});
  moving.isr = {1, 2, 3, 4};
  moving.leader = 4;  // a preferred election moved leadership to the new replica meanwhile
  ErrorCode error = ErrorCode::unknown_server_error;
  std::string message;
  auto reverted = cancel_reassignment(image, moving, false, &error, &message);
  ASSERT_TRUE(reverted.has_value()) << message;
  EXPECT_EQ(error, ErrorCode::none);
  EXPECT_EQ(reverted->replicas, (Ids{2, 3, 1}));  // Kafka's order: the target's, then removing
  EXPECT_EQ(reverted->isr, (Ids{1, 2, 3}));
  EXPECT_FALSE(reverted->reassigning());
  EXPECT_EQ(reverted->leader, 2);
  EXPECT_EQ(reverted->leader_epoch, moving.leader_epoch + 1);

  EXPECT_FALSE(cancel_reassignment(image, *reverted, false, &error, &message).has_value());
  EXPECT_EQ(error, ErrorCode::no_reassignment_in_progress);
}

TEST(ReassignmentRules, CancelLeavingNoInSyncReplicaNeedsUncleanElection) {
  const auto image = brokers({1, 2});
  auto moving = start(image, partition({1}, {1}, 1), {2});
  moving.isr = {2};  // broker 1 fell out meanwhile
  moving.leader = 2;
  ErrorCode error = ErrorCode::none;
  std::string message;
  EXPECT_FALSE(cancel_reassignment(image, moving, false, &error, &message).has_value());
  EXPECT_EQ(error, ErrorCode::invalid_replica_assignment);
  auto unclean = cancel_reassignment(image, moving, true, &error, &message);
  ASSERT_TRUE(unclean.has_value());
  EXPECT_EQ(unclean->replicas, (Ids{1}));
  EXPECT_EQ(unclean->isr, (Ids{1}));
  EXPECT_EQ(unclean->leader, 1);
}

TEST(ReassignmentRules, ReplacingADeadBrokerCompletesWithoutIt) {
  // Broker 1 is gone for good; its replica moves to broker 3.
  const auto image = brokers({2, 3});
  auto moving = start(image, partition({1, 2}, {2}, 2), {3, 2});
  EXPECT_EQ(moving.adding, (Ids{3}));
  EXPECT_EQ(moving.removing, (Ids{1}));
  moving.isr = {2, 3};
  auto done = complete_reassignment(image, moving);
  ASSERT_TRUE(done.has_value());
  EXPECT_EQ(done->replicas, (Ids{3, 2}));
  EXPECT_EQ(done->isr, (Ids{2, 3}));
  EXPECT_EQ(done->leader, 2);
}

}  // namespace
}  // namespace kaffa::cluster
