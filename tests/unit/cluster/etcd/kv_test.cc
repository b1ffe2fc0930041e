// The KV operations against a real etcd: put/get, prefixes, deletes, compare-and-swap, txn,
// and moving to a second endpoint when the first is down.
#include <gtest/gtest.h>

#include "cluster/etcd/etcd_testing.h"

namespace kaffa::etcd {
namespace {

using testing::await;
using testing::EtcdProcess;

class EtcdKv : public testing::SingleEtcdTest {
 protected:
  Result<PutResult> put(std::string k, std::string v) {
    return await<PutResult>(io_, [&](auto cb) { client_->put(k, v, cb); });
  }
  Result<std::optional<KeyValue>> get(std::string k) {
    return await<std::optional<KeyValue>>(io_, [&](auto cb) { client_->get(k, cb); });
  }
};

TEST_F(EtcdKv, PutGetPrefixDelete) {
  // Binary keys and values survive base64.
  const std::string bin("v\0\xff\x01", 4);
  auto p1 = put("/kaffa/topics/a", bin);
  ASSERT_TRUE(p1) << p1.error().describe();
  ASSERT_TRUE(put("/kaffa/topics/b", "2"));
  ASSERT_TRUE(put("/kaffa/topicsX", "outside"));
  ASSERT_TRUE(put("/kaffa/topics/a", "1"));

  auto one = get("/kaffa/topics/a");
  ASSERT_TRUE(one) << one.error().describe();
  ASSERT_TRUE(one->has_value());
  EXPECT_EQ((*one)->value, "1");
  EXPECT_EQ((*one)->version, 2);
  EXPECT_EQ((*one)->create_revision, p1->revision);
  auto missing = get("/kaffa/none");
  ASSERT_TRUE(missing);
  EXPECT_FALSE(missing->has_value());

  auto range = await<RangeResult>(io_, [&](auto cb) { client_->get_prefix("/kaffa/topics/", cb); });
  ASSERT_TRUE(range) << range.error().describe();
  ASSERT_EQ(range->kvs.size(), 2u);
  EXPECT_EQ(range->kvs[0].key, "/kaffa/topics/a");
  EXPECT_EQ(range->kvs[1].key, "/kaffa/topics/b");
  EXPECT_EQ(range->count, 2);

  // Reading at the revision of the first put sees the binary value.
  auto old = await<RangeResult>(
      io_, [&](auto cb) { client_->get_prefix("/kaffa/topics/", cb, p1->revision); });
  ASSERT_TRUE(old);
  ASSERT_EQ(old->kvs.size(), 1u);
  EXPECT_EQ(old->kvs[0].value, bin);

  PutRequest with_prev;
  with_prev.key = "/kaffa/topics/b";
  with_prev.value = "3";
  with_prev.prev_kv = true;
  auto pp = await<PutResult>(io_, [&](auto cb) { client_->put(with_prev, cb); });
  ASSERT_TRUE(pp);
  ASSERT_TRUE(pp->prev_kv.has_value());
  EXPECT_EQ(pp->prev_kv->value, "2");

  auto del = await<DeleteResult>(io_, [&](auto cb) { client_->delete_key("/kaffa/topics/a", cb); });
  ASSERT_TRUE(del);
  EXPECT_EQ(del->deleted, 1);
  auto del_prefix =
      await<DeleteResult>(io_, [&](auto cb) { client_->delete_prefix("/kaffa/topics/", cb); });
  ASSERT_TRUE(del_prefix);
  EXPECT_EQ(del_prefix->deleted, 1);
  auto left = await<RangeResult>(io_, [&](auto cb) { client_->get_prefix("/kaffa/", cb); });
  ASSERT_TRUE(left);
  ASSERT_EQ(left->kvs.size(), 1u);
  EXPECT_EQ(left->kvs[0].key, "/kaffa/topicsX");
}

TEST_F(EtcdKv, CompareAndSwapOnVersion) {
  // Version 0: create only.
  auto created = await<TxnResult>(
      io_, [&](auto cb) { client_->put_if_version("/p/0", "leader=1 epoch=1", 0, cb); });
  ASSERT_TRUE(created) << created.error().describe();
  EXPECT_TRUE(created->succeeded);
  auto again = await<TxnResult>(
      io_, [&](auto cb) { client_->put_if_version("/p/0", "leader=2 epoch=1", 0, cb); });
  ASSERT_TRUE(again);
  EXPECT_FALSE(again->succeeded);
  // The failure carries the current state, for a retry without another read.
  ASSERT_EQ(again->responses.size(), 1u);
  const auto& current = std::get<RangeResult>(again->responses[0]);
  ASSERT_EQ(current.kvs.size(), 1u);
  EXPECT_EQ(current.kvs[0].value, "leader=1 epoch=1");
  EXPECT_EQ(current.kvs[0].version, 1);

  auto swap = await<TxnResult>(
      io_, [&](auto cb) { client_->put_if_version("/p/0", "leader=2 epoch=2", 1, cb); });
  ASSERT_TRUE(swap);
  EXPECT_TRUE(swap->succeeded);
  // A stale writer (still at version 1) loses.
  auto stale = await<TxnResult>(
      io_, [&](auto cb) { client_->put_if_version("/p/0", "leader=3 epoch=2", 1, cb); });
  ASSERT_TRUE(stale);
  EXPECT_FALSE(stale->succeeded);
  auto now = get("/p/0");
  ASSERT_TRUE(now && now->has_value());
  EXPECT_EQ((*now)->value, "leader=2 epoch=2");

  auto by_mod = await<TxnResult>(io_, [&](auto cb) {
    client_->put_if_mod_revision("/p/0", "leader=3 epoch=3", (*now)->mod_revision, cb);
  });
  ASSERT_TRUE(by_mod);
  EXPECT_TRUE(by_mod->succeeded);
  auto del_stale =
      await<TxnResult>(io_, [&](auto cb) { client_->delete_if_version("/p/0", 2, cb); });
  ASSERT_TRUE(del_stale);
  EXPECT_FALSE(del_stale->succeeded);
  auto del = await<TxnResult>(io_, [&](auto cb) { client_->delete_if_version("/p/0", 3, cb); });
  ASSERT_TRUE(del);
  EXPECT_TRUE(del->succeeded);
  auto gone = get("/p/0");
  ASSERT_TRUE(gone);
  EXPECT_FALSE(gone->has_value());
}

TEST_F(EtcdKv, TxnWithSeveralComparesAndBranches) {
  ASSERT_TRUE(put("/t/a", "x"));
  ASSERT_TRUE(put("/t/b", "y"));
  TxnRequest t;
  t.compare.push_back(Compare::value_is("/t/a", Compare::Op::equal, "x"));
  t.compare.push_back(Compare::version("/t/b", Compare::Op::greater, 0));
  t.compare.push_back(Compare::create_revision("/t/c", Compare::Op::equal, 0));
  PutRequest pc;
  pc.key = "/t/c";
  pc.value = "z";
  t.success.emplace_back(pc);
  DeleteRequest da;
  da.key = "/t/a";
  da.prev_kv = true;
  t.success.emplace_back(da);
  t.success.emplace_back(RangeRequest::prefix("/t/"));
  t.failure.emplace_back(RangeRequest::single("/t/a"));
  auto r = await<TxnResult>(io_, [&](auto cb) { client_->txn(t, cb); });
  ASSERT_TRUE(r) << r.error().describe();
  ASSERT_TRUE(r->succeeded);
  ASSERT_EQ(r->responses.size(), 3u);
  EXPECT_TRUE(std::holds_alternative<PutResult>(r->responses[0]));
  const auto& d = std::get<DeleteResult>(r->responses[1]);
  EXPECT_EQ(d.deleted, 1);
  ASSERT_EQ(d.prev_kvs.size(), 1u);
  EXPECT_EQ(d.prev_kvs[0].value, "x");
  const auto& listed = std::get<RangeResult>(r->responses[2]);
  ASSERT_EQ(listed.kvs.size(), 2u);
  EXPECT_EQ(listed.kvs[0].key, "/t/b");
  EXPECT_EQ(listed.kvs[1].key, "/t/c");

  // Same txn again: /t/a is gone, so the failure branch runs.
  auto r2 = await<TxnResult>(io_, [&](auto cb) { client_->txn(t, cb); });
  ASSERT_TRUE(r2);
  EXPECT_FALSE(r2->succeeded);
  ASSERT_EQ(r2->responses.size(), 1u);
  EXPECT_TRUE(std::get<RangeResult>(r2->responses[0]).kvs.empty());
}

TEST_F(EtcdKv, EtcdErrorsAreValues) {
  // A put under a lease that does not exist: etcd's NOT_FOUND (gRPC code 5).
  auto r = await<PutResult>(io_, [&](auto cb) { client_->put("/k", "v", cb, 0x1234); });
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, Error::Code::etcd);
  EXPECT_EQ(r.error().grpc_code, 5);
  EXPECT_NE(r.error().message.find("lease not found"), std::string::npos) << r.error().message;
  // Later requests on the same client still work (the connection went back to the pool).
  EXPECT_TRUE(put("/k", "v"));
}

TEST_F(EtcdKv, ReadsAtCompactedOrFutureRevisionsAreOutOfRange) {
  auto first = put("/r", "1");
  ASSERT_TRUE(first);
  auto last = put("/r", "2");
  ASSERT_TRUE(last);
  ASSERT_TRUE(await<Done>(io_, [&](auto cb) { client_->compact(last->revision, cb); }));
  for (const int64_t rev : {first->revision, last->revision + 100}) {
    auto r = await<RangeResult>(io_, [&](auto cb) { client_->get_prefix("/r", cb, rev); });
    ASSERT_FALSE(r);
    EXPECT_EQ(r.error().code, Error::Code::etcd);
    EXPECT_EQ(r.error().grpc_code, 11) << r.error().message;
  }
  auto ok =
      await<RangeResult>(io_, [&](auto cb) { client_->get_prefix("/r", cb, last->revision); });
  ASSERT_TRUE(ok) << ok.error().describe();
  EXPECT_EQ(ok->kvs.at(0).value, "2");
}

TEST_F(EtcdKv, ManyConcurrentRequestsAllComplete) {
  int done = 0;
  for (int i = 0; i < 50; ++i) {
    client_->put("/c/" + std::to_string(i), std::to_string(i), [&](Result<PutResult> r) {
      EXPECT_TRUE(r) << r.error().describe();
      ++done;
    });
  }
  ASSERT_TRUE(testing::run_until(io_, [&] { return done == 50; }));
  auto all = await<RangeResult>(io_, [&](auto cb) { client_->get_prefix("/c/", cb); });
  ASSERT_TRUE(all);
  EXPECT_EQ(all->kvs.size(), 50u);
}

TEST_F(EtcdKv, FailsOverToTheNextEndpoint) {
  // The first endpoint is a port nobody listens on.
  const Endpoint dead{"127.0.0.1", testing::free_port()};
  auto client = testing::make_client(io_, {dead, etcd_->endpoint()});
  auto r = await<PutResult>(io_, [&](auto cb) { client->put("/f", "1", cb); });
  ASSERT_TRUE(r) << r.error().describe();
  EXPECT_EQ(client->current_endpoint().port, etcd_->client_port());
  auto g = await<std::optional<KeyValue>>(io_, [&](auto cb) { client->get("/f", cb); });
  ASSERT_TRUE(g && g->has_value());
  client->close();

  // With every endpoint down the answer is `unavailable`, not a hang.
  etcd_->kill9();
  auto none = testing::make_client(io_, {dead, etcd_->endpoint()});
  auto e = await<PutResult>(io_, [&](auto cb) { none->put("/f", "2", cb); });
  ASSERT_FALSE(e);
  EXPECT_EQ(e.error().code, Error::Code::unavailable) << e.error().describe();
  none->close();
}

TEST_F(EtcdKv, CloseCancelsPendingAndLaterCalls) {
  std::optional<Result<PutResult>> pending;
  client_->put("/x", "1", [&](Result<PutResult> r) { pending.emplace(std::move(r)); });
  client_->close();
  ASSERT_TRUE(testing::run_until(io_, [&] { return pending.has_value(); }));
  EXPECT_EQ(pending->error().code, Error::Code::cancelled);
  auto later = put("/x", "2");
  ASSERT_FALSE(later);
  EXPECT_EQ(later.error().code, Error::Code::cancelled);
}

TEST(EtcdEndpoints, NoEndpointsFailsEveryRequest) {
  asio::io_context io;
  auto client = testing::make_client(io, {});
  bool called_inside = true;
  std::optional<Result<PutResult>> r;
  client->put("/k", "v", [&](Result<PutResult> res) { r.emplace(std::move(res)); });
  called_inside = r.has_value();
  ASSERT_TRUE(testing::run_until(io, [&] { return r.has_value(); }));
  EXPECT_FALSE(called_inside);
  EXPECT_EQ(r->error().code, Error::Code::unavailable);
}

TEST(EtcdEndpoints, ParsesTheMetadataStoreForm) {
  auto e = parse_endpoints("etcd://h1:2379,10.0.0.2:2380,[::1]:2381");
  ASSERT_TRUE(e);
  ASSERT_EQ(e->size(), 3u);
  EXPECT_EQ((*e)[0].host, "h1");
  EXPECT_EQ((*e)[0].port, 2379);
  EXPECT_EQ((*e)[1].host, "10.0.0.2");
  EXPECT_EQ((*e)[2].host, "::1");
  EXPECT_EQ((*e)[2].port, 2381);
  EXPECT_FALSE(parse_endpoints(""));
  EXPECT_FALSE(parse_endpoints("h1"));
  EXPECT_FALSE(parse_endpoints("h1:0"));
  EXPECT_FALSE(parse_endpoints("h1:99999"));
  EXPECT_FALSE(parse_endpoints("h1:2379,"));
  EXPECT_FALSE(parse_endpoints(":2379"));
}

}  // namespace
}  // namespace kaffa::etcd
