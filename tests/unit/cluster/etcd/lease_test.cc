// Leases against a real etcd: expiry deletes a lease's keys, keep-alives keep them, a revoked
// lease is reported lost, close() revokes.
#include "cluster/etcd/lease.h"

#include <gtest/gtest.h>

#include "cluster/etcd/etcd_testing.h"

namespace kaffa::etcd {
namespace {

using testing::await;
using testing::EtcdProcess;

class EtcdLease : public testing::SingleEtcdTest {
 protected:
  bool exists(const std::string& key) {
    auto r = await<std::optional<KeyValue>>(io_, [&](auto cb) { client_->get(key, cb); });
    EXPECT_TRUE(r) << r.error().describe();
    return r && r->has_value();
  }
  // Polls until the key is gone; false if it is still there after `deadline`.
  bool gone_within(const std::string& key, std::chrono::seconds deadline) {
    const auto until = std::chrono::steady_clock::now() + deadline;
    while (std::chrono::steady_clock::now() < until) {
      if (!exists(key)) return true;
      asio::steady_timer t(io_, std::chrono::milliseconds(100));
      bool fired = false;
      t.async_wait([&](std::error_code) { fired = true; });
      testing::run_until(io_, [&] { return fired; });
    }
    return false;
  }
  // Lets `d` of wall time pass while the loop keeps serving (keep-alives run meanwhile).
  void run_for(std::chrono::milliseconds d) {
    asio::steady_timer t(io_, d);
    bool fired = false;
    t.async_wait([&](std::error_code) { fired = true; });
    ASSERT_TRUE(testing::run_until(
        io_, [&] { return fired; }, d + std::chrono::seconds(5)));
  }
  std::shared_ptr<Lease> grant(int64_t ttl, Lease::LostHandler on_lost = {}) {
    auto r = await<std::shared_ptr<Lease>>(
        io_, [&](auto cb) { Lease::grant(client_, ttl, std::move(on_lost), cb); });
    EXPECT_TRUE(r) << r.error().describe();
    return r ? *r : nullptr;
  }
};

TEST_F(EtcdLease, ExpiryDeletesTheLeasesKeys) {
  auto g = await<LeaseGrant>(io_, [&](auto cb) { client_->lease_grant(2, cb); });
  ASSERT_TRUE(g) << g.error().describe();
  EXPECT_EQ(g->ttl, 2);
  ASSERT_TRUE(await<PutResult>(io_, [&](auto cb) { client_->put("/brokers/1", "b1", cb, g->id); }));
  auto kv = await<std::optional<KeyValue>>(io_, [&](auto cb) { client_->get("/brokers/1", cb); });
  ASSERT_TRUE(kv && kv->has_value());
  EXPECT_EQ((*kv)->lease, g->id);
  // Nobody keeps it alive: etcd deletes the key once the TTL has passed.
  EXPECT_TRUE(gone_within("/brokers/1", std::chrono::seconds(15)));
  auto ttl = await<int64_t>(io_, [&](auto cb) { client_->lease_keep_alive_once(g->id, cb); });
  ASSERT_TRUE(ttl) << ttl.error().describe();
  EXPECT_EQ(*ttl, 0);
}

TEST_F(EtcdLease, KeepAliveKeepsKeysUntilItStops) {
  bool lost = false;
  auto lease = grant(2, [&](const Error&) { lost = true; });
  ASSERT_TRUE(lease);
  ASSERT_TRUE(
      await<PutResult>(io_, [&](auto cb) { client_->put("/brokers/2", "b2", cb, lease->id()); }));
  // Three TTLs of wall time: without keep-alives the key would be gone.
  run_for(std::chrono::milliseconds(6500));
  EXPECT_TRUE(exists("/brokers/2"));
  EXPECT_TRUE(lease->alive());
  EXPECT_FALSE(lost);
  // A process that stops refreshing (crash): the key goes after the TTL; no loss is reported
  // to a keeper that was stopped on purpose.
  lease->stop();
  EXPECT_TRUE(gone_within("/brokers/2", std::chrono::seconds(15)));
  EXPECT_FALSE(lost);
}

TEST_F(EtcdLease, RevokedLeaseIsReportedLost) {
  std::optional<Error> lost;
  auto lease = grant(3, [&](const Error& e) { lost = e; });
  ASSERT_TRUE(lease);
  // Someone else revokes it (an operator, or etcd after a long partition).
  ASSERT_TRUE(await<Done>(io_, [&](auto cb) { client_->lease_revoke(lease->id(), cb); }));
  ASSERT_TRUE(testing::run_until(io_, [&] { return lost.has_value(); }));
  EXPECT_EQ(lost->code, Error::Code::lease_lost);
  EXPECT_FALSE(lease->alive());
}

TEST_F(EtcdLease, LossIsReportedWhenEtcdIsGoneForATtl) {
  std::optional<Error> lost;
  auto lease = grant(2, [&](const Error& e) { lost = e; });
  ASSERT_TRUE(lease);
  etcd_->kill9();
  ASSERT_TRUE(testing::run_until(io_, [&] { return lost.has_value(); }));
  EXPECT_EQ(lost->code, Error::Code::lease_lost);
  EXPECT_NE(lost->message.find("not refreshed"), std::string::npos) << lost->message;
}

TEST_F(EtcdLease, TtlBelowTheMinimumIsRaisedAndReported) {
  auto g = await<LeaseGrant>(io_, [&](auto cb) { client_->lease_grant(1, cb); });
  ASSERT_TRUE(g) << g.error().describe();
  EXPECT_EQ(g->ttl, 2);  // 1.5 x the default 1 s election timeout, rounded up
  auto lease = grant(1);
  ASSERT_TRUE(lease);
  EXPECT_EQ(lease->ttl_seconds(), 2);
  lease->stop();
}

TEST_F(EtcdLease, CloseRevokesAndDeletesKeysAtOnce) {
  auto lease = grant(30);
  ASSERT_TRUE(lease);
  ASSERT_TRUE(
      await<PutResult>(io_, [&](auto cb) { client_->put("/brokers/3", "b3", cb, lease->id()); }));
  ASSERT_TRUE(await<Done>(io_, [&](auto cb) { lease->close(cb); }));
  EXPECT_FALSE(exists("/brokers/3"));
  // Revoking again: etcd says the lease is unknown.
  auto again = await<Done>(io_, [&](auto cb) { client_->lease_revoke(lease->id(), cb); });
  ASSERT_FALSE(again);
  EXPECT_EQ(again.error().code, Error::Code::etcd);
  EXPECT_EQ(again.error().grpc_code, 5);
}

}  // namespace
}  // namespace kaffa::etcd
