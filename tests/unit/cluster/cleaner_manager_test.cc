// The log cleaner threads over real partitions: compacted partitions get cleaned and
// checkpointed, a failing partition is counted, backed off and retried without stopping the
// others, non-compacted topics are left alone, stop() wakes threads in their backoff (a hang
// fails by the test's timeout, no clock is read); reconfigure() restarts the
// threads with new settings (before start() it sets what start() uses, after stop() nothing).
#include "cluster/cleaner_manager.h"

#include <gtest/gtest.h>

#include <fstream>
#include <sstream>
#include <thread>

#include "cluster/partition_manager.h"
#include "eventually_testing.h"
#include "record/builder.h"
#include "storage_dir.h"

namespace kaffa::cluster {
namespace {

void append_updates(Partition& p, int batches) {
  for (int i = 0; i < batches; ++i) {
    std::vector<record::BuildRecord> recs;
    for (int k = 0; k < 2; ++k) {
      recs.push_back({"key-" + std::to_string(k), std::string(150, 'a' + i % 26), {}, 1000});
    }
    std::string b = record::build_batch(recs, record::Compression::none);
    ASSERT_EQ(p.append(reinterpret_cast<uint8_t*>(b.data()), b.size(), 1000).error,
              protocol::ErrorCode::none);
  }
}

TopicInfo topic(std::string name, std::string policy) {
  TopicInfo t;
  t.name = std::move(name);
  t.partitions = 1;
  t.configs["segment.bytes"] = "1024";
  t.configs["cleanup.policy"] = std::move(policy);
  return t;
}

using kaffa::testing::eventually;

TEST(CleanerManager, CleansCompactedPartitionsAndIsolatesAFailingOne) {
  testing::TempDir dir;
  storage::Flusher flusher;
  // Posts run inline on the cleaner thread: the test thread does not touch the partitions while
  // the cleaner runs (it only reads atomics).
  const Post inline_post = [](size_t, std::function<void()> fn) { fn(); };
  PartitionManager pm({dir.path()}, 1, LogDefaults{}, flusher, inline_post);
  ASSERT_TRUE(
      pm.load({topic("good", "compact"), topic("bad", "compact,delete"), topic("plain", "delete")},
              nullptr));
  for (const char* name : {"good", "bad", "plain"}) append_updates(*pm.get(name, 0), 30);
  const int64_t good_size = pm.get("good", 0)->size_snapshot();
  const int64_t plain_size = pm.get("plain", 0)->size_snapshot();
  {  // A flipped byte inside the first batch's records: its CRC no longer matches.
    std::fstream f(dir.path() / "bad-0" / "00000000000000000000.log",
                   std::ios::in | std::ios::out | std::ios::binary);
    f.seekp(80);
    f.put('\x7f');
  }
  CleanerManager cleaner(dir.path(), CleanerConfig{true, 1, 50, 1 << 20}, pm, inline_post);
  cleaner.start();
  const auto& st = cleaner.stats();
  EXPECT_TRUE(eventually([&] { return st.runs.load() >= 1 && st.failures.load() >= 2; }))
      << "runs " << st.runs.load() << " failures " << st.failures.load();
  cleaner.stop();
  EXPECT_GE(st.uncleanable.load(), 1);
  EXPECT_LT(pm.get("good", 0)->size_snapshot(), good_size / 4);
  EXPECT_EQ(pm.get("plain", 0)->size_snapshot(), plain_size);
  EXPECT_GT(cleaner.checkpoint("good", 0), 0);
  EXPECT_EQ(cleaner.checkpoint("bad", 0), -1);
  EXPECT_EQ(cleaner.checkpoint("plain", 0), -1);
  std::ifstream in(dir.path() / "cleaner-offset-checkpoint");
  std::stringstream text;
  text << in.rdbuf();
  EXPECT_EQ(text.str(), "0\n1\ngood 0 " + std::to_string(cleaner.checkpoint("good", 0)) + "\n");
  // A new manager reads the checkpoint back.
  CleanerManager again(dir.path(), CleanerConfig{false, 1, 50, 1 << 20}, pm, inline_post);
  EXPECT_EQ(again.checkpoint("good", 0), cleaner.checkpoint("good", 0));
  // A deleted topic's entry goes from the file.
  again.forget_topic("good");
  EXPECT_EQ(again.checkpoint("good", 0), -1);
  std::ifstream after(dir.path() / "cleaner-offset-checkpoint");
  std::stringstream empty;
  empty << after.rdbuf();
  EXPECT_EQ(empty.str(), "0\n0\n");
  pm.shutdown();
}

// One compacted partition of 30 batches over two keys; posts run inline.
struct OneCompactedTopic {
  testing::TempDir dir;
  storage::Flusher flusher;
  const Post inline_post = [](size_t, std::function<void()> fn) { fn(); };
  PartitionManager pm{{dir.path()}, 1, LogDefaults{}, flusher, inline_post};
  OneCompactedTopic() {
    EXPECT_TRUE(pm.load({topic("good", "compact")}, nullptr));
    append_updates(*pm.get("good", 0), 30);
  }
  ~OneCompactedTopic() { pm.shutdown(); }
};

TEST(CleanerManager, StopWakesAThreadInItsBackoff) {
  OneCompactedTopic t;
  PartitionManager& pm = t.pm;
  CleanerManager cleaner(t.dir.path(), CleanerConfig{true, 1, 3'600'000, 1 << 20}, pm,
                         t.inline_post);
  cleaner.start();
  const auto& st = cleaner.stats();
  // After its pass the thread finds nothing to clean and backs off for an hour.
  EXPECT_TRUE(eventually([&] { return st.runs.load() >= 1; }));
  cleaner.stop();
  EXPECT_EQ(st.threads.load(), 0);
}

TEST(CleanerManager, ReconfigureRestartsTheThreads) {
  OneCompactedTopic t;
  PartitionManager& pm = t.pm;
  const int64_t size = pm.get("good", 0)->size_snapshot();
  CleanerManager cleaner(t.dir.path(), CleanerConfig{true, 1, 50, 1 << 20}, pm, t.inline_post);
  const auto& st = cleaner.stats();
  cleaner.reconfigure(CleanerConfig{true, 3, 50, 1 << 20});  // not started: taken at start
  EXPECT_EQ(st.threads.load(), 0);
  cleaner.start();
  EXPECT_EQ(st.threads.load(), 3);
  // Retired at once, whatever they are doing; the new ones clean the partition.
  cleaner.reconfigure(CleanerConfig{true, 2, 60, 1 << 19});
  EXPECT_EQ(st.threads.load(), 2);
  EXPECT_TRUE(eventually([&] { return st.runs.load() >= 1; }));
  EXPECT_LT(pm.get("good", 0)->size_snapshot(), size / 4);
  cleaner.reconfigure(CleanerConfig{true, 2, 60, 1 << 19, 1e6});  // the I/O bound alone
  EXPECT_EQ(st.threads.load(), 2);
  cleaner.stop();
  EXPECT_EQ(st.threads.load(), 0);
  cleaner.reconfigure(CleanerConfig{true, 1, 50, 1 << 20});
  EXPECT_EQ(st.threads.load(), 0);
  EXPECT_EQ(st.failures.load(), 0);
}

}  // namespace
}  // namespace kaffa::cluster
