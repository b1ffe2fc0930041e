// The controller against a real etcd, with EtcdMetadata instances in this process as brokers:
// failover of the controller, new leaders from the ISR when a broker goes, leaderless partitions
// that get their leader back when it returns, unclean election, controlled shutdown, preferred
// leader election (ElectLeaders and the automatic rebalance), session loss.
#include <gtest/gtest.h>

#include <memory>

#include "cluster/etcd/etcd_metadata_testing.h"
#include "cluster/etcd/lease.h"
#include "cluster/metadata_records.h"

namespace kaffa::cluster::testing {
namespace {

using protocol::ErrorCode;

// The leader of a partition in an image; -2 while the image does not show the partition yet.
int32_t leader(const MetadataImage& i, const std::string& topic, int32_t index = 0) {
  const PartitionState* p = i.partition(topic, index);
  return p == nullptr ? -2 : p->leader;
}

bool contains(const std::vector<int32_t>& v, int32_t x) {
  return std::find(v.begin(), v.end(), x) != v.end();
}

PartitionState alter(EtcdMetadata& m, const std::string& topic, int32_t index,
                     std::vector<int32_t> isr) {
  EXPECT_TRUE(eventually([&] { return m.image()->partition(topic, index) != nullptr; }));
  PartitionState proposed = *m.image()->partition(topic, index);
  proposed.isr = std::move(isr);
  Awaited<std::pair<ErrorCode, PartitionState>> a;
  auto cb = a.callback();
  m.alter_partition(topic, index, proposed, [cb](ErrorCode e, const PartitionState& current) {
    cb({e, current});
  });
  auto [error, current] = a.get();
  EXPECT_EQ(error, ErrorCode::none);
  return current;
}

std::vector<EtcdMetadata::Election> elect(EtcdMetadata& m, bool unclean,
                                          std::vector<std::pair<std::string, int32_t>> parts) {
  Awaited<std::vector<EtcdMetadata::Election>> a;
  m.elect_leaders(unclean, std::move(parts), a.callback());
  return a.get();
}

TEST_F(MetadataClusterTest, ControllerFailsOverAndMovesTheLeadershipOfTheStoppedBroker) {
  start_all(3);
  ASSERT_TRUE(
      all_see([](const MetadataImage& i) { return i.brokers.size() == 3 && i.controller_id > 0; }));
  ASSERT_EQ(create(1, "t", 6, 3).error, ErrorCode::none);
  ASSERT_TRUE(all_see([](const MetadataImage& i) { return i.topic("t") != nullptr; }));
  const int32_t controller = broker(1).image()->controller_id;
  ASSERT_TRUE(eventually([&] { return broker(controller).is_controller(); }));
  stop(controller);
  ASSERT_TRUE(all_see([&](const MetadataImage& i) {
    if (i.controller_id <= 0 || i.controller_id == controller) return false;
    for (const auto& p : i.topic("t")->partitions) {
      if (p.leader == controller || contains(p.isr, controller)) return false;
    }
    return true;
  }));
  const auto image = brokers_.begin()->second->image();
  EXPECT_TRUE(broker(image->controller_id).is_controller());
  for (const auto& p : image->topic("t")->partitions) {
    EXPECT_EQ(p.isr.size(), 2u);
    EXPECT_TRUE(contains(p.isr, p.leader));
    // The leader epoch moved exactly for the partitions that lost their leader.
    EXPECT_EQ(p.leader_epoch, p.replicas.front() == controller ? 1 : 0);
    if (p.replicas.front() == controller) {
      EXPECT_EQ(p.leader, p.replicas[1]);
    }
  }
}

TEST_F(MetadataClusterTest, APartitionWithoutEligibleLeaderWaitsForItsLastInSyncReplica) {
  start_all(3);
  ASSERT_TRUE(all_see([](const MetadataImage& i) { return i.brokers.size() == 3; }));
  ASSERT_EQ(create(1, "solo", 0, 0, {{2}}).error, ErrorCode::none);
  ASSERT_EQ(create(1, "pair", 0, 0, {{2, 3}}).error, ErrorCode::none);
  ASSERT_TRUE(all_see([](const MetadataImage& i) { return i.topic("pair") != nullptr; }));
  // Broker 3 fell behind: the leader (2) shrank the ISR.
  alter(broker(2), "pair", 0, {2});
  stop(2);
  ASSERT_TRUE(all_see(
      [](const MetadataImage& i) { return leader(i, "solo") == -1 && leader(i, "pair") == -1; }));
  const auto offline = *broker(1).image()->partition("pair", 0);
  EXPECT_EQ(offline.isr, (std::vector<int32_t>{2}));  // not the out-of-sync broker 3
  EXPECT_EQ(offline.leader_epoch, 1);
  EXPECT_EQ(broker(1).image()->partition("solo", 0)->isr, (std::vector<int32_t>{2}));
  start(2);
  ASSERT_TRUE(all_see(
      [](const MetadataImage& i) { return leader(i, "solo") == 2 && leader(i, "pair") == 2; }));
  EXPECT_EQ(broker(3).image()->partition("pair", 0)->leader_epoch, 2);
  EXPECT_EQ(broker(3).image()->partition("pair", 0)->isr, (std::vector<int32_t>{2}));
}

TEST_F(MetadataClusterTest, UncleanElectionPicksALiveReplicaOutsideTheIsrWhenEnabled) {
  for (int id = 1; id <= 3; ++id) {
    start(id, [](EtcdMetadataOptions& o) { o.unclean_leader_election = true; });
  }
  ASSERT_TRUE(all_see([](const MetadataImage& i) { return i.brokers.size() == 3; }));
  ASSERT_EQ(create(1, "pair", 0, 0, {{2, 3}}).error, ErrorCode::none);
  alter(broker(2), "pair", 0, {2});
  stop(2);
  ASSERT_TRUE(all_see([](const MetadataImage& i) {
    const auto* p = i.partition("pair", 0);
    return p && p->leader == 3 && p->isr == std::vector<int32_t>{3};
  }));
}

TEST_F(MetadataClusterTest, ElectLeadersUncleanForALeaderlessPartition) {
  start_all(2);
  ASSERT_TRUE(all_see([](const MetadataImage& i) { return i.brokers.size() == 2; }));
  ASSERT_EQ(create(1, "pair", 0, 0, {{2, 1}}).error, ErrorCode::none);
  alter(broker(2), "pair", 0, {2});
  auto with_leader = elect(broker(1), true, {{"pair", 0}});
  ASSERT_EQ(with_leader.size(), 1u);
  EXPECT_EQ(with_leader[0].error, ErrorCode::election_not_needed);
  stop(2);
  ASSERT_TRUE(eventually([&] { return broker(1).image()->partition("pair", 0)->leader == -1; }));
  auto result = elect(broker(1), true, {{"pair", 0}});
  ASSERT_EQ(result.size(), 1u);
  EXPECT_EQ(result[0].error, ErrorCode::none);
  const auto* p = broker(1).image()->partition("pair", 0);
  EXPECT_EQ(p->leader, 1);
  EXPECT_EQ(p->isr, (std::vector<int32_t>{1}));
}

TEST_F(MetadataClusterTest, ControlledShutdownMovesLeadershipAndLeavesTheIsrs) {
  start_all(3);
  ASSERT_TRUE(all_see([](const MetadataImage& i) { return i.brokers.size() == 3; }));
  ASSERT_EQ(create(2, "t", 6, 3).error, ErrorCode::none);
  ASSERT_EQ(create(2, "only-on-1", 0, 0, {{1}}).error, ErrorCode::none);
  ASSERT_TRUE(all_see([](const MetadataImage& i) { return i.topic("only-on-1") != nullptr; }));
  Awaited<bool> done;
  broker(1).controlled_shutdown(20s, done.callback());
  ASSERT_TRUE(done.get(25s));
  const auto image = broker(1).image();
  ASSERT_NE(image->broker(1), nullptr);
  EXPECT_TRUE(image->broker(1)->shutting_down);
  for (const auto& p : image->topic("t")->partitions) {
    EXPECT_NE(p.leader, 1);
    EXPECT_FALSE(contains(p.isr, 1));
    EXPECT_EQ(p.isr.size(), 2u);
  }
  // Nobody else can lead this one: it stays.
  EXPECT_EQ(image->partition("only-on-1", 0)->leader, 1);
  // New replicas avoid the broker on its way out.
  ASSERT_EQ(create(1, "later", 4, 2).error, ErrorCode::none);
  for (const auto& p : broker(1).image()->topic("later")->partitions) {
    EXPECT_FALSE(contains(p.replicas, 1));
  }
  stop(1);
  ASSERT_TRUE(all_see([](const MetadataImage& i) {
    return i.broker(1) == nullptr && leader(i, "only-on-1") == -1;
  }));
}

TEST_F(MetadataClusterTest, ControlledShutdownOfTheLastLiveIsrMemberKeepsItsLeadership) {
  start_all(2);
  ASSERT_TRUE(all_see([](const MetadataImage& i) { return i.brokers.size() == 2; }));
  ASSERT_EQ(create(1, "p", 0, 0, {{1, 2}}).error, ErrorCode::none);
  // Broker 2 shuts down first: it leaves the ISR; then nobody can take over from broker 1,
  // whose shutdown is therefore complete at once.
  Awaited<bool> second;
  broker(2).controlled_shutdown(10s, second.callback());
  ASSERT_TRUE(second.get());
  ASSERT_TRUE(eventually(
      [&] { return broker(1).image()->partition("p", 0)->isr == std::vector<int32_t>{1}; }));
  Awaited<bool> first;
  broker(1).controlled_shutdown(10s, first.callback());
  EXPECT_TRUE(first.get());
  EXPECT_EQ(broker(1).image()->partition("p", 0)->leader, 1);
}

TEST_F(MetadataClusterTest, PreferredLeaderElectionReturnsLeadershipToTheFirstReplica) {
  start_all(3);
  ASSERT_TRUE(all_see([](const MetadataImage& i) { return i.brokers.size() == 3; }));
  ASSERT_EQ(create(3, "p", 0, 0, {{1, 2, 3}}).error, ErrorCode::none);
  stop(1);
  ASSERT_TRUE(all_see([](const MetadataImage& i) { return leader(i, "p") == 2; }));
  start(1);
  ASSERT_TRUE(all_see([](const MetadataImage& i) { return i.broker(1) != nullptr; }));
  auto not_in_sync = elect(broker(3), false, {{"p", 0}, {"nope", 0}});
  ASSERT_EQ(not_in_sync.size(), 2u);
  for (const auto& e : not_in_sync) {
    EXPECT_EQ(e.error, e.topic == "p" ? ErrorCode::preferred_leader_not_available
                                      : ErrorCode::unknown_topic_or_partition);
  }
  alter(broker(2), "p", 0, {2, 3, 1});
  ASSERT_TRUE(all_see([](const MetadataImage& i) {
    return i.partition("p", 0) && i.partition("p", 0)->isr.size() == 3;
  }));
  auto all = elect(broker(3), false, {});
  ASSERT_EQ(all.size(), 1u);
  EXPECT_EQ(all[0].topic, "p");
  EXPECT_EQ(all[0].error, ErrorCode::none);
  const auto* p = broker(3).image()->partition("p", 0);
  EXPECT_EQ(p->leader, 1);
  EXPECT_EQ(p->leader_epoch, 2);
  auto again = elect(broker(3), false, {{"p", 0}});
  ASSERT_EQ(again.size(), 1u);
  EXPECT_EQ(again[0].error, ErrorCode::election_not_needed);
  EXPECT_TRUE(elect(broker(3), false, {}).empty());
}

TEST_F(MetadataClusterTest, AutoLeaderRebalanceMovesLeadershipBack) {
  auto rebalancing = [](EtcdMetadataOptions& o) {
    o.auto_leader_rebalance = true;
    o.leader_imbalance_check_interval_ms = 200;
  };
  for (int id = 1; id <= 3; ++id) start(id, rebalancing);
  ASSERT_TRUE(all_see([](const MetadataImage& i) { return i.brokers.size() == 3; }));
  ASSERT_EQ(create(3, "p", 0, 0, {{1, 2, 3}}).error, ErrorCode::none);
  stop(1);
  ASSERT_TRUE(all_see([](const MetadataImage& i) { return leader(i, "p") == 2; }));
  start(1, rebalancing);
  ASSERT_TRUE(all_see([](const MetadataImage& i) { return i.broker(1) != nullptr; }));
  alter(broker(2), "p", 0, {2, 3, 1});
  ASSERT_TRUE(all_see([](const MetadataImage& i) { return leader(i, "p") == 1; }));
}

TEST_F(MetadataClusterTest, ALostRegistrationIsReportedAndRegisteredAgain) {
  // Shared with the callback, which may run until TearDown, after this body has returned.
  auto lost = std::make_shared<std::atomic<int>>(0);
  auto o = options(1);
  auto m = std::make_unique<EtcdMetadata>(o);
  m->on_session_lost([lost] { ++*lost; });
  ASSERT_FALSE(m->start(10s).has_value());
  brokers_[1] = std::move(m);
  const int64_t incarnation = broker(1).image()->broker(1)->incarnation;
  asio::io_context io;
  auto client = etcd::testing::make_client(io, {etcd_->endpoint()});
  auto deleted = etcd::testing::await<etcd::DeleteResult>(
      io, [&](auto cb) { client->delete_key("/test/brokers/1", cb); });
  ASSERT_TRUE(deleted) << deleted.error().describe();
  client->close();
  ASSERT_TRUE(eventually([&] { return lost->load() == 1; }));
  ASSERT_TRUE(eventually([&] {
    const auto* b = broker(1).image()->broker(1);
    return b != nullptr && b->incarnation != incarnation;
  }));
  ASSERT_TRUE(eventually([&] { return broker(1).is_controller(); }));
}

TEST_F(MetadataClusterTest, AnEtcdOutageLongerThanTheSessionFencesThenRegistersAgain) {
  // Shared with the callback, which may run until TearDown, after this body has returned.
  auto lost = std::make_shared<std::atomic<int>>(0);
  auto m = std::make_unique<EtcdMetadata>(options(1));
  m->on_session_lost([lost] { ++*lost; });
  ASSERT_FALSE(m->start(10s).has_value());
  brokers_[1] = std::move(m);
  start(2);
  ASSERT_TRUE(all_see([](const MetadataImage& i) { return i.brokers.size() == 2; }));
  const int64_t incarnation = broker(1).image()->broker(1)->incarnation;
  etcd_->kill9();
  // No keep-alive succeeds for a whole TTL: the session is reported lost.
  ASSERT_TRUE(eventually([&] { return lost->load() >= 1; }));
  std::string err;
  ASSERT_TRUE(etcd_->start(&err)) << err;
  ASSERT_TRUE(all_see(
      [&](const MetadataImage& i) {
        const auto* b = i.broker(1);
        return b != nullptr && b->incarnation != incarnation && i.broker(2) != nullptr &&
               i.controller_id > 0;
      },
      30s));
  ASSERT_TRUE(eventually([&] { return broker(1).is_controller() || broker(2).is_controller(); }));
  // Registered again for good: no further loss once etcd is back.
  const int losses = lost->load();
  ASSERT_EQ(create(1, "after", 1, 2).error, ErrorCode::none);
  EXPECT_EQ(lost->load(), losses);
}

}  // namespace
}  // namespace kaffa::cluster::testing

namespace kaffa::cluster::testing {
namespace {

// A broker that dies without a word: its registration stays until the lease expires (no
// keep-alives), then the controller moves its leadership.
TEST_F(MetadataClusterTest, ABrokerWhoseLeaseExpiresLosesItsLeadership) {
  start_all(2);
  asio::io_context io;
  auto client = etcd::testing::make_client(io, {etcd_->endpoint()});
  auto lease = etcd::testing::await<std::shared_ptr<etcd::Lease>>(
      io, [&](auto cb) { etcd::Lease::grant(client, 2, {}, cb); });
  ASSERT_TRUE(lease) << lease.error().describe();
  BrokerRegistration ghost;
  ghost.id = 9;
  ghost.endpoints.push_back({"PLAINTEXT", "127.0.0.1", 9009, "PLAINTEXT"});
  ghost.inter_broker_listener = "PLAINTEXT";
  ghost.incarnation = (*lease)->id();
  auto put = etcd::testing::await<etcd::PutResult>(io, [&](auto cb) {
    client->put("/test/brokers/9", records::encode_broker(ghost), cb, (*lease)->id());
  });
  ASSERT_TRUE(put) << put.error().describe();
  ASSERT_TRUE(all_see([](const MetadataImage& i) { return i.brokers.size() == 3; }));
  ASSERT_EQ(create(1, "t", 0, 0, {{9, 1, 2}}).error, ErrorCode::none);
  EXPECT_EQ(broker(1).image()->partition("t", 0)->leader, 9);
  (*lease)->stop();  // the process "died": no more keep-alives
  ASSERT_TRUE(all_see([](const MetadataImage& i) {
    const auto* p = i.partition("t", 0);
    return i.broker(9) == nullptr && p && p->leader == 1 && p->isr == std::vector<int32_t>{1, 2};
  }));
  EXPECT_EQ(broker(2).image()->partition("t", 0)->leader_epoch, 1);
  client->close();
}

// A broker that restarts at once: its old registration goes (lease revoked) and the new one
// follows immediately; the controller still sees it go and moves its leadership (new epoch).
TEST_F(MetadataClusterTest, ABrokerThatRestartsAtOnceStillLosesItsLeadership) {
  start_all(2);
  asio::io_context io;
  auto client = etcd::testing::make_client(io, {etcd_->endpoint()});
  BrokerRegistration ghost;
  ghost.id = 9;
  ghost.endpoints.push_back({"PLAINTEXT", "127.0.0.1", 9009, "PLAINTEXT"});
  auto register_ghost = [&](int64_t lease) {
    ghost.incarnation = lease;
    auto put = etcd::testing::await<etcd::PutResult>(io, [&](auto cb) {
      client->put("/test/brokers/9", records::encode_broker(ghost), cb, lease);
    });
    ASSERT_TRUE(put) << put.error().describe();
  };
  auto grant = [&] {
    auto g =
        etcd::testing::await<etcd::LeaseGrant>(io, [&](auto cb) { client->lease_grant(60, cb); });
    EXPECT_TRUE(g) << g.error().describe();
    return g ? g->id : 0;
  };
  const int64_t first = grant();
  const int64_t second = grant();
  register_ghost(first);
  ASSERT_TRUE(all_see([](const MetadataImage& i) { return i.brokers.size() == 3; }));
  ASSERT_EQ(create(1, "t", 0, 0, {{9, 1, 2}}).error, ErrorCode::none);
  // The process died (its lease revoked) and is back at once.
  ASSERT_TRUE(
      etcd::testing::await<etcd::Done>(io, [&](auto cb) { client->lease_revoke(first, cb); }));
  register_ghost(second);
  ASSERT_TRUE(all_see([&](const MetadataImage& i) {
    const auto* p = i.partition("t", 0);
    return i.broker(9) && i.broker(9)->incarnation == second && p && p->leader == 1;
  }));
  EXPECT_EQ(broker(1).image()->partition("t", 0)->leader_epoch, 1);
  EXPECT_EQ(broker(1).image()->partition("t", 0)->isr, (std::vector<int32_t>{1, 2}));
  client->close();
}

}  // namespace
}  // namespace kaffa::cluster::testing
