// The consumer group protocol: the uniform and range assignors, one reconciliation step, the
// records of consumer groups, and ConsumerGroupManager's writes and replay (a fake shard).
#include "coordinator/consumer_group.h"

#include <gtest/gtest.h>

#include <memory>
#include <set>
#include <string>
#include <tuple>
#include <vector>

#include "coordinator/assignor.h"
#include "coordinator/consumer_group_manager.h"
#include "coordinator/consumer_group_records.h"
#include "coordinator/fake_group_env.h"

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

namespace kaffa::coordinator {
namespace {

using protocol::ConsumerGroupHeartbeatResponse;

struct Harness {
  FakeEnv env;
  ConsumerGroupManager mgr{env};
  std::map<std::string, TopicMeta, std::less<>> topics = {{"a", {id(1), "a", 4}}};
  std::set<std::string> hidden;  // topics the principal may not DESCRIBE
  uint64_t names_version = 1;    // to be moved on by a test that changes topics or hidden
  int names_read = 0;

  // Sends a heartbeat; the answer, once given.
  std::shared_ptr<std::optional<ConsumerGroupHeartbeatResponse>> beat(
      std::string member, int32_t epoch, OwnedPartitions owned,
      std::optional<std::string> instance = std::nullopt,
      std::optional<std::string> regex = std::nullopt, std::string group = "g") {
    ConsumerGroupManager::HeartbeatRequest req;
    req.subscribed_topic_regex = std::move(regex);
    req.group_id = std::move(group);
    req.member_id = std::move(member);
    req.member_epoch = epoch;
    req.instance_id = std::move(instance);
    if (epoch == 0) {
      req.rebalance_timeout_ms = 30000;
      req.subscribed_topic_names = std::vector<std::string>{"a"};
    }
    req.owned = std::move(owned);
    auto out = std::make_shared<std::optional<ConsumerGroupHeartbeatResponse>>();
    ConsumerGroupManager::TopicLookup lookup{
        [this](const std::string& n) -> std::optional<TopicMeta> {
          auto it = topics.find(n);
          if (it == topics.end()) return std::nullopt;
          return it->second;
        },
        [this] {
          ++names_read;
          std::vector<std::string> names;
          for (const auto& [n, _] : topics) {
            if (!hidden.contains(n)) names.push_back(n);
          }
          return names;
        },
        [this] { return names_version; }};
    mgr.heartbeat(std::move(req), lookup,
                  [out](ConsumerGroupHeartbeatResponse r) { *out = std::move(r); });
    return out;
  }
};

// A member that says it owns nothing.
const OwnedPartitions kNothing = OwnedPartitions(std::in_place);

OwnedPartitions owned(const std::optional<ConsumerGroupHeartbeatResponse>& r) {
  OwnedPartitions o;
  o.emplace();
  for (const auto& t : r->assignment->topic_partitions) o->emplace_back(t.topic_id, t.partitions);
  return o;
}

TEST(ConsumerGroupRecords, EveryRecordRoundTrips) {
  ConsumerMember m;
  m.member_id = "m";
  m.instance_id = "i";
  m.client_id = "c";
  m.client_host = "/h";
  m.subscribed_topic_names = {"a", "b"};
  m.subscribed_topic_regex = "t-.*";
  m.rebalance_timeout_ms = 123;
  m.server_assignor = "range";
  m.member_epoch = 7;
  m.previous_member_epoch = 6;
  m.state = MemberState::unrevoked_partitions;
  m.assigned = {{id(1), {0, 2}}};
  m.pending_revocation = {{id(2), {1}}};
  auto roundtrip = [](const consumer_records::Record& r) {
    consumer_records::Decoded d;
    std::string error;
    EXPECT_TRUE(consumer_records::is_consumer_group_key(r.key));
    EXPECT_TRUE(consumer_records::decode(
        r.key, r.value ? std::optional<std::string_view>(*r.value) : std::nullopt, d, &error))
        << error;
    return d;
  };
  auto meta = roundtrip(consumer_records::member_metadata("g", m));
  EXPECT_EQ(meta.kind, consumer_records::Decoded::Kind::member_metadata);
  EXPECT_EQ((std::tuple(meta.group_id, meta.member_id, meta.member.instance_id,
                        meta.member.subscribed_topic_names, meta.member.rebalance_timeout_ms,
                        meta.member.server_assignor, meta.member.client_host,
                        meta.member.subscribed_topic_regex)),
            (std::tuple(std::string("g"), std::string("m"), m.instance_id, m.subscribed_topic_names,
                        123, m.server_assignor, m.client_host, m.subscribed_topic_regex)));
  auto cur = roundtrip(consumer_records::current_assignment("g", m));
  EXPECT_EQ(
      (std::tuple(cur.member.member_epoch, cur.member.previous_member_epoch, cur.member.state,
                  cur.member.assigned, cur.member.pending_revocation)),
      (std::tuple(7, 6, MemberState::unrevoked_partitions, m.assigned, m.pending_revocation)));
  EXPECT_EQ(roundtrip(consumer_records::group_epoch("g", 9)).epoch, 9);
  EXPECT_EQ(roundtrip(consumer_records::target_epoch("g", 8)).epoch, 8);
  EXPECT_EQ(roundtrip(consumer_records::target_member("g", "m", m.assigned)).target, m.assigned);
  const ConsumerGroup::Metadata topics = {{"a", {id(1), "a", 4}}, {"b", {id(2), "b", 1}}};
  auto sub = roundtrip(consumer_records::subscription_metadata("g", topics));
  EXPECT_EQ(sub.kind, consumer_records::Decoded::Kind::subscription_metadata);
  EXPECT_EQ(sub.topics, topics);
  EXPECT_TRUE(roundtrip(consumer_records::subscription_metadata_tombstone("g")).tombstone);
  auto gone = roundtrip(consumer_records::member_metadata_tombstone("g", "m"));
  EXPECT_TRUE(gone.tombstone);
  EXPECT_EQ(gone.member_id, "m");
  // The classic group's and offsets' keys are not these records.
  EXPECT_FALSE(consumer_records::is_consumer_group_key(records::group_metadata_key("g")));
  EXPECT_FALSE(consumer_records::is_consumer_group_key(records::offset_commit_key("g", "t", 0)));
}

// Everything the log keeps of a group, and the partition owners derived from it (topic "a").
void expect_same_group(const ConsumerGroup& got, const ConsumerGroup& want) {
  EXPECT_EQ(got.group_epoch(), want.group_epoch());
  EXPECT_EQ(got.assignment_epoch(), want.assignment_epoch());
  EXPECT_EQ(got.targets(), want.targets());
  EXPECT_EQ(got.subscription_metadata(), want.subscription_metadata());
  EXPECT_EQ(got.members().size(), want.members().size());
  for (const auto& [mid, m] : want.members()) {
    const ConsumerMember* r = got.member(mid);
    ASSERT_TRUE(r) << mid;
    EXPECT_EQ((std::tuple(r->member_epoch, r->previous_member_epoch, r->state, r->assigned,
                          r->pending_revocation, r->subscribed_topic_names, r->instance_id,
                          r->rebalance_timeout_ms)),
              (std::tuple(m.member_epoch, m.previous_member_epoch, m.state, m.assigned,
                          m.pending_revocation, m.subscribed_topic_names, m.instance_id,
                          m.rebalance_timeout_ms)))
        << mid;
  }
  for (int32_t p = 0; p < 4; ++p) {
    EXPECT_EQ(got.partition_epoch(id(1), p), want.partition_epoch(id(1), p)) << p;
  }
}

TEST(ConsumerGroupManager, ReplayRebuildsWhatTheHeartbeatsWrote) {
  Harness h;
  auto a = h.beat("", 0, kNothing);
  auto b = h.beat("", 0, kNothing);
  const std::string aid = *(*a)->member_id;
  const std::string bid = *(*b)->member_id;
  auto a2 = h.beat(aid, 1, owned(*a));  // asked to revoke half
  h.beat(aid, 1, owned(*a2));           // revoked
  h.beat(bid, 2, kNothing);             // takes the released half
  auto c = h.beat("", 0, kNothing, "inst");
  h.beat(*(*c)->member_id, -2, std::nullopt, "inst");  // a static member's temporary leave

  Harness fresh;
  for (const auto& w : h.env.writes) {
    for (const auto& r : w) {
      consumer_records::Decoded d;
      ASSERT_TRUE(consumer_records::decode(
          r.key, r.value ? std::optional<std::string_view>(*r.value) : std::nullopt, d, nullptr));
      fresh.mgr.replay(d);
    }
  }
  const ConsumerGroup* got = fresh.mgr.group("g");
  ASSERT_TRUE(got);
  ASSERT_EQ(got->members().size(), 3u);
  expect_same_group(*got, *h.mgr.group("g"));
  EXPECT_EQ(got->member(*(*c)->member_id)->member_epoch, ConsumerGroupManager::kStaticLeaveEpoch);

  // A leave tombstones the member: replayed, it is gone and the epoch has moved.
  const size_t seen = h.env.writes.size();
  h.beat(bid, -1, std::nullopt);
  for (size_t i = seen; i < h.env.writes.size(); ++i) {
    for (const auto& r : h.env.writes[i]) {
      consumer_records::Decoded d;
      ASSERT_TRUE(consumer_records::decode(
          r.key, r.value ? std::optional<std::string_view>(*r.value) : std::nullopt, d, nullptr));
      fresh.mgr.replay(d);
    }
  }
  EXPECT_FALSE(fresh.mgr.group("g")->member(bid));
  EXPECT_EQ(fresh.mgr.group("g")->group_epoch(), h.mgr.group("g")->group_epoch());
  // The replayed subscription metadata matches the topics: a heartbeat does not move the epoch.
  const int32_t epoch = fresh.mgr.group("g")->group_epoch();
  auto again = fresh.beat(aid, fresh.mgr.group("g")->member(aid)->member_epoch, std::nullopt);
  ASSERT_EQ((*again)->error_code, 0);
  EXPECT_EQ(fresh.mgr.group("g")->group_epoch(), epoch);
}

TEST(ConsumerGroupManager, RegexSubscriptionFollowsTheTopicsAndCanBeCleared) {
  Harness h;
  h.topics.emplace("t-1", TopicMeta{id(3), "t-1", 1});
  auto r = h.beat("m", 0, kNothing, std::nullopt, "t-.*");
  ASSERT_EQ((*r)->error_code, 0);
  EXPECT_EQ(owned(*r), (OwnedPartitions{{{id(1), {0, 1, 2, 3}}, {id(3), {0}}}}));
  // Nothing changed: the same epoch.
  r = h.beat("m", 1, owned(*r));
  EXPECT_EQ((*r)->member_epoch, 1);
  // A matching topic appears: the next heartbeat subscribes to it.
  h.topics.emplace("t-2", TopicMeta{id(4), "t-2", 1});
  ++h.names_version;
  r = h.beat("m", 1, OwnedPartitions{{{id(1), {0, 1, 2, 3}}, {id(3), {0}}}});
  EXPECT_EQ((*r)->member_epoch, 2);
  EXPECT_EQ(owned(*r), (OwnedPartitions{{{id(1), {0, 1, 2, 3}}, {id(3), {0}}, {id(4), {0}}}}));
  // An empty regex clears it: only the named topic stays.
  r = h.beat("m", 2, owned(*r), std::nullopt, "");
  EXPECT_EQ(owned(*r), (OwnedPartitions{{{id(1), {0, 1, 2, 3}}}}));
  const ConsumerMember* m = h.mgr.group("g")->member("m");
  EXPECT_FALSE(m->subscribed_topic_regex);
  EXPECT_EQ(m->subscriptions(), std::vector<std::string>{"a"});
}

TEST(ConsumerGroupManager, RegexMatchesOnlyTopicsThePrincipalMayDescribeAndOnlyWhenNamesMove) {
  Harness h;
  h.topics.emplace("t-1", TopicMeta{id(3), "t-1", 1});
  h.topics.emplace("t-2", TopicMeta{id(4), "t-2", 1});
  h.hidden = {"t-2"};
  auto r = h.beat("m", 0, kNothing, std::nullopt, "t-.*");
  ASSERT_EQ((*r)->error_code, 0);
  EXPECT_EQ(owned(*r), (OwnedPartitions{{{id(1), {0, 1, 2, 3}}, {id(3), {0}}}}));
  EXPECT_EQ(h.names_read, 1);
  // The version did not move: the names are not read again, even if they would differ.
  h.hidden.clear();
  r = h.beat("m", 1, owned(*r));
  EXPECT_EQ((*r)->member_epoch, 1);
  EXPECT_EQ(h.names_read, 1);
  // It moves (a grant): t-2 is matched now.
  ++h.names_version;
  r = h.beat("m", 1, OwnedPartitions{{{id(1), {0, 1, 2, 3}}, {id(3), {0}}}});
  EXPECT_EQ(h.names_read, 2);
  EXPECT_EQ((*r)->member_epoch, 2);
  EXPECT_EQ(owned(*r), (OwnedPartitions{{{id(1), {0, 1, 2, 3}}, {id(3), {0}}, {id(4), {0}}}}));
  EXPECT_EQ(h.mgr.group("g")->member("m")->regex_topics, (std::vector<std::string>{"t-1", "t-2"}));
}

TEST(ConsumerGroupManager, AnswersWaitForEveryEarlierWrite) {
  Harness h;
  h.env.hold_writes = true;
  auto a = h.beat("", 0, kNothing);
  EXPECT_FALSE(*a);  // its records are not durable yet
  h.env.release_writes();
  ASSERT_TRUE(*a);
  const std::string aid = *(*a)->member_id;
  auto b = h.beat("", 0, kNothing);         // writes: the group epoch moves
  auto steady = h.beat(aid, 1, owned(*a));  // writes its revocation
  EXPECT_FALSE(*b);
  EXPECT_FALSE(*steady);
  h.env.release_writes();
  EXPECT_TRUE(*b);
  EXPECT_TRUE(*steady);
  // A heartbeat that changes nothing still waits for a write issued before it.
  auto join = h.beat("", 0, kNothing);
  auto nothing = h.beat(aid, (*steady)->member_epoch, owned(*steady));
  EXPECT_FALSE(*nothing);
  h.env.release_writes();
  EXPECT_TRUE(*join);
  EXPECT_TRUE(*nothing);
  // A failed write answers its error.
  h.env.write_result = protocol::ErrorCode::not_leader_or_follower;
  auto failed = h.beat("", 0, kNothing);
  h.env.release_writes();
  ASSERT_TRUE(*failed);
  EXPECT_EQ((*failed)->error_code, protocol::code(protocol::ErrorCode::not_coordinator));
}

TEST(ConsumerGroupManager, WhileWritesAreRefusedChangesAreUndoneAndTimeoutsWait) {
  Harness h;
  auto a = h.beat("", 0, kNothing);
  ASSERT_TRUE(*a);
  const std::string aid = *(*a)->member_id;
  auto steady = h.beat(aid, 1, owned(*a));
  ASSERT_TRUE(*steady);
  const int32_t epoch = h.mgr.group("g")->group_epoch();
  const size_t writes = h.env.writes.size();
  h.env.refusal = protocol::ErrorCode::coordinator_not_available;  // ISR below min.insync
  // A heartbeat that changes nothing is answered as usual.
  auto again = h.beat(aid, (*steady)->member_epoch, owned(*steady));
  ASSERT_TRUE(*again);
  EXPECT_EQ((*again)->error_code, 0);
  // A join would move the group epoch: undone, answered with the refusal, nothing written.
  auto join = h.beat("", 0, kNothing);
  ASSERT_TRUE(*join);
  EXPECT_EQ((*join)->error_code, protocol::code(protocol::ErrorCode::coordinator_not_available));
  EXPECT_EQ(h.mgr.group("g")->group_epoch(), epoch);
  EXPECT_EQ(h.mgr.group("g")->members().size(), 1u);
  // A new group is not kept either.
  auto created = h.beat("", 0, kNothing, std::nullopt, std::nullopt, "new");
  ASSERT_TRUE(*created);
  EXPECT_NE((*created)->error_code, 0);
  EXPECT_EQ(h.mgr.group("new"), nullptr);
  // The member's session runs out, but its removal waits until the partition takes writes.
  h.env.advance(h.env.cfg.consumer_session_timeout_ms + 1000);
  EXPECT_EQ(h.mgr.group("g")->members().size(), 1u);
  EXPECT_EQ(h.env.writes.size(), writes);
  h.env.refusal = protocol::ErrorCode::none;
  h.env.advance(ConsumerGroupManager::kExpiryRetryMs);
  EXPECT_EQ(h.mgr.group("g")->members().size(), 0u);
  EXPECT_GT(h.env.writes.size(), writes);
}

TEST(ConsumerGroupManager, AWriteTheLogRefusesIsUndone) {
  Harness h;
  auto a = h.beat("", 0, kNothing);
  const std::string aid = *(*a)->member_id;
  auto b = h.beat("", 0, kNothing);
  const std::string bid = *(*b)->member_id;
  auto a2 = h.beat(aid, 1, owned(*a));  // asked to revoke half: a still owns all four
  ASSERT_EQ(h.mgr.group("g")->member(aid)->state, MemberState::unrevoked_partitions);
  const ConsumerGroup before = *h.mgr.group("g");
  const size_t writes = h.env.writes.size();
  // Refusals the partition's own check does not foresee (a storage failure, a batch too large).
  h.env.append_error = protocol::ErrorCode::record_list_too_large;
  const auto refused = protocol::code(protocol::ErrorCode::unknown_server_error);
  // a revokes: its epoch and the released partitions would move.
  auto revoked = h.beat(aid, 1, owned(*a2));
  EXPECT_EQ((*revoked)->error_code, refused);
  // A third member would move the group epoch and the target assignment.
  auto c = h.beat("", 0, kNothing);
  EXPECT_EQ((*c)->error_code, refused);
  // b leaves; a static member comes; a new group is made.
  EXPECT_EQ((*h.beat(bid, -1, std::nullopt))->error_code, refused);
  EXPECT_EQ((*h.beat("", 0, kNothing, "inst"))->error_code, refused);
  EXPECT_EQ((*h.beat("", 0, kNothing, std::nullopt, std::nullopt, "new"))->error_code, refused);
  EXPECT_EQ(h.mgr.group("new"), nullptr);
  // A heartbeat that changes nothing is answered.
  EXPECT_EQ((*h.beat(bid, 2, kNothing))->error_code, 0);
  expect_same_group(*h.mgr.group("g"), before);
  EXPECT_EQ(h.env.writes.size(), writes);
  // Once the log takes writes again, the group goes on from what it has.
  h.env.append_error = protocol::ErrorCode::none;
  auto again = h.beat(aid, 1, owned(*a2));
  EXPECT_EQ((*again)->error_code, 0);
  EXPECT_EQ((*again)->member_epoch, 2);
  EXPECT_EQ((*h.beat("", 0, kNothing))->error_code, 0);
  const int32_t epoch = h.mgr.group("g")->group_epoch();
  EXPECT_EQ(epoch, before.group_epoch() + 1);
  EXPECT_GT(h.env.writes.size(), writes);
  // Sessions that run out while the removals are refused: the members stay, and their removals
  // are tried again until the log takes them.
  h.env.append_error = protocol::ErrorCode::record_list_too_large;
  h.env.advance(h.env.cfg.consumer_session_timeout_ms + 1);
  EXPECT_EQ(h.mgr.group("g")->members().size(), 3u);
  EXPECT_EQ(h.mgr.group("g")->group_epoch(), epoch);
  h.env.append_error = protocol::ErrorCode::none;
  h.env.advance(ConsumerGroupManager::kExpiryRetryMs);
  EXPECT_TRUE(h.mgr.group("g")->empty());
  EXPECT_EQ(h.mgr.group("g")->group_epoch(), epoch + 3);
}

}  // namespace
}  // namespace kaffa::coordinator
