// A three-member etcd cluster: the client keeps working when the member it talks to is killed
// or frozen, and a watch resumes on another member without losing or repeating events.
#include <gtest/gtest.h>

#include "cluster/etcd/etcd_testing.h"
#include "cluster/etcd/watch.h"

namespace kaffa::etcd {
namespace {

using testing::await;
using testing::EtcdProcess;

// The values of `seen` with consecutive repeats folded into one. A put retried after an
// ambiguous failure ("request timed out" while a leader is elected) may be applied twice: two
// events with distinct revisions, which is not a repeated delivery.
std::vector<std::string> folded(const std::vector<std::pair<std::string, int64_t>>& seen) {
  std::vector<std::string> out;
  for (const auto& [value, rev] : seen) {
    if (out.empty() || out.back() != value) out.push_back(value);
  }
  return out;
}

// Every event delivered once: revisions strictly increase.
// A watch on /w/ from `start` that appends each event's (value, mod revision) to `seen`.
std::shared_ptr<Watch> watch_values(const std::shared_ptr<Client>& client, int64_t start,
                                    std::vector<std::pair<std::string, int64_t>>& seen) {
  return Watch::start(client, WatchOptions::prefix("/w/", start),
                      [&seen](const WatchBatch& b) {
                        for (const auto& e : b.events)
                          seen.emplace_back(e.kv.value, e.kv.mod_revision);
                      },
                      {});
}

void expect_increasing(const std::vector<std::pair<std::string, int64_t>>& seen) {
  for (size_t i = 1; i < seen.size(); ++i) EXPECT_LT(seen[i - 1].second, seen[i].second);
}

class EtcdCluster : public ::testing::Test {
 protected:
  void SetUp() override {
    KAFFA_REQUIRE_ETCD();
    std::string err;
    ASSERT_TRUE(testing::start_cluster(members_, 3, &err)) << err;
    std::vector<Endpoint> endpoints;
    for (auto& m : members_) endpoints.push_back(m->endpoint());
    client_ = testing::make_client(io_, endpoints, std::chrono::milliseconds(1500));
  }
  void TearDown() override {
    if (client_) client_->close();
  }

  // Retries a put until it succeeds (an election may be under way): the condition is awaited
  // with a deadline, each attempt being a real request.
  int64_t put_eventually(const std::string& k, const std::string& v) {
    const auto until = std::chrono::steady_clock::now() + std::chrono::seconds(30);
    while (std::chrono::steady_clock::now() < until) {
      auto r = await<PutResult>(io_, [&](auto cb) { client_->put(k, v, cb); });
      if (r) return r->revision;
    }
    ADD_FAILURE() << "no put succeeded within 30 s";
    return 0;
  }

  asio::io_context io_;
  std::vector<std::unique_ptr<EtcdProcess>> members_;
  std::shared_ptr<Client> client_;
};

TEST_F(EtcdCluster, KeepsWorkingWhenTheCurrentMemberIsKilled) {
  ASSERT_GT(put_eventually("/k", "1"), 0);
  ASSERT_EQ(client_->current_endpoint().port, members_[0]->client_port());
  members_[0]->kill9();
  ASSERT_GT(put_eventually("/k", "2"), 0);
  EXPECT_NE(client_->current_endpoint().port, members_[0]->client_port());
  auto g = await<std::optional<KeyValue>>(io_, [&](auto cb) { client_->get("/k", cb); });
  ASSERT_TRUE(g) << g.error().describe();
  ASSERT_TRUE(g->has_value());
  EXPECT_EQ((*g)->value, "2");
}

TEST_F(EtcdCluster, AFrozenMemberIsSkippedAfterATimeout) {
  ASSERT_GT(put_eventually("/k", "1"), 0);
  members_[0]->freeze();
  // The first request waits for the silent member until its deadline ...
  auto r = await<std::optional<KeyValue>>(io_, [&](auto cb) { client_->get("/k", cb); });
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, Error::Code::timeout);
  // ... and later ones go elsewhere.
  EXPECT_NE(client_->current_endpoint().port, members_[0]->client_port());
  ASSERT_GT(put_eventually("/k", "2"), 0);
  auto g = await<std::optional<KeyValue>>(io_, [&](auto cb) { client_->get("/k", cb); });
  ASSERT_TRUE(g) << g.error().describe();
  ASSERT_TRUE(g->has_value());
  EXPECT_EQ((*g)->value, "2");
  members_[0]->thaw();
}

TEST_F(EtcdCluster, WatchMovesToAnotherMemberWithoutLosingEvents) {
  const int64_t start = put_eventually("/x", "0") + 1;
  std::vector<std::pair<std::string, int64_t>> seen;
  auto watch = watch_values(client_, start, seen);
  put_eventually("/w/a", "1");
  ASSERT_TRUE(testing::run_until(io_, [&] { return seen.size() == 1; }));
  members_[0]->kill9();  // the member the watch's stream is on
  put_eventually("/w/a", "2");
  put_eventually("/w/b", "3");
  ASSERT_TRUE(testing::run_until(
      io_, [&] { return !seen.empty() && seen.back().first == "3"; }, std::chrono::seconds(30)));
  EXPECT_EQ(folded(seen), (std::vector<std::string>{"1", "2", "3"}));
  expect_increasing(seen);
  watch->cancel();
}

TEST_F(EtcdCluster, AWatchOnAFrozenMemberMovesToAnotherOne) {
  const int64_t start = put_eventually("/x", "0") + 1;
  std::vector<std::pair<std::string, int64_t>> seen;
  auto watch = watch_values(client_, start, seen);
  put_eventually("/w/a", "1");
  ASSERT_TRUE(testing::run_until(io_, [&] { return seen.size() == 1; }));
  // The stream's member stops answering but keeps its connections open: only the heartbeat
  // can notice.
  members_[0]->freeze();
  put_eventually("/w/a", "2");
  ASSERT_TRUE(testing::run_until(
      io_, [&] { return !seen.empty() && seen.back().first == "2"; }, std::chrono::seconds(30)));
  EXPECT_EQ(folded(seen), (std::vector<std::string>{"1", "2"}));
  expect_increasing(seen);
  watch->cancel();
  members_[0]->thaw();
}

TEST_F(EtcdCluster, AWatchLeavesAMemberThatLostItsLeader) {
  const int64_t start = put_eventually("/x", "0") + 1;
  auto watch =
      Watch::start(client_, WatchOptions::prefix("/w/", start), [](const WatchBatch&) {}, {});
  ASSERT_TRUE(testing::run_until(io_, [&] { return watch->connected(); }));
  // Member 0 (the watch's) stays up but alone: no quorum, no leader. It still answers
  // heartbeats from its own store; only etcd's require-leader check ends the stream.
  members_[1]->kill9();
  members_[2]->kill9();
  ASSERT_TRUE(testing::run_until(
      io_, [&] { return !watch->connected(); }, std::chrono::seconds(30)));
  watch->cancel();
}

}  // namespace
}  // namespace kaffa::etcd
