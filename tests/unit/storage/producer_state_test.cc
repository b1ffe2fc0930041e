#include "storage/producer_state.h"

#include <gtest/gtest.h>

#include <fstream>

#include "record/builder.h"
#include "storage/log.h"
#include "storage_testing.h"

namespace kaffa::storage {
namespace {

using testing::TempDir;
using Verdict = ProducerStateManager::Verdict;

record::BatchHeader header(int64_t pid, int16_t epoch, int32_t seq, int32_t records,
                           int64_t ts = 1000) {
  record::BatchHeader h{};
  h.producer_id = pid;
  h.producer_epoch = epoch;
  h.base_sequence = seq;
  h.last_offset_delta = records - 1;
  h.max_timestamp = ts;
  return h;
}

// Appends one idempotent batch of `records` records to the log and to the state.
std::pair<int64_t, int64_t> append(Log& log, ProducerStateManager* state, int64_t pid,
                                   int16_t epoch, int32_t seq, int records) {
  std::vector<record::BuildRecord> recs;
  for (int i = 0; i < records; ++i) recs.push_back({std::string("k"), std::string("v"), {}, 1000});
  record::BuildOptions opts;
  opts.producer_id = pid;
  opts.producer_epoch = epoch;
  opts.base_sequence = seq;
  std::string b = record::build_batch(recs, opts);
  auto r = log.append(reinterpret_cast<uint8_t*>(b.data()), b.size(), 0, 1000);
  EXPECT_TRUE(r.ok) << r.error;
  if (state) state->update(header(pid, epoch, seq, records), r.base_offset, r.last_offset);
  return {r.base_offset, r.last_offset};
}

std::unique_ptr<Log> open_log(const std::filesystem::path& dir) {
  return testing::open_log_with(dir, LogConfig{}, 0);
}

std::vector<std::string> snapshots(const std::filesystem::path& dir) {
  std::vector<std::string> out;
  for (const auto& e : std::filesystem::directory_iterator(dir)) {
    if (e.path().extension() == ".snapshot") out.push_back(e.path().filename().string());
  }
  std::sort(out.begin(), out.end());
  return out;
}

TEST(ProducerState, UnknownProducerIsAcceptedAtAnySequence) {
  TempDir dir;
  ProducerStateManager s(dir.path());
  EXPECT_EQ(s.check(header(7, 0, 0, 1)).verdict, Verdict::append);
  EXPECT_EQ(s.check(header(7, 3, 42, 1)).verdict, Verdict::append);
}

TEST(ProducerState, SequencesMustFollowEachOther) {
  TempDir dir;
  ProducerStateManager s(dir.path());
  s.update(header(7, 0, 0, 3), 0, 2);  // sequences 0..2
  EXPECT_EQ(s.check(header(7, 0, 3, 1)).verdict, Verdict::append);
  const auto gap = s.check(header(7, 0, 4, 1));
  EXPECT_EQ(gap.verdict, Verdict::out_of_order);
  EXPECT_NE(gap.message.find("Out of order sequence"), std::string::npos);
  EXPECT_EQ(s.check(header(7, 0, 1, 2)).verdict, Verdict::out_of_order);  // overlaps, not equal
  // Another producer is independent.
  EXPECT_EQ(s.check(header(8, 0, 5, 1)).verdict, Verdict::append);
}

TEST(ProducerState, RetriesOfTheLastFiveBatchesAreDuplicates) {
  TempDir dir;
  ProducerStateManager s(dir.path());
  for (int i = 0; i < 7; ++i) s.update(header(7, 0, 2 * i, 2), 100 + 10 * i, 101 + 10 * i);
  ASSERT_EQ(s.find(7)->batches.size(), ProducerStateManager::kMaxBatchesPerProducer);
  for (int i = 2; i < 7; ++i) {
    const auto c = s.check(header(7, 0, 2 * i, 2));
    ASSERT_EQ(c.verdict, Verdict::duplicate) << i;
    EXPECT_EQ(c.duplicate.first_offset, 100 + 10 * i);
    EXPECT_EQ(c.duplicate.last_offset, 101 + 10 * i);
  }
  // Older than the cached five: Kafka answers OUT_OF_ORDER_SEQUENCE_NUMBER.
  EXPECT_EQ(s.check(header(7, 0, 2, 2)).verdict, Verdict::out_of_order);
  EXPECT_EQ(s.check(header(7, 0, 14, 1)).verdict, Verdict::append);
}

TEST(ProducerState, EpochRules) {
  TempDir dir;
  ProducerStateManager s(dir.path());
  s.update(header(7, 2, 0, 5), 0, 4);
  EXPECT_EQ(s.check(header(7, 1, 5, 1)).verdict, Verdict::stale_epoch);
  EXPECT_EQ(s.check(header(7, 3, 5, 1)).verdict, Verdict::out_of_order);  // new epoch not at 0
  EXPECT_EQ(s.check(header(7, 3, 0, 1)).verdict, Verdict::append);
  s.update(header(7, 3, 0, 1), 5, 5);
  EXPECT_EQ(s.find(7)->epoch, 3);
  EXPECT_EQ(s.find(7)->batches.size(), 1u);  // the old epoch's batches are forgotten
  EXPECT_EQ(s.check(header(7, 2, 5, 1)).verdict, Verdict::stale_epoch);
}

TEST(ProducerState, SequencesWrapAfterInt32Max) {
  constexpr int32_t kMax = std::numeric_limits<int32_t>::max();
  EXPECT_EQ(ProducerStateManager::last_sequence(kMax - 1, 3), 1);
  EXPECT_EQ(ProducerStateManager::last_sequence(kMax, 0), kMax);
  TempDir dir;
  ProducerStateManager s(dir.path());
  s.update(header(7, 0, kMax - 1, 2), 0, 1);  // ends at kMax
  EXPECT_EQ(s.check(header(7, 0, 0, 1)).verdict, Verdict::append);
}

TEST(ProducerState, ExpiryAndLogStartEviction) {
  TempDir dir;
  ProducerStateManager s(dir.path());
  s.update(header(1, 0, 0, 1, /*ts=*/1000), 0, 0);
  s.update(header(2, 0, 0, 1, /*ts=*/5000), 1, 1);
  EXPECT_EQ(s.remove_expired(6000, 2000), 1u);  // producer 1: 5000 ms old
  EXPECT_EQ(s.find(1), nullptr);
  ASSERT_NE(s.find(2), nullptr);
  s.evict_below(2);
  EXPECT_EQ(s.producer_count(), 0u);
}

TEST(ProducerState, LoadReplaysTheWholeLogWithoutSnapshot) {
  TempDir dir;
  auto log = open_log(dir.path() / "t-0");
  append(*log, nullptr, 7, 0, 0, 3);
  append(*log, nullptr, 8, 1, 10, 2);
  const auto last = append(*log, nullptr, 7, 0, 3, 1);
  ProducerStateManager s(log->dir());
  std::string error;
  ASSERT_TRUE(s.load(*log, &error)) << error;
  EXPECT_EQ(s.replayed_from(), 0);
  EXPECT_EQ(s.producer_count(), 2u);
  const auto dup = s.check(header(7, 0, 3, 1));
  ASSERT_EQ(dup.verdict, Verdict::duplicate);
  EXPECT_EQ(dup.duplicate.first_offset, last.first);
  EXPECT_EQ(s.check(header(8, 1, 12, 1)).verdict, Verdict::append);
  EXPECT_EQ(s.check(header(8, 0, 12, 1)).verdict, Verdict::stale_epoch);
}

TEST(ProducerState, LoadStartsFromTheNewestSnapshotAndReplaysTheRest) {
  TempDir dir;
  auto log = open_log(dir.path() / "t-0");
  ProducerStateManager s(log->dir());
  append(*log, &s, 7, 0, 0, 3);
  std::string error;
  ASSERT_TRUE(s.take_snapshot(log->log_end_offset(), false, &error)) << error;
  const int64_t snap = log->log_end_offset();
  append(*log, nullptr, 7, 0, 3, 2);  // after the snapshot: found by replay
  append(*log, nullptr, 9, 0, 0, 1);

  ProducerStateManager loaded(log->dir());
  ASSERT_TRUE(loaded.load(*log, &error)) << error;
  EXPECT_EQ(loaded.replayed_from(), snap);
  ASSERT_NE(loaded.find(7), nullptr);
  EXPECT_EQ(loaded.find(7)->batches.size(), 2u);
  EXPECT_EQ(loaded.check(header(7, 0, 0, 3)).verdict, Verdict::duplicate);  // from the snapshot
  EXPECT_EQ(loaded.check(header(7, 0, 3, 2)).verdict, Verdict::duplicate);  // from the replay
  EXPECT_EQ(loaded.check(header(9, 0, 1, 1)).verdict, Verdict::append);
}

TEST(ProducerState, DamagedOrTooNewSnapshotsAreDeleted) {
  TempDir dir;
  auto log = open_log(dir.path() / "t-0");
  ProducerStateManager s(log->dir());
  append(*log, &s, 7, 0, 0, 3);
  std::string error;
  ASSERT_TRUE(s.take_snapshot(3, false, &error)) << error;
  ASSERT_TRUE(s.take_snapshot(50, false, &error)) << error;  // beyond the log end (lost tail)
  // Damage the one at 3: flip a byte of its last batch.
  const auto path = log->dir() / "00000000000000000003.snapshot";
  {
    std::fstream f(path, std::ios::in | std::ios::out | std::ios::binary);
    f.seekp(-3, std::ios::end);
    f.put('\x5a');
  }
  ProducerStateManager loaded(log->dir());
  ASSERT_TRUE(loaded.load(*log, &error)) << error;
  EXPECT_TRUE(snapshots(log->dir()).empty());
  EXPECT_EQ(loaded.replayed_from(), 0);  // fell back to the whole log
  EXPECT_EQ(loaded.check(header(7, 0, 0, 3)).verdict, Verdict::duplicate);
}

TEST(ProducerState, KeepsTheNewestTwoSnapshots) {
  TempDir dir;
  ProducerStateManager s(dir.path());
  std::string error;
  for (int64_t o : {10, 20, 30, 40}) ASSERT_TRUE(s.take_snapshot(o, o == 40, &error)) << error;
  EXPECT_EQ(snapshots(dir.path()), (std::vector<std::string>{"00000000000000000030.snapshot",
                                                             "00000000000000000040.snapshot"}));
}

TEST(ProducerState, ProducersBelowTheLogStartAreNotLoaded) {
  TempDir dir;
  auto log = open_log(dir.path() / "t-0");
  append(*log, nullptr, 7, 0, 0, 3);
  append(*log, nullptr, 8, 0, 0, 3);
  ASSERT_TRUE(log->advance_log_start_offset(3));
  ProducerStateManager loaded(log->dir());
  std::string error;
  ASSERT_TRUE(loaded.load(*log, &error)) << error;
  EXPECT_EQ(loaded.find(7), nullptr);
  EXPECT_NE(loaded.find(8), nullptr);
}

}  // namespace
}  // namespace kaffa::storage
