// GroupManager driven through a fake shard environment: a manual clock with timers, and writes
// that complete at once or when the test releases them.
#include <gtest/gtest.h>

#include <algorithm>
#include <memory>

#include "coordinator/fake_group_env.h"
#include "coordinator/group_manager.h"
#include "coordinator/records.h"

namespace kaffa::coordinator {
namespace {

using protocol::ErrorCode;
using protocol::JoinGroupResponse;
using protocol::SyncGroupResponse;

using JoinSlot = std::shared_ptr<std::optional<JoinGroupResponse>>;
using SyncSlot = std::shared_ptr<std::optional<SyncGroupResponse>>;

constexpr int32_t kSession = 10000;
constexpr int32_t kRebalance = 20000;

class GroupTest : public ::testing::Test {
 protected:
  FakeEnv env;
  std::unique_ptr<GroupManager> gm = std::make_unique<GroupManager>(env);

  JoinSlot join(const std::string& member_id, const std::string& client = "client",
                int16_t version = 3, std::optional<std::string> instance = std::nullopt,
                std::vector<MemberProtocol> protocols = {{"range", "m"}},
                const std::string& group = "g", const std::string& type = "consumer") {
    GroupManager::JoinRequest req;
    req.group_id = group;
    req.member_id = member_id;
    req.group_instance_id = std::move(instance);
    req.protocol_type = type;
    req.protocols = std::move(protocols);
    req.session_timeout_ms = kSession;
    req.rebalance_timeout_ms = kRebalance;
    req.client_id = client;
    req.client_host = "/127.0.0.1";
    req.api_version = version;
    auto slot = std::make_shared<std::optional<JoinGroupResponse>>();
    gm->join(std::move(req), [slot](JoinGroupResponse r) {
      ASSERT_FALSE(slot->has_value()) << "answered twice";
      *slot = std::move(r);
    });
    return slot;
  }

  SyncSlot sync(const std::string& member_id, int32_t generation,
                std::vector<std::pair<std::string, std::string>> assignments = {},
                std::optional<std::string> instance = std::nullopt) {
    GroupManager::SyncRequest req;
    req.group_id = "g";
    req.generation_id = generation;
    req.member_id = member_id;
    req.group_instance_id = std::move(instance);
    req.assignments = std::move(assignments);
    auto slot = std::make_shared<std::optional<SyncGroupResponse>>();
    gm->sync(std::move(req), [slot](SyncGroupResponse r) {
      ASSERT_FALSE(slot->has_value()) << "answered twice";
      *slot = std::move(r);
    });
    return slot;
  }

  ErrorCode heartbeat(const std::string& member_id, int32_t generation,
                      std::optional<std::string> instance = std::nullopt) {
    return gm->heartbeat("g", member_id, instance, generation);
  }

  GroupState state() const { return gm->group("g")->state(); }

  // Two dynamic members through join and sync to a Stable generation 1; returns {leader, other}.
  std::pair<std::string, std::string> stable_pair() {
    auto a = join("", "a");
    auto b = join("", "b");
    env.advance(env.cfg.group_initial_rebalance_delay_ms * 2);
    EXPECT_TRUE(a->has_value() && b->has_value());
    const std::string ida = (*a)->member_id;
    const std::string idb = (*b)->member_id;
    const std::string leader = (*a)->leader;
    const std::string other = leader == ida ? idb : ida;
    sync(other, 1);
    auto s = sync(leader, 1, {{leader, "for-leader"}, {other, "for-other"}});
    EXPECT_TRUE(s->has_value());
    EXPECT_EQ(state(), GroupState::stable);
    return {leader, other};
  }
};

int16_t err(ErrorCode e) {
  return protocol::code(e);
}

TEST_F(GroupTest, ThreeMembersJoinWithOneLeaderAndGeneration1AfterTheInitialDelay) {
  auto a = join("", "a");
  auto b = join("", "b");
  auto c = join("", "c");
  EXPECT_EQ(state(), GroupState::preparing_rebalance);
  // Members joined during the delay, so it is extended once (3000 + 3000 ms).
  env.advance(3000);
  EXPECT_FALSE(a->has_value());
  env.advance(3000);
  ASSERT_TRUE(a->has_value() && b->has_value() && c->has_value());
  const std::string leader = (*a)->leader;
  int with_members = 0;
  for (const auto& r : {a, b, c}) {
    EXPECT_EQ((*r)->error_code, 0);
    EXPECT_EQ((*r)->generation_id, 1);
    EXPECT_EQ((*r)->leader, leader);
    EXPECT_EQ((*r)->protocol_name, "range");
    EXPECT_EQ((*r)->protocol_type, "consumer");
    if ((*r)->member_id == leader) {
      EXPECT_EQ((*r)->members.size(), 3u);
      ++with_members;
    } else {
      EXPECT_TRUE((*r)->members.empty());
    }
  }
  EXPECT_EQ(with_members, 1);
  EXPECT_EQ((*a)->member_id.rfind("a-", 0), 0u);  // <client_id>-<uuid>
  EXPECT_EQ((*a)->member_id.size(), 2u + 36u);
  EXPECT_EQ(state(), GroupState::completing_rebalance);
}

TEST_F(GroupTest, InitialDelayWithoutNewMembersCompletesAfterOneDelay) {
  env.cfg.group_initial_rebalance_delay_ms = 500;
  auto a = join("", "a");
  env.advance(499);
  EXPECT_FALSE(a->has_value());
  env.advance(1);
  ASSERT_TRUE(a->has_value());
  EXPECT_EQ((*a)->generation_id, 1);
}

TEST_F(GroupTest, MemberIdRequiredRoundTripFromV4) {
  auto first = join("", "cli", 4);
  ASSERT_TRUE(first->has_value());
  EXPECT_EQ((*first)->error_code, err(ErrorCode::member_id_required));
  const std::string id = (*first)->member_id;
  EXPECT_EQ(id.rfind("cli-", 0), 0u);
  EXPECT_FALSE(gm->group("g")->has_member(id));  // pending only
  auto again = join(id, "cli", 4);
  EXPECT_FALSE(again->has_value());
  env.advance(6000);
  ASSERT_TRUE(again->has_value());
  EXPECT_EQ((*again)->error_code, 0);
  EXPECT_EQ((*again)->member_id, id);
  EXPECT_EQ((*again)->leader, id);
  EXPECT_EQ((*again)->generation_id, 1);
}

TEST_F(GroupTest, PendingMemberThatNeverRejoinsExpires) {
  auto first = join("", "cli", 4);
  const std::string id = (*first)->member_id;
  EXPECT_TRUE(gm->group("g")->is_pending_member(id));
  env.advance(kSession);
  EXPECT_FALSE(gm->group("g")->is_pending_member(id));
  auto late = join(id, "cli", 4);
  EXPECT_EQ((*late)->error_code, err(ErrorCode::unknown_member_id));
}

TEST_F(GroupTest, SyncDistributesTheLeadersAssignmentOnceWritten) {
  auto a = join("", "a");
  auto b = join("", "b");
  env.advance(6000);
  const std::string leader = (*a)->leader;
  const std::string other = leader == (*a)->member_id ? (*b)->member_id : (*a)->member_id;
  auto follower = sync(other, 1);
  EXPECT_FALSE(follower->has_value());  // waits for the leader
  env.hold_writes = true;
  auto lead = sync(leader, 1, {{leader, "L"}, {other, "O"}});
  EXPECT_FALSE(lead->has_value());  // waits for the write
  EXPECT_EQ(state(), GroupState::completing_rebalance);
  env.release_writes();
  ASSERT_TRUE(lead->has_value() && follower->has_value());
  EXPECT_EQ((*lead)->error_code, 0);
  EXPECT_EQ((*lead)->assignment, "L");
  EXPECT_EQ((*follower)->assignment, "O");
  EXPECT_EQ((*follower)->protocol_name, "range");
  EXPECT_EQ(state(), GroupState::stable);
  // A later sync in Stable returns the stored assignment.
  auto again = sync(other, 1);
  EXPECT_EQ((*again)->assignment, "O");
  // The record holds generation 1 with both members and their assignments.
  auto v = env.last_group_value("g");
  ASSERT_TRUE(v.has_value());
  EXPECT_EQ(v->generation, 1);
  EXPECT_EQ(v->protocol, "range");
  EXPECT_EQ(v->leader, leader);
  ASSERT_EQ(v->members.size(), 2u);
  for (const auto& m : v->members) EXPECT_EQ(m.assignment, m.member_id == leader ? "L" : "O");
}

TEST_F(GroupTest, FailedWriteAnswersSyncWithAnErrorAndRebalances) {
  auto a = join("", "a");
  env.advance(6000);
  env.write_result = ErrorCode::kafka_storage_error;
  auto s = sync((*a)->member_id, 1, {{(*a)->member_id, "x"}});
  ASSERT_TRUE(s->has_value());
  EXPECT_EQ((*s)->error_code, err(ErrorCode::not_coordinator));
  EXPECT_EQ(state(), GroupState::preparing_rebalance);
}

TEST_F(GroupTest, HeartbeatDuringRebalanceAnswersRebalanceInProgress) {
  auto [leader, other] = stable_pair();
  EXPECT_EQ(heartbeat(other, 1), ErrorCode::none);
  auto c = join("", "c");
  EXPECT_EQ(state(), GroupState::preparing_rebalance);
  EXPECT_EQ(heartbeat(other, 1), ErrorCode::rebalance_in_progress);
  EXPECT_EQ(heartbeat(leader, 1), ErrorCode::rebalance_in_progress);
  // The old members rejoin; the join phase completes without waiting for the timeout.
  auto l = join(leader, "a");
  auto o = join(other, "b");
  ASSERT_TRUE(c->has_value() && l->has_value() && o->has_value());
  EXPECT_EQ((*c)->generation_id, 2);
  EXPECT_EQ(state(), GroupState::completing_rebalance);
  EXPECT_EQ(heartbeat(other, 2), ErrorCode::none);
}

TEST_F(GroupTest, SessionExpiryRemovesTheMemberAndRebalances) {
  auto [leader, other] = stable_pair();
  // The leader heartbeats, the other member goes silent.
  for (int i = 0; i < 3; ++i) {
    env.advance(3000);
    ASSERT_EQ(heartbeat(leader, 1), ErrorCode::none);
  }
  EXPECT_TRUE(gm->group("g")->has_member(other));
  env.advance(1500);
  EXPECT_FALSE(gm->group("g")->has_member(other));
  EXPECT_EQ(state(), GroupState::preparing_rebalance);
  EXPECT_EQ(heartbeat(leader, 1), ErrorCode::rebalance_in_progress);
  EXPECT_EQ(heartbeat(other, 1), ErrorCode::unknown_member_id);
  auto l = join(leader, "a");
  ASSERT_TRUE(l->has_value());
  EXPECT_EQ((*l)->generation_id, 2);
  EXPECT_EQ((*l)->members.size(), 1u);
}

TEST_F(GroupTest, OffsetCommitsRenewTheSessionLikeHeartbeats) {
  auto [leader, other] = stable_pair();
  // The leader heartbeats; the other member only commits offsets (Kafka counts a member's valid
  // commit as a heartbeat).
  for (int i = 0; i < 4; ++i) {
    env.advance(3000);
    ASSERT_EQ(heartbeat(leader, 1), ErrorCode::none);
    ASSERT_EQ(gm->validate_offset_commit("g", other, std::nullopt, 1), ErrorCode::none);
    gm->on_member_commit("g", other, 1);
  }
  EXPECT_TRUE(gm->group("g")->has_member(other));
  EXPECT_EQ(state(), GroupState::stable);
  // A commit with a stale generation renews nothing.
  for (int i = 0; i < 4; ++i) {
    env.advance(3000);
    heartbeat(leader, 1);  // REBALANCE_IN_PROGRESS once the other member has expired
    gm->on_member_commit("g", other, 0);
  }
  EXPECT_FALSE(gm->group("g")->has_member(other));
}

TEST_F(GroupTest, MemberThatDoesNotRejoinIsDroppedAtTheRebalanceTimeout) {
  auto [leader, other] = stable_pair();
  auto l = join(leader, "a");  // the leader's rejoin forces a rebalance
  EXPECT_EQ(state(), GroupState::preparing_rebalance);
  for (int i = 0; i < 3 && !l->has_value(); ++i) {
    env.advance(kSession / 2);
    EXPECT_EQ(heartbeat(other, 1), ErrorCode::rebalance_in_progress);  // alive but not joining
  }
  env.advance(kRebalance);
  ASSERT_TRUE(l->has_value());
  EXPECT_EQ((*l)->generation_id, 2);
  EXPECT_EQ((*l)->members.size(), 1u);
  EXPECT_FALSE(gm->group("g")->has_member(other));
}

TEST_F(GroupTest, LeaveRebalancesAndTheLastLeaveEmptiesAndPersistsTheGroup) {
  auto [leader, other] = stable_pair();
  auto left = gm->leave("g", {{other, std::nullopt}});
  ASSERT_EQ(left.members.size(), 1u);
  EXPECT_EQ(left.members[0], ErrorCode::none);
  EXPECT_EQ(state(), GroupState::preparing_rebalance);
  auto l = join(leader, "a");
  ASSERT_TRUE(l->has_value());
  EXPECT_EQ((*l)->generation_id, 2);
  auto last = gm->leave("g", {{leader, std::nullopt}});
  EXPECT_EQ(last.members[0], ErrorCode::none);
  EXPECT_EQ(state(), GroupState::empty);
  EXPECT_EQ(gm->group("g")->generation(), 3);
  // Its offsets now expire counting from this moment (Kafka's currentStateTimestamp).
  const auto expiry = gm->offset_expiry("g");
  EXPECT_TRUE(expiry.allowed);
  EXPECT_EQ(expiry.since, env.clock);
  auto v = env.last_group_value("g");
  ASSERT_TRUE(v.has_value());
  EXPECT_EQ(v->generation, 3);
  EXPECT_TRUE(v->members.empty());
  EXPECT_FALSE(v->protocol.has_value());
  // Unknown members and groups.
  EXPECT_EQ(gm->leave("g", {{"nobody", std::nullopt}}).members[0], ErrorCode::unknown_member_id);
  EXPECT_EQ(gm->leave("nope", {{"x", std::nullopt}}).members[0], ErrorCode::unknown_member_id);
}

TEST_F(GroupTest, LeaveWhileParkedAnswersTheParkedJoin) {
  auto [leader, other] = stable_pair();
  auto l = join(leader, "a");
  EXPECT_FALSE(l->has_value());
  gm->leave("g", {{leader, std::nullopt}});
  ASSERT_TRUE(l->has_value());
  EXPECT_EQ((*l)->error_code, err(ErrorCode::unknown_member_id));
}

TEST_F(GroupTest, StaticMemberRejoinReplacesTheIdWithoutRebalance) {
  auto a = join("", "a", 5, "i1");
  auto b = join("", "b", 5, "i2");
  env.advance(6000);
  const std::string ida = (*a)->member_id;
  const std::string idb = (*b)->member_id;
  EXPECT_EQ(ida.rfind("i1-", 0), 0u);  // static ids start with the instance id
  const std::string leader = (*a)->leader;
  const std::string other = leader == ida ? idb : ida;
  sync(other, 1, {}, leader == ida ? "i2" : "i1");
  sync(leader, 1, {{ida, "A"}, {idb, "B"}}, leader == ida ? "i1" : "i2");
  ASSERT_EQ(state(), GroupState::stable);

  const size_t writes = env.writes.size();
  auto again = join("", "a", 5, "i1");  // restarted with the same instance id
  ASSERT_TRUE(again->has_value());
  EXPECT_EQ((*again)->error_code, 0);
  const std::string fresh = (*again)->member_id;
  EXPECT_NE(fresh, ida);
  EXPECT_EQ((*again)->generation_id, 1);
  EXPECT_EQ(state(), GroupState::stable);  // no rebalance
  EXPECT_EQ(env.writes.size(), writes + 1);
  EXPECT_EQ(heartbeat(ida, 1, "i1"), ErrorCode::fenced_instance_id);
  EXPECT_EQ(heartbeat(fresh, 1, "i1"), ErrorCode::none);
  auto s = sync(fresh, 1, {}, "i1");
  EXPECT_EQ((*s)->assignment, "A");  // keeps its assignment
  // A static member that leaves by instance id alone.
  auto left = gm->leave("g", {{"", std::string("i2")}});
  EXPECT_EQ(left.members[0], ErrorCode::none);
  EXPECT_EQ(state(), GroupState::preparing_rebalance);
}

TEST_F(GroupTest, StaticLeaderRejoinBeforeV9NamesTheOldLeader) {
  auto a = join("", "a", 5, "i1");
  env.advance(6000);
  const std::string ida = (*a)->member_id;
  sync(ida, 1, {{ida, "A"}}, "i1");
  auto again = join("", "a", 5, "i1");
  ASSERT_TRUE(again->has_value());
  EXPECT_EQ((*again)->leader, ida);  // so the client does not reassign
  auto v9 = join("", "a", 9, "i1");
  ASSERT_TRUE(v9->has_value());
  EXPECT_EQ((*v9)->leader, (*v9)->member_id);
  EXPECT_TRUE((*v9)->skip_assignment);
  EXPECT_EQ((*v9)->members.size(), 1u);
}

TEST_F(GroupTest, WrongGenerationAndUnknownMemberErrors) {
  auto [leader, other] = stable_pair();
  EXPECT_EQ(heartbeat(other, 7), ErrorCode::illegal_generation);
  EXPECT_EQ(heartbeat("stranger", 1), ErrorCode::unknown_member_id);
  EXPECT_EQ(gm->heartbeat("nope", other, std::nullopt, 1), ErrorCode::unknown_member_id);
  EXPECT_EQ((*sync(other, 7))->error_code, err(ErrorCode::illegal_generation));
  EXPECT_EQ((*sync("stranger", 1))->error_code, err(ErrorCode::unknown_member_id));
  EXPECT_EQ((*join("stranger", "x"))->error_code, err(ErrorCode::unknown_member_id));
  auto wrong_type = join("", "x", 3, std::nullopt, {{"range", "m"}}, "g", "connect");
  EXPECT_EQ((*wrong_type)->error_code, protocol::code(ErrorCode::inconsistent_group_protocol));
  auto no_common = join("", "x", 3, std::nullopt, {{"roundrobin", "m"}});
  EXPECT_EQ((*no_common)->error_code, protocol::code(ErrorCode::inconsistent_group_protocol));
  EXPECT_EQ(GroupManager::check_join(env.cfg, "", kSession), ErrorCode::invalid_group_id);
  EXPECT_EQ(GroupManager::check_join(env.cfg, "g", 10), ErrorCode::invalid_session_timeout);
  EXPECT_EQ(GroupManager::check_join(env.cfg, "g", 1800001), ErrorCode::invalid_session_timeout);
  EXPECT_EQ(GroupManager::check_join(env.cfg, "g", kSession), ErrorCode::none);
}

TEST_F(GroupTest, GroupMaxSizeRejectsExtraMembers) {
  env.cfg.group_max_size = 2;
  auto [leader, other] = stable_pair();
  auto third = join("", "c");
  ASSERT_TRUE(third->has_value());
  EXPECT_EQ((*third)->error_code, protocol::code(ErrorCode::group_max_size_reached));
  EXPECT_EQ(state(), GroupState::stable);
}

TEST_F(GroupTest, ProtocolChoiceIsSupportedByAllWithTheMostVotes) {
  auto a = join("", "a", 3, std::nullopt, {{"range", "1"}, {"roundrobin", "2"}});
  auto b = join("", "b", 3, std::nullopt, {{"roundrobin", "3"}, {"range", "4"}});
  auto c = join("", "c", 3, std::nullopt, {{"roundrobin", "5"}, {"range", "6"}});
  env.advance(6000);
  ASSERT_TRUE(a->has_value());
  EXPECT_EQ((*a)->protocol_name, "roundrobin");
}

TEST_F(GroupTest, GroupIsPersistedOnCompletionAndReplayRestoresIt) {
  auto [leader, other] = stable_pair();
  auto v = env.last_group_value("g");
  ASSERT_TRUE(v.has_value());

  FakeEnv env2;
  GroupManager restored(env2);
  restored.replay("g", v);
  restored.replay("gone", v);
  restored.replay("gone", std::nullopt);  // a tombstone removes it
  restored.on_loaded();
  EXPECT_FALSE(restored.has_group("gone"));
  const Group* g = restored.group("g");
  ASSERT_NE(g, nullptr);
  EXPECT_EQ(g->state(), GroupState::stable);
  EXPECT_EQ(g->generation(), 1);
  EXPECT_EQ(g->leader(), leader);
  auto d = restored.describe("g");
  EXPECT_EQ(d.group_state, "Stable");
  EXPECT_EQ(d.protocol_type, "consumer");
  EXPECT_EQ(d.protocol_data, "range");
  ASSERT_EQ(d.members.size(), 2u);
  env2.advance(kSession / 2);
  EXPECT_EQ(restored.heartbeat("g", other, std::nullopt, 1), ErrorCode::none);
  // Members that never come back expire after their session timeout (armed by on_loaded).
  env2.advance(kSession / 2);
  EXPECT_EQ(restored.group("g")->state(), GroupState::preparing_rebalance);
  EXPECT_FALSE(restored.group("g")->has_member(leader));
  EXPECT_TRUE(restored.group("g")->has_member(other));
}

TEST_F(GroupTest, DescribeListAndDelete) {
  auto d = gm->describe("unknown");
  EXPECT_EQ(d.group_state, "Dead");
  EXPECT_EQ(d.error_code, 0);
  EXPECT_EQ(gm->validate_delete("unknown"), ErrorCode::group_id_not_found);
  auto [leader, other] = stable_pair();
  EXPECT_EQ(gm->validate_delete("g"), ErrorCode::non_empty_group);
  auto listed = gm->list();
  ASSERT_EQ(listed.size(), 1u);
  EXPECT_EQ(listed[0].state, "Stable");
  EXPECT_EQ(listed[0].type, "classic");
  gm->leave("g", {{leader, std::nullopt}, {other, std::nullopt}});
  EXPECT_EQ(state(), GroupState::empty);
  EXPECT_EQ(gm->describe("g").group_state, "Empty");
  EXPECT_EQ(gm->validate_delete("g"), ErrorCode::none);
  gm->remove_group("g");
  EXPECT_FALSE(gm->has_group("g"));
  EXPECT_EQ(GroupManager::tombstone("g").value, std::nullopt);
}

TEST_F(GroupTest, OffsetCommitValidation) {
  EXPECT_EQ(gm->validate_offset_commit("g", "", std::nullopt, -1), ErrorCode::none);
  EXPECT_EQ(gm->validate_offset_commit("g", "m", std::nullopt, 3), ErrorCode::illegal_generation);
  EXPECT_EQ(gm->validate_offset_commit("g", "m", std::nullopt, 3, 9),
            ErrorCode::group_id_not_found);
  auto a = join("", "a");
  env.advance(6000);
  const std::string id = (*a)->member_id;
  EXPECT_EQ(gm->validate_offset_commit("g", id, std::nullopt, 1),
            ErrorCode::rebalance_in_progress);  // CompletingRebalance
  sync(id, 1, {{id, "x"}});
  EXPECT_EQ(gm->validate_offset_commit("g", id, std::nullopt, 1), ErrorCode::none);
  EXPECT_EQ(gm->validate_offset_commit("g", id, std::nullopt, 0), ErrorCode::illegal_generation);
  EXPECT_EQ(gm->validate_offset_commit("g", "x", std::nullopt, 1), ErrorCode::unknown_member_id);
  EXPECT_EQ(gm->validate_offset_commit("g", "", std::nullopt, -1), ErrorCode::unknown_member_id);
  EXPECT_FALSE(gm->offset_expiry("g").allowed);
  EXPECT_TRUE(gm->offset_expiry("other").allowed);
  EXPECT_FALSE(gm->offset_expiry("other").since);
  EXPECT_TRUE(gm->has_members("g"));
}

std::string subscription(const std::vector<std::string>& topics) {
  std::string b;
  auto be16 = [&](int v) {
    b.push_back(static_cast<char>((v >> 8) & 0xFF));
    b.push_back(static_cast<char>(v & 0xFF));
  };
  be16(1);  // version
  const auto n = static_cast<uint32_t>(topics.size());
  for (int s = 24; s >= 0; s -= 8) b.push_back(static_cast<char>((n >> s) & 0xFF));
  for (const auto& t : topics) {
    be16(static_cast<int>(t.size()));
    b += t;
  }
  b += std::string("\xff\xff\xff\xff", 4);  // null user data
  return b;
}

TEST_F(GroupTest, SubscriptionsOfTheConsumerProtocol) {
  join("", "a", 3, std::nullopt, {{"range", subscription({"t1", "t2"})}});
  join("", "b", 3, std::nullopt, {{"range", subscription({"t3"})}});
  // Before a generation picks the protocol the subscriptions are unknown: assume subscribed.
  EXPECT_TRUE(gm->is_subscribed("g", "t9"));
  env.advance(6000);
  EXPECT_TRUE(gm->is_subscribed("g", "t1"));
  EXPECT_TRUE(gm->is_subscribed("g", "t3"));
  EXPECT_FALSE(gm->is_subscribed("g", "t4"));
  EXPECT_FALSE(gm->is_subscribed("absent", "t1"));
  EXPECT_FALSE(parse_consumer_subscription("\x00").has_value());
  EXPECT_FALSE(parse_consumer_subscription(std::string("\x00\x00\x00\x00\x00\x09", 6)));
}

TEST_F(GroupTest, AnEmptyGroupMakesWayOnlyWhenItsTombstonesCanBeWritten) {
  auto [leader, other] = stable_pair();
  gm->leave("g", {{other, std::nullopt}, {leader, std::nullopt}});
  ASSERT_EQ(state(), GroupState::empty);
  const size_t writes = env.writes.size();
  env.refusal = ErrorCode::coordinator_not_available;
  ConsumerGroupManager::HeartbeatRequest req;
  req.group_id = "g";
  req.member_id = "m";
  req.rebalance_timeout_ms = 30000;
  req.subscribed_topic_names = std::vector<std::string>{"t"};
  req.owned.emplace();
  const ConsumerGroupManager::TopicLookup lookup{
      [](const std::string&) -> std::optional<TopicMeta> { return std::nullopt; },
      [] { return std::vector<std::string>{}; }, [] { return uint64_t{1}; }};
  std::optional<protocol::ConsumerGroupHeartbeatResponse> answer;
  gm->consumer_heartbeat(req, lookup,
                         [&answer](protocol::ConsumerGroupHeartbeatResponse r) { answer = r; });
  ASSERT_TRUE(answer);
  EXPECT_EQ(answer->error_code, err(ErrorCode::coordinator_not_available));
  ASSERT_NE(gm->group("g"), nullptr);  // the classic group stays, nothing was written
  EXPECT_EQ(gm->consumer().group("g"), nullptr);
  EXPECT_EQ(env.writes.size(), writes);
  env.refusal = ErrorCode::none;
  answer.reset();
  gm->consumer_heartbeat(req, lookup,
                         [&answer](protocol::ConsumerGroupHeartbeatResponse r) { answer = r; });
  ASSERT_TRUE(answer);
  EXPECT_EQ(answer->error_code, 0);
  EXPECT_EQ(gm->group("g"), nullptr);  // gave way
  ASSERT_NE(gm->consumer().group("g"), nullptr);
  // Back the other way: a classic join to the consumer group once it is empty.
  req.member_id = answer->member_id.value_or("m");
  req.member_epoch = ConsumerGroupManager::kLeaveEpoch;
  gm->consumer_heartbeat(req, lookup, [](protocol::ConsumerGroupHeartbeatResponse) {});
  ASSERT_TRUE(gm->consumer().group("g")->empty());
  env.refusal = ErrorCode::coordinator_not_available;
  auto refused = join("", "c");
  ASSERT_TRUE(refused->has_value());
  EXPECT_EQ((*refused)->error_code, err(ErrorCode::coordinator_not_available));
  EXPECT_NE(gm->consumer().group("g"), nullptr);
  EXPECT_EQ(gm->group("g"), nullptr);
}

}  // namespace
}  // namespace kaffa::coordinator
