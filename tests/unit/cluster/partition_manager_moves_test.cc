// Moving a log to another log directory (AlterReplicaLogDirs): the moved log holds the same
// batches at the same offsets, with its log start, epochs and producer state; appends and
// truncations during the copy are followed; a restart continues a copy that was cut short (cut
// back first where it runs past the log) and finishes a move whose old directory was already
// renamed away.
#include <gtest/gtest.h>
#include <unistd.h>

#include "cluster/partition_manager.h"
#include "partition_testing.h"
#include "storage/checkpoint_file.h"
#include "storage_dir.h"

namespace kaffa::cluster {
namespace {

namespace fs = std::filesystem;
using protocol::ErrorCode;

// Posts queued on `loop` when given one, else run at once.
struct Manager {
  storage::Flusher flusher;
  PartitionManager pm;
  explicit Manager(std::vector<fs::path> dirs, Loop* loop = nullptr)
      : pm(std::move(dirs), 1, LogDefaults{}, flusher, [loop](size_t, std::function<void()> fn) {
          if (loop != nullptr) return loop->post(std::move(fn));
          fn();
        }) {}
};

void append(Partition& p, int records) {
  std::string data = batch(records);
  ASSERT_EQ(p.append(reinterpret_cast<uint8_t*>(data.data()), data.size(), 1000).error,
            ErrorCode::none);
}

// Every byte of the log from its start (whole batches).
std::string contents(const Partition& p) {
  auto r = p.read_to_log_end(p.log_start_offset(), 1 << 30, true);
  EXPECT_EQ(r.error, ErrorCode::none);
  std::string out;
  for (const auto& f : r.records.files) {
    const size_t at = out.size();
    out.resize(at + f.length);
    EXPECT_EQ(::pread(f.fd, out.data() + at, f.length, static_cast<off_t>(f.offset)),
              static_cast<ssize_t>(f.length));
  }
  return out;
}

// Nothing but the log itself is left of the move in `dir`.
std::vector<std::string> entries(const fs::path& dir) {
  std::vector<std::string> names;
  for (const auto& e : fs::directory_iterator(dir)) {
    if (e.is_directory()) names.push_back(e.path().filename().string());
  }
  std::sort(names.begin(), names.end());
  return names;
}

const TopicInfo kTopic = topic_info("t", 1, {{"segment.bytes", "16384"}});

TEST(PartitionManagerMoves, TheMovedLogHoldsTheSameBatchesAndState) {
  testing::TempDir root;
  const std::vector<fs::path> dirs{root.path() / "d0", root.path() / "d1"};
  std::string before;
  {
    Manager m(dirs);
    ASSERT_TRUE(m.pm.load({}, nullptr));
    ASSERT_TRUE(m.pm.add_topic(kTopic, nullptr));
    auto p = m.pm.get("t", 0);
    ASSERT_EQ(p->dir(), dirs[0] / "t-0");
    for (int i = 0; i < 300; ++i) append(*p, 10);
    ASSERT_EQ(p->delete_records(1005).error, ErrorCode::none);  // a start inside a batch
    before = contents(*p);
    const auto epochs = p->end_offset_for_epoch(0);

    EXPECT_EQ(m.pm.move_log("t", 0, 1), ErrorCode::none);
    EXPECT_EQ(p->dir(), dirs[1] / "t-0");
    EXPECT_EQ(m.pm.get("t", 0), p);  // the same partition, serving on
    EXPECT_EQ(entries(dirs[0]), std::vector<std::string>{});
    EXPECT_EQ(entries(dirs[1]), std::vector<std::string>{"t-0"});
    EXPECT_EQ(p->log_start_offset(), 1005);
    EXPECT_EQ(p->log_end_offset(), 3000);
    EXPECT_EQ(contents(*p), before);
    EXPECT_EQ(p->end_offset_for_epoch(0), epochs);
    EXPECT_EQ(m.pm.all_by_dir().front().first, 1u);
    EXPECT_TRUE(m.pm.moving().empty());
    EXPECT_EQ(m.pm.move_log("t", 0, 1), ErrorCode::none);  // there already: nothing to do
    append(*p, 10);                                        // the moved log takes appends
    before = contents(*p);
    m.pm.shutdown();
  }
  Manager again(dirs);
  ASSERT_TRUE(again.pm.load({kTopic}, nullptr));
  auto p = again.pm.get("t", 0);
  EXPECT_EQ(p->dir(), dirs[1] / "t-0");
  EXPECT_EQ(p->log_start_offset(), 1005);  // from the new directory's checkpoint
  EXPECT_EQ(contents(*p), before);
  EXPECT_EQ(again.pm.move_log("t", 9, 0), ErrorCode::replica_not_available);
  again.pm.shutdown();
}

TEST(PartitionManagerMoves, AppendsAndTruncationsDuringTheCopyAreFollowed) {
  testing::TempDir root;
  const std::vector<fs::path> dirs{root.path() / "d0", root.path() / "d1"};
  Loop loop;
  Manager m(dirs, &loop);
  ASSERT_TRUE(m.pm.load({}, nullptr));
  ASSERT_TRUE(m.pm.add_topic(kTopic, nullptr));
  auto p = m.pm.get("t", 0);
  // About 10 MiB of 1 KiB records: several copy steps.
  std::string big = record::build_batch(
      std::vector<record::BuildRecord>(100, {std::string("k"), std::string(1024, 'x'), {}, 1}),
      record::Compression::none);
  auto append_big = [&] {
    std::string copy = big;
    ASSERT_EQ(p->append(reinterpret_cast<uint8_t*>(copy.data()), copy.size(), 1000).error,
              ErrorCode::none);
  };
  for (int i = 0; i < 100; ++i) append_big();
  ASSERT_EQ(m.pm.move_log("t", 0, 1), ErrorCode::none);
  ASSERT_TRUE(loop.run_until([&] { return p->future_size_snapshot() > 0; }));
  ASSERT_EQ(m.pm.moving().size(), 1u);
  EXPECT_GT(p->future_lag_snapshot(), 0);
  // Between copy steps: the log grows, is cut back below what was copied, and grows again.
  for (int i = 0; i < 20; ++i) append_big();
  ASSERT_TRUE(p->truncate_to(1500));
  for (int i = 0; i < 5; ++i) append(*p, 10);
  const std::string expected = contents(*p);
  ASSERT_TRUE(loop.run_until([&] { return m.pm.moving().empty(); }));
  EXPECT_EQ(p->dir(), dirs[1] / "t-0");
  EXPECT_EQ(p->log_end_offset(), 1550);
  EXPECT_EQ(contents(*p), expected);
  EXPECT_EQ(entries(dirs[0]), std::vector<std::string>{});
  m.pm.shutdown();
}

TEST(PartitionManagerMoves, ARestartContinuesACutCopyAndFinishesACommittedOne) {
  testing::TempDir root;
  const std::vector<fs::path> dirs{root.path() / "d0", root.path() / "d1"};
  const TopicInfo three = topic_info("t", 3, {{"segment.bytes", "16384"}});
  const fs::path first_segment = "00000000000000000000.log";
  std::string zero, one, two;
  fs::create_directories(root.path() / "stash");
  {
    Manager m(dirs);
    ASSERT_TRUE(m.pm.load({}, nullptr));
    ASSERT_TRUE(m.pm.add_topic(three, nullptr));  // t-0 and t-2 in d0, t-1 in d1
    for (int i = 0; i < 100; ++i) append(*m.pm.get("t", 0), 10);
    for (int i = 0; i < 50; ++i) append(*m.pm.get("t", 1), 10);
    for (int i = 0; i < 100; ++i) append(*m.pm.get("t", 2), 10);
    // t-2's segments as a copy made them, before the log lost its last half.
    for (const auto& e : fs::directory_iterator(dirs[0] / "t-2")) {
      if (e.path().extension() == ".log")
        fs::copy_file(e.path(), root.path() / "stash" / e.path().filename());
    }
    ASSERT_TRUE(m.pm.get("t", 2)->truncate_to(500));
    zero = contents(*m.pm.get("t", 0));
    one = contents(*m.pm.get("t", 1));
    two = contents(*m.pm.get("t", 2));
    m.pm.shutdown();
  }
  // t-0: a copy cut short (its first segment only) beside the log.
  fs::create_directories(dirs[1] / "t-0.1x1-future");
  fs::copy_file(dirs[0] / "t-0" / first_segment, dirs[1] / "t-0.1x1-future" / first_segment);
  // t-1: copied whole, the old directory renamed away, the new one not yet renamed into place.
  fs::copy(dirs[1] / "t-1", dirs[0] / "t-1.2x2-future");
  fs::rename(dirs[1] / "t-1", dirs[1] / "t-1.2x2-delete");
  // t-2: a copy that holds more than the log.
  fs::rename(root.path() / "stash", dirs[1] / "t-2.3x3-future");
  // Links that keep the copies' first segments, to see whether the moved logs use them.
  fs::create_hard_link(dirs[1] / "t-0.1x1-future" / first_segment, root.path() / "zero.log");
  fs::create_hard_link(dirs[1] / "t-2.3x3-future" / first_segment, root.path() / "two.log");

  Manager again(dirs);
  std::string error;
  ASSERT_TRUE(again.pm.load({three}, &error)) << error;
  EXPECT_EQ(again.pm.get("t", 0)->dir(), dirs[1] / "t-0");
  EXPECT_EQ(again.pm.get("t", 1)->dir(), dirs[0] / "t-1");
  EXPECT_EQ(again.pm.get("t", 2)->dir(), dirs[1] / "t-2");
  EXPECT_EQ(contents(*again.pm.get("t", 0)), zero);
  EXPECT_EQ(contents(*again.pm.get("t", 1)), one);
  EXPECT_EQ(contents(*again.pm.get("t", 2)), two);
  EXPECT_EQ(again.pm.get("t", 2)->log_end_offset(), 500);
  // The copies went on from what they held: their first segments are the moved logs'.
  EXPECT_TRUE(fs::equivalent(root.path() / "zero.log", dirs[1] / "t-0" / first_segment));
  EXPECT_TRUE(fs::equivalent(root.path() / "two.log", dirs[1] / "t-2" / first_segment));
  EXPECT_EQ(entries(dirs[0]), std::vector<std::string>{"t-1"});
  EXPECT_EQ(entries(dirs[1]), (std::vector<std::string>{"t-0", "t-2"}));
  again.pm.shutdown();
}

TEST(PartitionManagerMoves, AStopDuringACopyRecordsWhatOfItIsDurable) {
  testing::TempDir root;
  const std::vector<fs::path> dirs{root.path() / "d0", root.path() / "d1"};
  std::string expected;
  {
    Loop loop;
    Manager m(dirs, &loop);
    ASSERT_TRUE(m.pm.load({}, nullptr));
    ASSERT_TRUE(m.pm.add_topic(kTopic, nullptr));
    auto p = m.pm.get("t", 0);
    // About 10 MiB of 1 KiB records: several copy steps.
    const std::string big = record::build_batch(
        std::vector<record::BuildRecord>(100, {std::string("k"), std::string(1024, 'x'), {}, 1}),
        record::Compression::none);
    for (int i = 0; i < 100; ++i) {
      std::string copy = big;
      ASSERT_EQ(p->append(reinterpret_cast<uint8_t*>(copy.data()), copy.size(), 1000).error,
                ErrorCode::none);
    }
    expected = contents(*p);
    ASSERT_EQ(m.pm.move_log("t", 0, 1), ErrorCode::none);
    ASSERT_TRUE(loop.run_until([&] { return p->future_size_snapshot() > 0; }));
    m.pm.shutdown();  // the copy is synced and its end checkpointed in d1
  }
  std::string error;
  const auto points =
      storage::OffsetCheckpointFile(dirs[1] / "recovery-point-offset-checkpoint").read(&error);
  ASSERT_TRUE(points) << error;
  ASSERT_EQ(points->count({"t", 0}), 1u);
  EXPECT_GT(points->at({"t", 0}), 0);
  EXPECT_LT(points->at({"t", 0}), 10000);  // a step of the copy, not all of it

  Manager again(dirs);
  ASSERT_TRUE(again.pm.load({kTopic}, &error)) << error;
  EXPECT_EQ(again.pm.get("t", 0)->dir(), dirs[1] / "t-0");
  EXPECT_EQ(contents(*again.pm.get("t", 0)), expected);
  again.pm.shutdown();
}

TEST(PartitionManagerMoves, ACopyKeptForOneDirectoryIsDroppedForAMoveElsewhere) {
  testing::TempDir root;
  const std::vector<fs::path> dirs{root.path() / "d0", root.path() / "d1", root.path() / "d2"};
  const TopicInfo one = topic_info("t", 1, {{"segment.bytes", "16384"}});
  {
    Manager m(dirs);
    ASSERT_TRUE(m.pm.load({}, nullptr));
    ASSERT_TRUE(m.pm.add_topic(one, nullptr));  // t-0 in d0
    for (int i = 0; i < 50; ++i) append(*m.pm.get("t", 0), 10);
    m.pm.shutdown();
  }
  fs::create_directories(dirs[1] / "t-0.1x1-future");
  fs::copy_file(dirs[0] / "t-0" / "00000000000000000000.log",
                dirs[1] / "t-0.1x1-future" / "00000000000000000000.log");
  Manager again(dirs);
  ASSERT_TRUE(again.pm.load({}, nullptr));  // no topic known yet: nothing opens
  EXPECT_EQ(entries(dirs[1]), std::vector<std::string>{"t-0.1x1-future"});
  // Asked for d2 before the partition opens: the copy in d1 is of no use.
  EXPECT_EQ(again.pm.move_log("t", 0, 2), ErrorCode::replica_not_available);
  EXPECT_EQ(entries(dirs[1]), std::vector<std::string>{});
  again.pm.shutdown();
}

TEST(PartitionManagerMoves, ALogAskedForBeforeItExistsIsCreatedThere) {
  testing::TempDir root;
  const std::vector<fs::path> dirs{root.path() / "d0", root.path() / "d1"};
  Manager m(dirs);
  ASSERT_TRUE(m.pm.load({}, nullptr));
  EXPECT_EQ(m.pm.move_log("t", 0, 1), ErrorCode::replica_not_available);
  ASSERT_TRUE(m.pm.add_topic(topic_info("t", 1), nullptr));  // d0 would be Kafka's choice
  EXPECT_EQ(m.pm.get("t", 0)->dir(), dirs[1] / "t-0");
  m.pm.shutdown();
}

}  // namespace
}  // namespace kaffa::cluster
