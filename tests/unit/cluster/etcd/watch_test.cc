// Watches against a real etcd: events in order, resuming across an etcd kill -9 and restart
// without losing or repeating events, compaction reported.
#include "cluster/etcd/watch.h"

#include <gtest/gtest.h>

#include "cluster/etcd/etcd_testing.h"

namespace kaffa::etcd {
namespace {

using testing::await;
using testing::EtcdProcess;

struct Seen {
  WatchEvent::Type type;
  std::string key;
  std::string value;
  int64_t revision;
};

class EtcdWatch : public testing::SingleEtcdTest {
 protected:
  EtcdWatch() : SingleEtcdTest(std::chrono::seconds(2)) {}
  void TearDown() override {
    if (watch_) watch_->cancel();
    SingleEtcdTest::TearDown();
  }

  int64_t put(const std::string& k, const std::string& v) {
    auto r = await<PutResult>(io_, [&](auto cb) { client_->put(k, v, cb); });
    EXPECT_TRUE(r) << r.error().describe();
    return r ? r->revision : 0;
  }
  int64_t del(const std::string& k) {
    auto r = await<DeleteResult>(io_, [&](auto cb) { client_->delete_key(k, cb); });
    EXPECT_TRUE(r) << r.error().describe();
    return r ? r->revision : 0;
  }
  void watch_prefix(const std::string& prefix, int64_t from) {
    watch_ = Watch::start(
        client_, WatchOptions::prefix(prefix, from),
        [this](const WatchBatch& b) {
          for (const auto& e : b.events) {
            seen_.push_back({e.type, e.kv.key, e.kv.value, e.kv.mod_revision});
          }
        },
        [this](const Error& e) { ended_ = e; });
  }

  std::shared_ptr<Watch> watch_;
  std::vector<Seen> seen_;
  std::optional<Error> ended_;
};

TEST_F(EtcdWatch, SeesPutsAndDeletesInOrder) {
  const int64_t before = put("/other", "x");
  watch_prefix("/topics/", before + 1);
  const int64_t r1 = put("/topics/a", "1");
  const int64_t r2 = put("/topics/b", "2");
  put("/other", "y");  // outside the prefix
  const int64_t r3 = del("/topics/a");
  const int64_t r4 = put("/topics/b", "3");
  ASSERT_TRUE(testing::run_until(io_, [&] { return seen_.size() >= 4; }));
  ASSERT_EQ(seen_.size(), 4u);
  EXPECT_EQ(seen_[0].type, WatchEvent::Type::put);
  EXPECT_EQ(seen_[0].key, "/topics/a");
  EXPECT_EQ(seen_[0].value, "1");
  EXPECT_EQ(seen_[0].revision, r1);
  EXPECT_EQ(seen_[1].key, "/topics/b");
  EXPECT_EQ(seen_[1].revision, r2);
  EXPECT_EQ(seen_[2].type, WatchEvent::Type::del);
  EXPECT_EQ(seen_[2].key, "/topics/a");
  EXPECT_EQ(seen_[2].revision, r3);
  EXPECT_EQ(seen_[3].type, WatchEvent::Type::put);
  EXPECT_EQ(seen_[3].value, "3");
  EXPECT_EQ(seen_[3].revision, r4);
  EXPECT_EQ(watch_->next_revision(), r4 + 1);
  EXPECT_FALSE(ended_);
}

TEST_F(EtcdWatch, FromNowDeliversOnlyLaterChanges) {
  put("/topics/old", "0");
  watch_ = Watch::start(client_, WatchOptions::prefix("/topics/", 0),
                        [this](const WatchBatch& b) {
                          for (const auto& e : b.events)
                            seen_.push_back({e.type, e.kv.key, e.kv.value, 0});
                        },
                        {});
  ASSERT_TRUE(testing::run_until(io_, [&] { return watch_->connected(); }));
  put("/topics/new", "1");
  ASSERT_TRUE(testing::run_until(io_, [&] { return !seen_.empty(); }));
  ASSERT_EQ(seen_.size(), 1u);
  EXPECT_EQ(seen_[0].key, "/topics/new");
}

TEST_F(EtcdWatch, ResumesAfterEtcdIsKilledAndRestarted) {
  const int64_t start = put("/x", "0") + 1;
  watch_prefix("/p/", start);
  put("/p/1", "a");
  ASSERT_TRUE(testing::run_until(io_, [&] { return seen_.size() == 1; }));

  etcd_->kill9();
  // The stream breaks; the watch keeps trying (connection refused) meanwhile.
  ASSERT_TRUE(testing::run_until(io_, [&] { return !watch_->connected(); }));
  std::string err;
  ASSERT_TRUE(etcd_->start(&err)) << err;
  put("/p/2", "b");
  del("/p/1");
  ASSERT_TRUE(testing::run_until(io_, [&] { return seen_.size() >= 3; }));
  // A little more of the loop: a repeated event would arrive now.
  put("/p/3", "c");
  ASSERT_TRUE(testing::run_until(io_, [&] { return seen_.size() >= 4; }));
  ASSERT_EQ(seen_.size(), 4u);
  EXPECT_EQ(seen_[0].key, "/p/1");
  EXPECT_EQ(seen_[1].key, "/p/2");
  EXPECT_EQ(seen_[1].value, "b");
  EXPECT_EQ(seen_[2].type, WatchEvent::Type::del);
  EXPECT_EQ(seen_[3].key, "/p/3");
  for (size_t i = 1; i < seen_.size(); ++i) EXPECT_GT(seen_[i].revision, seen_[i - 1].revision);
  EXPECT_FALSE(ended_);
}

TEST_F(EtcdWatch, ChangesWhileDisconnectedAreDeliveredOnResume) {
  // A second client writes while the watch's stream is down; the watch resumes from its last
  // revision + 1 and gets them all.
  const int64_t start = put("/x", "0") + 1;
  watch_prefix("/q/", start);
  put("/q/1", "a");
  ASSERT_TRUE(testing::run_until(io_, [&] { return seen_.size() == 1; }));
  etcd_->kill9();
  std::string err;
  ASSERT_TRUE(etcd_->start(&err)) << err;
  for (int i = 2; i <= 5; ++i) put("/q/" + std::to_string(i), "v");
  ASSERT_TRUE(testing::run_until(io_, [&] { return seen_.size() >= 5; }));
  ASSERT_EQ(seen_.size(), 5u);
  for (int i = 0; i < 5; ++i) EXPECT_EQ(seen_[i].key, "/q/" + std::to_string(i + 1));
}

TEST_F(EtcdWatch, AQuietWatchAdvancesItsResumePointThroughProgressRequests) {
  const int64_t start = put("/x", "0") + 1;
  WatchOptions o = WatchOptions::prefix("/quiet/", start);
  o.heartbeat = std::chrono::milliseconds(200);
  watch_ = Watch::start(
      client_, o, [this](const WatchBatch& b) { seen_.resize(seen_.size() + b.events.size()); },
      [this](const Error& e) { ended_ = e; });
  const int64_t elsewhere = put("/loud/1", "x");
  ASSERT_TRUE(testing::run_until(io_, [&] { return watch_->next_revision() == elsewhere + 1; }));
  // Compacting up to there does not hurt the watch when it reconnects.
  ASSERT_TRUE(await<Done>(io_, [&](auto cb) { client_->compact(elsewhere, cb); }));
  etcd_->kill9();
  std::string err;
  ASSERT_TRUE(etcd_->start(&err)) << err;
  const int64_t r = put("/quiet/1", "y");
  ASSERT_TRUE(testing::run_until(io_, [&] { return seen_.size() == 1 || ended_.has_value(); }));
  EXPECT_FALSE(ended_) << ended_->describe();
  EXPECT_EQ(watch_->next_revision(), r + 1);
}

TEST_F(EtcdWatch, CompactedStartRevisionEndsTheWatch) {
  const int64_t first = put("/c/1", "a");
  put("/c/1", "b");
  const int64_t last = put("/c/1", "c");
  ASSERT_TRUE(await<Done>(io_, [&](auto cb) { client_->compact(last, cb); }));
  watch_prefix("/c/", first);
  ASSERT_TRUE(testing::run_until(io_, [&] { return ended_.has_value(); }));
  EXPECT_EQ(ended_->code, Error::Code::compacted);
  EXPECT_EQ(ended_->compact_revision, last);
  EXPECT_TRUE(seen_.empty());
  // Watching from the compaction revision works.
  ended_.reset();
  watch_prefix("/c/", last);
  ASSERT_TRUE(testing::run_until(io_, [&] { return seen_.size() == 1; }));
  EXPECT_EQ(seen_[0].value, "c");
  EXPECT_FALSE(ended_);
}

TEST_F(EtcdWatch, ClosingTheClientEndsTheWatch) {
  watch_prefix("/z/", 0);
  ASSERT_TRUE(testing::run_until(io_, [&] { return watch_->connected(); }));
  client_->close();
  ASSERT_TRUE(testing::run_until(io_, [&] { return ended_.has_value(); }));
  EXPECT_EQ(ended_->code, Error::Code::cancelled);
}

TEST_F(EtcdWatch, ClosingTheClientWhileReconnectingEndsTheWatch) {
  watch_prefix("/z/", 0);
  ASSERT_TRUE(testing::run_until(io_, [&] { return watch_->connected(); }));
  etcd_->kill9();  // the watch goes back to reconnecting through the client
  ASSERT_TRUE(testing::run_until(io_, [&] { return !watch_->connected(); }));
  client_->close();
  ASSERT_TRUE(testing::run_until(io_, [&] { return ended_.has_value(); }));
  EXPECT_EQ(ended_->code, Error::Code::cancelled);
}

}  // namespace
}  // namespace kaffa::etcd
