// LeaderEpochCache: Kafka's LeaderEpochFileCache rules, and how a Log keeps its epochs through
// appends, truncation, log start moves, flushes and crash recovery.
#include "storage/leader_epoch_cache.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <fstream>

#include "storage/checkpoint_file.h"
#include "storage_testing.h"

namespace kaffa::storage {
namespace {

using testing::append;
using testing::make_batch;
using testing::open_log_with;
using testing::TempDir;
using Entries = std::vector<EpochEntry>;

constexpr int32_t kUndef = LeaderEpochCache::kUndefinedEpoch;

TEST(LeaderEpochCache, AssignKeepsEpochsAndOffsetsIncreasing) {
  LeaderEpochCache c;
  EXPECT_TRUE(c.assign(0, 0));
  EXPECT_FALSE(c.assign(0, 5));  // same epoch, later offset: nothing new
  EXPECT_TRUE(c.assign(1, 10));
  EXPECT_TRUE(c.assign(3, 20));
  // A new epoch 2 at 15 (a leader that had not seen epoch 3): 3's entry starts after it, goes.
  EXPECT_TRUE(c.assign(2, 15));
  EXPECT_EQ(c.entries(), (Entries{{0, 0}, {1, 10}, {2, 15}}));
  // The latest epoch at an earlier offset moves its start.
  EXPECT_TRUE(c.assign(2, 12));
  EXPECT_EQ(c.entries(), (Entries{{0, 0}, {1, 10}, {2, 12}}));
  EXPECT_FALSE(c.assign(-1, 30));
  EXPECT_FALSE(c.assign(4, -1));
  EXPECT_EQ(c.latest_epoch(), 2);
}

TEST(LeaderEpochCache, EndOffsetForFollowsKafka) {
  const LeaderEpochCache c(Entries{{2, 10}, {4, 30}, {5, 50}});
  using R = std::pair<int32_t, int64_t>;
  EXPECT_EQ(c.end_offset_for(5, 80), R(5, 80));        // the latest ends at the log end
  EXPECT_EQ(c.end_offset_for(4, 80), R(4, 50));        // ends where the next starts
  EXPECT_EQ(c.end_offset_for(3, 80), R(2, 30));        // unknown: the largest known below it
  EXPECT_EQ(c.end_offset_for(1, 80), R(1, 10));        // below every known epoch
  EXPECT_EQ(c.end_offset_for(6, 80), R(kUndef, -1));   // above the latest
  EXPECT_EQ(c.end_offset_for(-1, 80), R(kUndef, -1));  // no epoch given
  EXPECT_EQ(LeaderEpochCache().end_offset_for(0, 80), R(kUndef, -1));
}

TEST(LeaderEpochCache, ACopyAgreesUpToTheEndOfTheLatestEpochBothKnow) {
  const LeaderEpochCache log(Entries{{0, 0}, {3, 100}, {5, 120}});
  // A prefix of the log, and a copy that ran past the log's end (the log lost its tail).
  EXPECT_EQ(agreed_end(log, 200, Entries{{0, 0}, {3, 100}, {5, 120}}, 150), 150);
  EXPECT_EQ(agreed_end(log, 200, Entries{{0, 0}, {3, 100}, {5, 120}}, 250), 200);
  // The copy went on in epoch 3 and then 4, the log only to 120 in 3: it agrees up to 120.
  EXPECT_EQ(agreed_end(log, 200, Entries{{0, 0}, {3, 100}, {4, 130}}, 180), 120);
  // A copy of an older epoch that ends before the log's next one: all of it.
  EXPECT_EQ(agreed_end(log, 200, Entries{{0, 0}}, 60), 60);
  // A copy made while the log's start was past epoch 0: it agrees from where epoch 3 starts.
  EXPECT_EQ(agreed_end(LeaderEpochCache(Entries{{3, 110}, {5, 120}}), 200, Entries{{3, 100}}, 115),
            115);
  // Nothing in common: a copy only of an epoch newer than the log's, or without epochs.
  EXPECT_EQ(agreed_end(log, 200, Entries{{6, 100}}, 150), std::nullopt);
  EXPECT_EQ(agreed_end(log, 200, Entries{}, 150), std::nullopt);
}

TEST(LeaderEpochCache, TruncationFromEitherEnd) {
  LeaderEpochCache c(Entries{{2, 10}, {4, 30}, {5, 50}});
  EXPECT_FALSE(c.truncate_from_start(5));  // below the first entry
  EXPECT_TRUE(c.truncate_from_start(35));
  EXPECT_EQ(c.entries(), (Entries{{4, 35}, {5, 50}}));
  EXPECT_TRUE(c.truncate_from_start(50));
  EXPECT_EQ(c.entries(), (Entries{{5, 50}}));
  EXPECT_FALSE(c.truncate_from_start(50));

  LeaderEpochCache d(Entries{{2, 10}, {4, 30}, {5, 50}});
  EXPECT_FALSE(d.truncate_from_end(60));
  EXPECT_TRUE(d.truncate_from_end(30));  // an entry starting exactly at the cut goes
  EXPECT_EQ(d.entries(), (Entries{{2, 10}}));
}

TEST(LeaderEpochCache, FileRoundTripAndDamage) {
  TempDir tmp;
  const auto file = tmp.path() / "leader-epoch-checkpoint";
  std::string problem;
  EXPECT_TRUE(LeaderEpochCache::load(file, &problem).entries().empty());  // missing: empty
  EXPECT_TRUE(problem.empty());

  const LeaderEpochCache c(Entries{{0, 0}, {3, 40}});
  std::string error;
  ASSERT_TRUE(c.write(file, &error, true)) << error;
  EXPECT_EQ(LeaderEpochCache::load(file, &problem).entries(), c.entries());

  // Epochs 0 and 3 both starting at 4 (written by hand: assign() never keeps both): epoch 3 wins,
  // as in Kafka, so start offsets stay strictly increasing (found by log_recovery_fuzz).
  std::ofstream(file, std::ios::trunc) << "0\n3\n0 4\n3 4\n5 9\n";
  problem.clear();
  EXPECT_EQ(LeaderEpochCache::load(file, &problem).entries(), (Entries{{3, 4}, {5, 9}}));
  EXPECT_TRUE(problem.empty()) << problem;

  for (const char* text : {"0\n2\n0 0\n", "0\n2\n3 40\n1 50\n", "0\n1\nx 0\n", "1\n0\n"}) {
    std::ofstream(file, std::ios::trunc) << text;
    problem.clear();
    EXPECT_TRUE(LeaderEpochCache::load(file, &problem).entries().empty()) << text;
    EXPECT_FALSE(problem.empty()) << text;
  }
}

// ---- in a Log ----

LogConfig small_segments() {
  LogConfig cfg;
  cfg.segment_bytes = 400;
  return cfg;
}

Entries on_disk(const std::filesystem::path& dir) {
  std::string problem;
  return LeaderEpochCache::load(dir / kLeaderEpochFile, &problem).entries();
}

void flush(Log& log) {
  const auto t = log.flush_ticket();
  ASSERT_TRUE(t.sync());
  log.mark_flushed(t.end_offset);
}

TEST(LogEpochs, AppendsStartEpochsAndTheFileFollows) {
  TempDir tmp;
  auto log = open_log_with(tmp.path(), small_segments(), 0);
  EXPECT_FALSE(log->latest_epoch());
  ASSERT_TRUE(append(*log, make_batch({.records = 2}), 0, 0).ok);
  ASSERT_TRUE(append(*log, make_batch({.records = 3}), 0, 0).ok);
  ASSERT_TRUE(append(*log, make_batch({.records = 1}), 0, 4).ok);  // offsets 5..
  EXPECT_EQ(log->epoch_entries(), (Entries{{0, 0}, {4, 5}}));
  EXPECT_EQ(log->end_offset_for_epoch(0), std::make_pair(0, int64_t{5}));
  EXPECT_EQ(log->end_offset_for_epoch(4), std::make_pair(4, int64_t{6}));
  // The file is written and synced by the next flush ticket, once.
  EXPECT_TRUE(on_disk(tmp.path()).empty());
  const auto syncs_epochs = [&](const FlushTicket& t) {
    return std::any_of(t.files.begin(), t.files.end(),
                       [&](const auto& f) { return f->path() == tmp.path() / kLeaderEpochFile; });
  };
  EXPECT_TRUE(syncs_epochs(log->flush_ticket()));
  EXPECT_EQ(on_disk(tmp.path()), log->epoch_entries());
  flush(*log);
  ASSERT_TRUE(append(*log, make_batch({}), 0, 4).ok);
  EXPECT_FALSE(syncs_epochs(log->flush_ticket()));
  ASSERT_TRUE(append(*log, make_batch({}), 0, 5).ok);  // a change after a ticket: synced again
  EXPECT_TRUE(syncs_epochs(log->flush_ticket()));
  ASSERT_TRUE(log->close(nullptr));
  log = open_log_with(tmp.path(), small_segments(), 8);
  EXPECT_EQ(log->epoch_entries(), (Entries{{0, 0}, {4, 5}, {5, 7}}));
}

TEST(LogEpochs, TruncationAndLogStartMovesCutTheEpochs) {
  TempDir tmp;
  auto log = open_log_with(tmp.path(), small_segments(), 0);
  for (int32_t epoch : {1, 1, 2, 2, 5, 5}) {
    ASSERT_TRUE(append(*log, make_batch({.records = 2}), 0, epoch).ok);
  }
  EXPECT_EQ(log->epoch_entries(), (Entries{{1, 0}, {2, 4}, {5, 8}}));
  ASSERT_TRUE(log->truncate_to(8, nullptr));  // epoch 5's records go: so does its entry
  EXPECT_EQ(log->epoch_entries(), (Entries{{1, 0}, {2, 4}}));
  ASSERT_TRUE(log->advance_log_start_offset(5));
  EXPECT_EQ(log->epoch_entries(), (Entries{{2, 5}}));
  flush(*log);
  EXPECT_EQ(on_disk(tmp.path()), log->epoch_entries());
  // A new leader epoch continues where the log ends.
  ASSERT_TRUE(append(*log, make_batch({}), 0, 6).ok);
  EXPECT_EQ(log->epoch_entries(), (Entries{{2, 5}, {6, 8}}));
}

TEST(LogEpochs, RecoveryReassignsEpochsAboveTheRecoveryPoint) {
  TempDir tmp;
  int64_t recovery_point;
  {
    auto log = open_log_with(tmp.path(), small_segments(), 0);
    ASSERT_TRUE(append(*log, make_batch({.records = 2}), 0, 3).ok);
    flush(*log);
    recovery_point = log->recovery_point();
    ASSERT_TRUE(append(*log, make_batch({.records = 2}), 0, 7).ok);
    // A crash before the checkpoint's rename was durable: the file still says epoch 3 only.
    ASSERT_TRUE(
        LeaderEpochCache(Entries{{3, 0}}).write(tmp.path() / kLeaderEpochFile, nullptr, false));
  }  // no close(): a crash
  auto log = open_log_with(tmp.path(), small_segments(), recovery_point);
  EXPECT_EQ(log->epoch_entries(), (Entries{{3, 0}, {7, 2}}));
}

TEST(LogEpochs, EntriesBeyondTheRecoveredLogAreDropped) {
  TempDir tmp;
  {
    auto log = open_log_with(tmp.path(), small_segments(), 0);
    ASSERT_TRUE(append(*log, make_batch({.records = 2}), 0, 3).ok);
    ASSERT_TRUE(log->close(nullptr));
  }
  // The file knows epochs whose records never reached the log (lost with a torn tail); one
  // starting exactly at the log end (a leader's epoch before its first write) is kept.
  ASSERT_TRUE(LeaderEpochCache(Entries{{3, 0}, {9, 3}, {11, 6}})
                  .write(tmp.path() / kLeaderEpochFile, nullptr, true));
  auto log = open_log_with(tmp.path(), small_segments(), 2);
  EXPECT_EQ(log->epoch_entries(), (Entries{{3, 0}}));
  ASSERT_TRUE(log->close(nullptr));
  EXPECT_EQ(on_disk(tmp.path()), (Entries{{3, 0}}));
}

TEST(LogEpochs, ReopeningAnUnchangedLogRewritesNothing) {
  TempDir tmp;
  {
    auto log = open_log_with(tmp.path(), small_segments(), 0);
    log->maybe_assign_epoch(3, 0);  // a leader's epoch on an empty log
    ASSERT_TRUE(log->close(nullptr));
  }
  const auto file = tmp.path() / kLeaderEpochFile;
  const auto written = std::filesystem::last_write_time(file);
  std::filesystem::last_write_time(file, written - std::chrono::hours(1));
  auto log = open_log_with(tmp.path(), small_segments(), 0);
  log->maybe_assign_epoch(3, 0);
  EXPECT_EQ(log->epoch_entries(), (Entries{{3, 0}}));
  EXPECT_EQ(std::filesystem::last_write_time(file), written - std::chrono::hours(1));
}

TEST(LogEpochs, ALogWithoutAFileIsSeededFromItsFirstBatch) {
  TempDir tmp;
  {
    auto log = open_log_with(tmp.path(), small_segments(), 0);
    ASSERT_TRUE(append(*log, make_batch({.records = 4}), 0, 2).ok);
    ASSERT_TRUE(log->close(nullptr));
  }
  std::filesystem::remove(tmp.path() / kLeaderEpochFile);
  auto log = open_log_with(tmp.path(), small_segments(), 4);
  EXPECT_EQ(log->epoch_entries(), (Entries{{2, 0}}));
}

}  // namespace
}  // namespace kaffa::storage
