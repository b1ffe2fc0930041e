// PartitionManager over several log directories (log.dirs, Kafka's JBOD): new logs go to the
// directory holding the fewest, each log is found again where it is whatever the order of the
// directories, each directory's checkpoints name only its own logs, a log in two directories fails
// the start, a deleted log's place is free again, and a directory that fails (by request, an
// append that cannot roll, a checkpoint that cannot be written) goes offline with its logs alone.
#include <gtest/gtest.h>

#include <algorithm>
#include <fstream>
#include <map>

#include "cluster/partition_manager.h"
#include "partition_testing.h"
#include "storage/checkpoint_file.h"
#include "storage_dir.h"

namespace kaffa::cluster {
namespace {

namespace fs = std::filesystem;

// Every post runs inline: nothing here waits for a flush.
struct Manager {
  storage::Flusher flusher;
  PartitionManager pm;
  explicit Manager(std::vector<fs::path> dirs)
      : pm(std::move(dirs), 2, LogDefaults{}, flusher,
           [](size_t, std::function<void()> fn) { fn(); }) {}
};

// How many of the topic's partition directories each of `dirs` holds; each exactly once.
std::vector<int> spread(const std::vector<fs::path>& dirs, const TopicInfo& t) {
  std::vector<int> counts(dirs.size(), 0);
  for (int32_t i = 0; i < t.partitions; ++i) {
    int found = 0;
    for (size_t d = 0; d < dirs.size(); ++d) {
      if (fs::exists(dirs[d] / (t.name + "-" + std::to_string(i)))) {
        ++counts[d];
        ++found;
      }
    }
    EXPECT_EQ(found, 1) << t.name << "-" << i;
  }
  return counts;
}

std::vector<fs::path> three_dirs(const testing::TempDir& root) {
  return {root.path() / "d0", root.path() / "d1", root.path() / "d2"};
}

void append(PartitionManager& pm, const std::string& name, int32_t index, int records) {
  std::string data = batch(records);
  ASSERT_EQ(
      pm.get(name, index)->append(reinterpret_cast<uint8_t*>(data.data()), data.size(), 1000).error,
      protocol::ErrorCode::none);
}

TEST(PartitionManagerDirs, NewLogsGoWhereTheFewestAreAndAreFoundAgainInAnyOrder) {
  testing::TempDir root;
  const auto dirs = three_dirs(root);
  const TopicInfo a = topic_info("a", 7), b = topic_info("b", 2);
  {
    Manager m(dirs);
    m.pm.set_recovery_threads(2);
    EXPECT_EQ(m.pm.opening_threads(), 6u);  // Kafka's threads per data dir
    ASSERT_TRUE(m.pm.load({}, nullptr));
    ASSERT_TRUE(m.pm.add_topic(a, nullptr));
    EXPECT_EQ(spread(dirs, a), (std::vector<int>{3, 2, 2}));  // the first on a tie
    ASSERT_TRUE(m.pm.add_topic(b, nullptr));
    EXPECT_EQ(spread(dirs, b), (std::vector<int>{0, 1, 1}));  // now 3, 3, 3
    for (int32_t i = 0; i < 7; ++i) append(m.pm, "a", i, 1 + i);
    m.pm.shutdown();
  }
  // Each directory's checkpoint names exactly the logs it holds.
  for (const auto& dir : dirs) {
    std::string error;
    auto offsets =
        storage::OffsetCheckpointFile(dir / "recovery-point-offset-checkpoint").read(&error);
    ASSERT_TRUE(offsets) << dir << ": " << error;
    EXPECT_EQ(offsets->size(), 3u) << dir;
    for (const auto& [key, offset] : *offsets) {
      EXPECT_TRUE(fs::exists(dir / (key.first + "-" + std::to_string(key.second))));
      EXPECT_EQ(offset, key.first == "a" ? 1 + key.second : 0);
    }
  }
  // Listed in another order, the directories still hold the same logs, with their records.
  Manager again({dirs[2], dirs[0], dirs[1]});
  std::string error;
  ASSERT_TRUE(again.pm.load({a, b}, &error)) << error;
  ASSERT_EQ(again.pm.all().size(), 9u);
  EXPECT_EQ(spread(dirs, a), (std::vector<int>{3, 2, 2}));
  for (const auto& [d, p] : again.pm.all_by_dir()) {
    EXPECT_EQ(p->dir().parent_path(), again.pm.log_dirs()[d]);
    EXPECT_EQ(p->recovery_point_snapshot(), p->high_watermark_snapshot()) << "nothing to scan";
    const int64_t records = p->topic() == "a" ? 1 + p->index() : 0;
    EXPECT_EQ(p->high_watermark_snapshot(), records) << p->topic() << "-" << p->index();
  }
  again.pm.shutdown();
}

TEST(PartitionManagerDirs, ANewDirectoryTakesTheNewLogsUntilItHoldsAsMany) {
  testing::TempDir root;
  const auto dirs = three_dirs(root);
  {
    Manager m({dirs[0]});
    ASSERT_TRUE(m.pm.load({}, nullptr));
    ASSERT_TRUE(m.pm.add_topic(topic_info("old", 4), nullptr));
    m.pm.shutdown();
  }
  Manager m({dirs[0], dirs[1]});  // a disk added to log.dirs
  ASSERT_TRUE(m.pm.load({topic_info("old", 4)}, nullptr));
  ASSERT_TRUE(m.pm.add_topic(topic_info("new", 6), nullptr));
  EXPECT_EQ(spread({dirs[0], dirs[1]}, topic_info("new", 6)), (std::vector<int>{1, 5}));
  m.pm.shutdown();
}

TEST(PartitionManagerDirs, ALogInTwoDirectoriesFailsTheStart) {
  testing::TempDir root;
  const auto dirs = three_dirs(root);
  {
    Manager m(dirs);
    ASSERT_TRUE(m.pm.load({}, nullptr));
    ASSERT_TRUE(m.pm.add_topic(topic_info("t", 1), nullptr));
    m.pm.shutdown();
  }
  ASSERT_TRUE(fs::exists(dirs[0] / "t-0"));
  fs::create_directories(dirs[2] / "t-0");  // e.g. a disk restored from an old copy
  Manager again(dirs);
  std::string error;
  EXPECT_FALSE(again.pm.load({topic_info("t", 1)}, &error));
  EXPECT_NE(error.find("t-0"), std::string::npos) << error;
  EXPECT_NE(error.find(dirs[0].string()), std::string::npos) << error;
  EXPECT_NE(error.find(dirs[2].string()), std::string::npos) << error;
  EXPECT_TRUE(again.pm.all().empty());
}

TEST(PartitionManagerDirs, ADeletedLogFreesItsPlace) {
  testing::TempDir root;
  const auto dirs = three_dirs(root);
  Manager m({dirs[0], dirs[1]});
  ASSERT_TRUE(m.pm.load({}, nullptr));
  ASSERT_TRUE(m.pm.add_topic(topic_info("a", 2), nullptr));  // d0: a-0, d1: a-1
  ASSERT_TRUE(m.pm.add_topic(topic_info("b", 2), nullptr));  // d0: b-0, d1: b-1
  m.pm.remove_partitions({{"a", 0}, {"b", 0}}, nullptr);
  EXPECT_FALSE(fs::exists(dirs[0] / "a-0"));
  ASSERT_TRUE(m.pm.add_topic(topic_info("c", 2), nullptr));
  EXPECT_EQ(spread({dirs[0], dirs[1]}, topic_info("c", 2)), (std::vector<int>{2, 0}));
  m.pm.shutdown();
}

// The directory gone and a regular file in its place: every file operation in it fails.
void break_dir(const fs::path& dir) {
  fs::remove_all(dir);
  std::ofstream(dir) << "not a directory\n";
}

// What the log directory failure listener heard: (directory, partitions "topic-index").
struct Failures {
  std::vector<std::pair<size_t, std::vector<std::string>>> heard;
  void listen(PartitionManager& pm) {
    pm.on_log_dir_failure([this](size_t dir, const std::vector<std::shared_ptr<Partition>>& ps) {
      std::vector<std::string> names;
      for (const auto& p : ps) names.push_back(p->topic() + "-" + std::to_string(p->index()));
      std::sort(names.begin(), names.end());
      heard.emplace_back(dir, std::move(names));
    });
  }
};

protocol::ErrorCode append_error(PartitionManager& pm, const std::string& name, int32_t index) {
  std::string data = batch(5);
  return pm.get(name, index)
      ->append(reinterpret_cast<uint8_t*>(data.data()), data.size(), 1000)
      .error;
}

// Two log directories, the failure listener on, loaded with nothing.
struct TwoDirs {
  testing::TempDir root;
  std::vector<fs::path> dirs{root.path() / "d0", root.path() / "d1"};
  Manager m{dirs};
  Failures f;
  TwoDirs() {
    f.listen(m.pm);
    EXPECT_TRUE(m.pm.load({}, nullptr));
  }
  // The listener heard once: directory 1 going offline with `partitions`.
  void expect_d1_failed(std::vector<std::string> partitions) const {
    ASSERT_EQ(f.heard.size(), 1u);
    EXPECT_EQ(f.heard[0].first, 1u);
    EXPECT_EQ(f.heard[0].second, partitions);
  }
};

TEST(PartitionManagerDirs, AFailedDirectoryTakesItsPartitionsOfflineAndNoNewLogs) {
  TwoDirs t;
  auto& [root, dirs, m, f] = t;
  ASSERT_TRUE(m.pm.add_topic(topic_info("a", 4), nullptr));  // d0: a-0, a-2; d1: a-1, a-3
  for (int32_t i = 0; i < 4; ++i) append(m.pm, "a", i, 5);
  EXPECT_FALSE(m.pm.some_log_dir_offline());

  m.pm.fail_log_dir(1, "a test");
  m.pm.fail_log_dir(1, "again");  // heard once
  t.expect_d1_failed({"a-1", "a-3"});
  EXPECT_TRUE(m.pm.log_dir_offline(1));
  EXPECT_FALSE(m.pm.log_dir_offline(0));
  EXPECT_TRUE(m.pm.some_log_dir_offline());
  EXPECT_FALSE(m.pm.all_log_dirs_offline());
  for (int32_t i : {1, 3}) {
    EXPECT_TRUE(m.pm.get("a", i)->offline());
    EXPECT_EQ(append_error(m.pm, "a", i), protocol::ErrorCode::kafka_storage_error);
    EXPECT_EQ(m.pm.get("a", i)->read(0, 1 << 20, true).error,
              protocol::ErrorCode::kafka_storage_error);
  }
  for (int32_t i : {0, 2}) {
    EXPECT_FALSE(m.pm.get("a", i)->offline());
    EXPECT_EQ(append_error(m.pm, "a", i), protocol::ErrorCode::none);
    EXPECT_EQ(m.pm.get("a", i)->read(0, 1 << 20, true).error, protocol::ErrorCode::none);
  }
  // New logs go to the directory still online; no move goes to or from the offline one.
  ASSERT_TRUE(m.pm.add_topic(topic_info("b", 3), nullptr));
  EXPECT_EQ(spread({dirs[0], dirs[1]}, topic_info("b", 3)), (std::vector<int>{3, 0}));
  EXPECT_EQ(m.pm.move_log("a", 0, 1), protocol::ErrorCode::kafka_storage_error);
  EXPECT_EQ(m.pm.move_log("a", 1, 0), protocol::ErrorCode::kafka_storage_error);
  // Checkpoints go on in the directory online only.
  fs::remove(dirs[1] / "recovery-point-offset-checkpoint");
  std::string error;
  EXPECT_TRUE(m.pm.write_checkpoints(&error)) << error;
  EXPECT_FALSE(fs::exists(dirs[1] / "recovery-point-offset-checkpoint"));
  EXPECT_TRUE(fs::exists(dirs[0] / "recovery-point-offset-checkpoint"));
  m.pm.fail_log_dir(0, "the last one");
  EXPECT_TRUE(m.pm.all_log_dirs_offline());
  m.pm.shutdown();
}

TEST(PartitionManagerDirs, AnAppendThatCannotRollTakesItsDirectoryOffline) {
  TwoDirs t;
  auto& [root, dirs, m, f] = t;
  // One batch per segment: each append after the first rolls a new segment file.
  ASSERT_TRUE(m.pm.add_topic(topic_info("a", 2, {{"segment.bytes", "100"}}), nullptr));
  for (int32_t i = 0; i < 2; ++i) append(m.pm, "a", i, 5);
  break_dir(dirs[1]);
  EXPECT_EQ(append_error(m.pm, "a", 1), protocol::ErrorCode::kafka_storage_error);
  t.expect_d1_failed({"a-1"});
  EXPECT_TRUE(m.pm.log_dir_offline(1));
  EXPECT_EQ(append_error(m.pm, "a", 0), protocol::ErrorCode::none);
  m.pm.shutdown();
}

TEST(PartitionManagerDirs, ACheckpointThatCannotBeWrittenTakesItsDirectoryOffline) {
  TwoDirs t;
  auto& [root, dirs, m, f] = t;
  ASSERT_TRUE(m.pm.add_topic(topic_info("a", 2), nullptr));
  break_dir(dirs[1]);
  std::string error;
  EXPECT_FALSE(m.pm.write_checkpoints(&error));
  EXPECT_FALSE(error.empty());
  t.expect_d1_failed({"a-1"});
  EXPECT_TRUE(m.pm.get("a", 1)->offline());
  EXPECT_FALSE(m.pm.get("a", 0)->offline());
  error.clear();
  EXPECT_TRUE(m.pm.write_checkpoints(&error)) << error;  // the offline one is left out
  m.pm.shutdown();
}

TEST(PartitionManagerDirs, ADirectoryUnusableAtStartIsOfflineAndItsLogsAreNotMadeAgain) {
  testing::TempDir root;
  const std::vector<fs::path> dirs{root.path() / "d0", root.path() / "d1"};
  const TopicInfo a = topic_info("a", 2);
  {
    Manager m(dirs);
    ASSERT_TRUE(m.pm.load({}, nullptr));
    ASSERT_TRUE(m.pm.add_topic(a, nullptr));  // d0: a-0, d1: a-1
    append(m.pm, "a", 1, 5);
    m.pm.shutdown();
  }
  const fs::path saved = root.path() / "d1.saved";
  fs::rename(dirs[1], saved);
  std::ofstream(dirs[1]) << "not a directory\n";
  {
    Manager m(dirs);
    m.pm.start_offline(1, "a test");
    std::string error;
    ASSERT_TRUE(m.pm.load({a}, &error)) << error;
    EXPECT_TRUE(m.pm.log_dir_offline(1));
    ASSERT_NE(m.pm.get("a", 0), nullptr);
    EXPECT_EQ(m.pm.get("a", 1), nullptr);
    EXPECT_TRUE(m.pm.unavailable("a", 1));
    EXPECT_FALSE(m.pm.unavailable("a", 0));
    EXPECT_EQ(m.pm.open_replica(a, 1, &error), nullptr);  // cluster mode: not made either
    EXPECT_FALSE(fs::exists(dirs[0] / "a-1"));
    ASSERT_TRUE(m.pm.add_topic(topic_info("b", 2), nullptr));  // new logs: where it can
    EXPECT_EQ(spread({dirs[0]}, topic_info("b", 2)), (std::vector<int>{2}));
    EXPECT_TRUE(m.pm.write_checkpoints(&error)) << error;
    m.pm.shutdown();
  }
  // The disk back: its log is found with what it held.
  fs::remove(dirs[1]);
  fs::rename(saved, dirs[1]);
  Manager m(dirs);
  ASSERT_TRUE(m.pm.load({a}, nullptr));
  ASSERT_NE(m.pm.get("a", 1), nullptr);
  EXPECT_EQ(m.pm.get("a", 1)->high_watermark_snapshot(), 5);
  EXPECT_FALSE(m.pm.some_log_dir_offline());
  m.pm.shutdown();
}

}  // namespace
}  // namespace kaffa::cluster
