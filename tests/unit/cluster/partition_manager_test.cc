// PartitionManager's start-up and shutdown on several recovery threads
// (num.recovery.threads.per.data.dir): every partition of a crashed broker is opened and
// recovered, whichever thread takes it; a log that cannot be opened fails the start with its own
// error; shutdown closes every log so that the next start scans nothing.
#include "cluster/partition_manager.h"

#include <gtest/gtest.h>

#include <fstream>
#include <map>

#include "partition_testing.h"
#include "storage_dir.h"

namespace kaffa::cluster {
namespace {

namespace fs = std::filesystem;

TopicInfo topic(std::string name, int32_t partitions) {
  return topic_info(std::move(name), partitions, {{"segment.bytes", "2048"}});  // several segments
}

const std::vector<TopicInfo> kTopics = {topic("a", 9), topic("b", 5)};

// Every post runs inline: nothing here waits for a flush.
struct Manager {
  storage::Flusher flusher;
  PartitionManager pm;
  Manager(const fs::path& dir, size_t threads)
      : pm({dir}, 2, LogDefaults{}, flusher, [](size_t, std::function<void()> fn) { fn(); }) {
    pm.set_recovery_threads(threads);
  }
};

// Fills partition i of each topic with 3 + i batches of 2 records; the log ends by key.
std::map<std::pair<std::string, int32_t>, int64_t> fill(PartitionManager& pm) {
  std::map<std::pair<std::string, int32_t>, int64_t> ends;
  for (const auto& t : kTopics) {
    for (int32_t i = 0; i < t.partitions; ++i) {
      auto p = pm.get(t.name, i);
      for (int b = 0; b < 3 + i; ++b) {
        std::string data = batch(2);
        EXPECT_EQ(p->append(reinterpret_cast<uint8_t*>(data.data()), data.size(), 1000).error,
                  protocol::ErrorCode::none);
      }
      ends[{t.name, i}] = p->high_watermark_snapshot();
    }
  }
  return ends;
}

fs::path active_segment(const fs::path& dir) {
  fs::path last;
  for (const auto& e : fs::directory_iterator(dir)) {
    if (e.path().extension() == ".log" && (last.empty() || e.path() > last)) last = e.path();
  }
  return last;
}

TEST(PartitionManager, RecoversEveryPartitionOfACrashOnSeveralThreads) {
  testing::TempDir dir;
  std::map<std::pair<std::string, int32_t>, int64_t> ends;
  {
    Manager m(dir.path(), 4);
    ASSERT_TRUE(m.pm.load(kTopics, nullptr));
    ends = fill(m.pm);
  }  // no shutdown: the files are left as a crash leaves them
  // A torn write at the end of every third partition: recovery cuts it off.
  int torn = 0;
  for (const auto& t : kTopics) {
    for (int32_t i = 0; i < t.partitions; i += 3) {
      std::ofstream out(active_segment(dir.path() / (t.name + "-" + std::to_string(i))),
                        std::ios::app | std::ios::binary);
      out << std::string(40, '\x07');
      ++torn;
    }
  }
  ASSERT_GT(torn, 3);
  Manager again(dir.path(), 4);
  EXPECT_EQ(again.pm.recovery_threads(), 4u);
  std::string error;
  ASSERT_TRUE(again.pm.load(kTopics, &error)) << error;
  ASSERT_EQ(again.pm.all().size(), 14u);
  for (const auto& [key, end] : ends) {
    auto p = again.pm.get(key.first, key.second);
    ASSERT_TRUE(p) << key.first << "-" << key.second;
    EXPECT_EQ(p->high_watermark_snapshot(), end) << key.first << "-" << key.second;
  }
  // The recovered logs take appends where they ended.
  auto p = again.pm.get("a", 3);
  std::string data = batch(2);
  ASSERT_EQ(p->append(reinterpret_cast<uint8_t*>(data.data()), data.size(), 1000).error,
            protocol::ErrorCode::none);
  EXPECT_EQ(p->high_watermark_snapshot(), (ends[{"a", 3}] + 2));
  again.pm.shutdown();
}

TEST(PartitionManager, ALogThatCannotOpenFailsTheStartWithItsError) {
  testing::TempDir dir;
  {
    Manager m(dir.path(), 3);
    ASSERT_TRUE(m.pm.load(kTopics, nullptr));
    fill(m.pm);
    m.pm.shutdown();
  }
  // b-2's directory replaced by a plain file: its log cannot be opened.
  fs::remove_all(dir.path() / "b-2");
  std::ofstream(dir.path() / "b-2") << "not a directory";
  Manager again(dir.path(), 3);
  std::string error;
  EXPECT_FALSE(again.pm.load(kTopics, &error));
  EXPECT_NE(error.find("b-2"), std::string::npos) << error;
  EXPECT_TRUE(again.pm.all().empty());
}

TEST(PartitionManager, ShutdownOnSeveralThreadsLeavesNothingToRecover) {
  testing::TempDir dir;
  std::map<std::pair<std::string, int32_t>, int64_t> ends;
  {
    Manager m(dir.path(), 1);
    ASSERT_TRUE(m.pm.load(kTopics, nullptr));
    ends = fill(m.pm);
    m.pm.set_recovery_threads(3);  // dynamic: the shutdown takes the value in force
    m.pm.shutdown();
    for (const auto& [key, end] : ends) {
      EXPECT_EQ(m.pm.get(key.first, key.second)->recovery_point_snapshot(), end);
    }
  }
  Manager again(dir.path(), 2);
  ASSERT_TRUE(again.pm.load(kTopics, nullptr));
  for (const auto& [key, end] : ends) {
    auto p = again.pm.get(key.first, key.second);
    EXPECT_EQ(p->high_watermark_snapshot(), end);
    EXPECT_EQ(p->recovery_point_snapshot(), end) << "closed cleanly: nothing above to scan";
  }
  again.pm.shutdown();
}

TEST(PartitionManager, RecoveryThreadsAreAtLeastOne) {
  testing::TempDir dir;
  Manager m(dir.path(), 0);
  EXPECT_EQ(m.pm.recovery_threads(), 1u);
  ASSERT_TRUE(m.pm.load(kTopics, nullptr));
  EXPECT_EQ(m.pm.all().size(), 14u);
  m.pm.shutdown();
}

}  // namespace
}  // namespace kaffa::cluster
