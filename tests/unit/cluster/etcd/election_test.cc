// Leader election against a real etcd: of two campaigners only one leads; the other takes over
// when the leader's lease is revoked, when its keep-alives stop, or when it resigns.
#include "cluster/etcd/election.h"

#include <gtest/gtest.h>

#include "cluster/etcd/etcd_testing.h"
#include "cluster/etcd/lease.h"

namespace kaffa::etcd {
namespace {

using testing::await;
using testing::EtcdProcess;

constexpr const char* kKey = "/kaffa/controller";

struct Campaigner {
  std::shared_ptr<Lease> lease;
  std::shared_ptr<Election> election;
  std::optional<Result<KeyValue>> won;
  bool lost = false;
};

class EtcdElection : public ::testing::Test {
 protected:
  void SetUp() override {
    KAFFA_REQUIRE_ETCD();
    etcd_ = std::make_unique<EtcdProcess>();
    std::string err;
    ASSERT_TRUE(etcd_->start(&err)) << err;
    // Each campaigner has its own client, as two brokers would.
    for (int i = 0; i < 2; ++i) {
      clients_[i] = testing::make_client(io_, {etcd_->endpoint()});
      auto lease = await<std::shared_ptr<Lease>>(
          io_, [&](auto cb) { Lease::grant(clients_[i], 2, {}, cb); });
      ASSERT_TRUE(lease) << lease.error().describe();
      c_[i].lease = *lease;
      c_[i].election = Election::create(clients_[i], kKey, c_[i].lease->id());
    }
  }
  void TearDown() override {
    for (auto& c : c_) {
      if (c.election) c.election->cancel();
      if (c.lease) c.lease->stop();
    }
    for (auto& c : clients_) {
      if (c) c->close();
    }
  }

  void campaign(int i) {
    auto& c = c_[i];
    c.election->campaign(
        "broker-" + std::to_string(i), [&c](Result<KeyValue> r) { c.won.emplace(std::move(r)); },
        [&c] { c.lost = true; });
  }
  std::string holder() {
    auto r =
        await<std::optional<KeyValue>>(io_, [&](auto cb) { c_[0].election->current_leader(cb); });
    EXPECT_TRUE(r) << r.error().describe();
    return r && r->has_value() ? (*r)->value : "";
  }
  // Both campaign; returns the index of the one that won first.
  int start_both() {
    campaign(0);
    campaign(1);
    EXPECT_TRUE(testing::run_until(io_, [&] { return c_[0].won || c_[1].won; }));
    const int leader = c_[0].won ? 0 : 1;
    EXPECT_TRUE(c_[leader].won->ok()) << c_[leader].won->error().describe();
    EXPECT_TRUE(c_[leader].election->leader());
    EXPECT_EQ(holder(), "broker-" + std::to_string(leader));
    // The other is still waiting (a round trip later: the key is unchanged and it has not won).
    EXPECT_FALSE(c_[1 - leader].won.has_value());
    EXPECT_FALSE(c_[1 - leader].election->leader());
    return leader;
  }
  void expect_takeover(int from) {
    const int to = 1 - from;
    ASSERT_TRUE(testing::run_until(io_, [&] { return c_[to].won.has_value(); }));
    ASSERT_TRUE(c_[to].won->ok()) << c_[to].won->error().describe();
    EXPECT_TRUE(c_[to].election->leader());
    EXPECT_EQ((*c_[to].won)->value, "broker-" + std::to_string(to));
    EXPECT_EQ(holder(), "broker-" + std::to_string(to));
  }

  asio::io_context io_;
  std::unique_ptr<EtcdProcess> etcd_;
  std::shared_ptr<Client> clients_[2];
  Campaigner c_[2];
};

TEST_F(EtcdElection, OtherTakesOverWhenTheLeadersLeaseIsRevoked) {
  const int leader = start_both();
  ASSERT_TRUE(await<Done>(io_, [&](auto cb) { c_[leader].lease->close(cb); }));
  expect_takeover(leader);
  // The old leader learns that it lost.
  ASSERT_TRUE(testing::run_until(io_, [&] { return c_[leader].lost; }));
  EXPECT_FALSE(c_[leader].election->leader());
}

TEST_F(EtcdElection, OtherTakesOverWhenTheLeadersKeepAliveStops) {
  const int leader = start_both();
  c_[leader].lease->stop();  // as if the process froze: the lease runs out after its TTL
  expect_takeover(leader);
  ASSERT_TRUE(testing::run_until(io_, [&] { return c_[leader].lost; }));
}

TEST_F(EtcdElection, ResignHandsOver) {
  const int leader = start_both();
  ASSERT_TRUE(await<Done>(io_, [&](auto cb) { c_[leader].election->resign(cb); }));
  EXPECT_FALSE(c_[leader].election->leader());
  expect_takeover(leader);
  // A resigned campaigner is not told it "lost": it gave leadership up itself.
  EXPECT_FALSE(c_[leader].lost);
}

TEST_F(EtcdElection, CampaignAgainUnderTheSameLeaseKeepsLeadership) {
  campaign(0);
  ASSERT_TRUE(testing::run_until(io_, [&] { return c_[0].won.has_value(); }));
  ASSERT_TRUE(c_[0].won->ok());
  const int64_t created = (*c_[0].won)->create_revision;
  // A second election object on the same lease (a retried campaign after a lost answer).
  auto again = Election::create(clients_[0], kKey, c_[0].lease->id());
  auto r = await<KeyValue>(io_, [&](auto cb) { again->campaign("broker-0", cb); });
  ASSERT_TRUE(r) << r.error().describe();
  EXPECT_EQ(r->create_revision, created);
  again->cancel();
}

}  // namespace
}  // namespace kaffa::etcd
