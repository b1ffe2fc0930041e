// The log cleaner on a real Log: what it keeps (latest record per key, tombstones until the
// delete horizon, compressed batches), what it never touches (active segment, recent segments),
// the swap and its crash recovery, and a result made stale by retention.
#include "storage/log_cleaner.h"

#include <gtest/gtest.h>

#include <fstream>
#include <map>

#include "record/builder.h"
#include "record/records.h"
#include "record/wire.h"
#include "storage/log.h"
#include "storage_testing.h"

namespace kaffa::storage {
namespace {

namespace fs = std::filesystem;
using testing::slice_bytes;
using testing::TempDir;

constexpr int64_t kNoLimit = std::numeric_limits<int64_t>::max();
constexpr int64_t kTs = 1'000'000;  // record timestamps of these tests

std::unique_ptr<Log> open_log(const fs::path& dir, int64_t recovery_point = 0) {
  LogConfig cfg;
  cfg.segment_bytes = 1024;
  cfg.index_interval_bytes = 100;
  return testing::open_log_with(dir, cfg, recovery_point);
}

struct Rec {
  std::string key;
  std::optional<std::string> value;  // nullopt: tombstone
};

// One batch of records, all with timestamp ts.
void put(Log& log, const std::vector<Rec>& recs, record::Compression c = record::Compression::none,
         int64_t ts = kTs, int64_t producer_id = -1) {
  std::vector<record::BuildRecord> b;
  for (const auto& r : recs) b.push_back({r.key, r.value, {}, ts});
  record::BuildOptions opts;
  opts.compression = c;
  opts.producer_id = producer_id;
  opts.producer_epoch = producer_id >= 0 ? 0 : -1;
  opts.base_sequence = producer_id >= 0 ? 0 : -1;
  std::string bytes = record::build_batch(b, opts);
  ASSERT_TRUE(log.append(reinterpret_cast<uint8_t*>(bytes.data()), bytes.size(), 0, ts).ok);
}

// One batch of tombstones whose delete horizon an earlier cleaning set (KIP-534), as a follower
// copies it from its leader.
void put_tombstones_with_horizon(Log& log, const std::vector<std::string>& keys, int64_t horizon) {
  std::vector<record::BuildRecord> b;
  for (const auto& k : keys) b.push_back({k, std::nullopt, {}, horizon});
  std::string bytes = record::build_batch(b, record::BuildOptions{});
  auto* p = reinterpret_cast<uint8_t*>(bytes.data());
  record::wire::store_be16(p + record::batch_offset::kAttributes, record::kDeleteHorizonBit);
  record::recompute_crc(p, bytes.size());
  ASSERT_TRUE(log.append(p, bytes.size(), 0, horizon).ok);
}

struct Seen {
  int64_t offset;
  std::string key;
  std::optional<std::string> value;
  record::Compression codec;
};

std::vector<Seen> read_all(const Log& log, int64_t* batches = nullptr) {
  const auto r = log.read(log.log_start_offset(), kNoLimit, kNoLimit, true);
  const std::string bytes = slice_bytes(r.slices);
  std::vector<Seen> out;
  std::string scratch;
  size_t pos = 0;
  if (batches != nullptr) *batches = 0;
  while (pos < bytes.size()) {
    record::BatchHeader h;
    const auto* p = reinterpret_cast<const uint8_t*>(bytes.data()) + pos;
    EXPECT_TRUE(record::parse_header(p, bytes.size() - pos, h));
    EXPECT_TRUE(record::crc_ok(p, h.total_size()));
    EXPECT_TRUE(record::for_each_record(p, h.total_size(), scratch, [&](const record::Record& rec) {
      out.push_back({rec.offset, std::string(rec.key.value_or("")),
                     rec.value ? std::optional<std::string>(std::string(*rec.value)) : std::nullopt,
                     h.compression()});
    }));
    if (batches != nullptr) ++*batches;
    pos += h.total_size();
  }
  return out;
}

CleanerTopicConfig eager() {
  CleanerTopicConfig c;
  c.min_cleanable_dirty_ratio = 0;
  return c;
}

// One cleaner round on the owner thread (as the cluster's CleanerManager does across threads).
CleanOutcome clean(Log& log, const CleanerTopicConfig& c, int64_t now_ms, int64_t checkpoint = -1,
                   bool install = true, size_t map_bytes = 1 << 20) {
  const auto view = log.cleaning_view();
  const auto range = dirty_range(view, checkpoint, log.log_end_offset(), now_ms, c);
  OffsetMap map(map_bytes, 1000);
  std::atomic<bool> stop{false};
  auto out = clean_log(view, range, c, now_ms, map, stop);
  if (install && out.status == CleanOutcome::Status::cleaned) {
    std::string error;
    EXPECT_EQ(log.install_cleaned(out.cleaned, &error), SwapOutcome::swapped) << error;
  }
  return out;
}

// 30 keys, 10 rounds of updates (value "<key>@<round>"), one batch of 3 records per append.
void fill_updates(Log& log, int rounds = 10, record::Compression c = record::Compression::none) {
  for (int round = 0; round < rounds; ++round) {
    for (int k = 0; k < 30; k += 3) {
      std::vector<Rec> recs;
      for (int j = k; j < k + 3; ++j) {
        recs.push_back(
            {"k" + std::to_string(j), "k" + std::to_string(j) + "@" + std::to_string(round)});
      }
      put(log, recs, c);
    }
  }
}

std::map<std::string, std::pair<int64_t, std::optional<std::string>>> latest(
    const std::vector<Seen>& records) {
  std::map<std::string, std::pair<int64_t, std::optional<std::string>>> m;
  for (const auto& r : records) m[r.key] = {r.offset, r.value};
  return m;
}

bool has_file_with(const fs::path& dir, std::string_view tail) {
  for (const auto& e : fs::directory_iterator(dir)) {
    if (e.path().filename().string().ends_with(tail)) return true;
  }
  return false;
}

TEST(LogCleaner, KeepsTheLatestRecordOfEachKeyAtItsOriginalOffset) {
  TempDir dir;
  auto log = open_log(dir.path());
  fill_updates(*log);
  ASSERT_GT(log->segment_count(), 4u);
  const auto before = read_all(*log);
  const auto want = latest(before);
  const int64_t end = log->log_end_offset();
  const auto out = clean(*log, eager(), kTs);
  ASSERT_EQ(out.status, CleanOutcome::Status::cleaned) << out.error;
  EXPECT_EQ(out.cleaned_up_to, log->cleaning_view().active_base);
  EXPECT_GT(out.stats.records_removed, 0);
  const auto after = read_all(*log);
  EXPECT_LT(after.size(), before.size());
  EXPECT_EQ(latest(after), want);  // same latest value at the same offset for every key
  // Offsets strictly increase, and below the active segment each key appears once.
  std::map<std::string, int> count;
  for (size_t i = 0; i < after.size(); ++i) {
    if (i > 0) {
      EXPECT_GT(after[i].offset, after[i - 1].offset);
    }
    if (after[i].offset < log->cleaning_view().active_base) ++count[after[i].key];
  }
  for (const auto& [key, n] : count) EXPECT_EQ(n, 1) << key;
  EXPECT_EQ(log->log_end_offset(), end);
  EXPECT_FALSE(has_file_with(dir.path(), ".cleaned"));
  EXPECT_FALSE(has_file_with(dir.path(), ".swap"));
  // The cleaned segments survive a reopen (indexes valid, offsets the same).
  log->close();
  log = open_log(dir.path(), end);
  EXPECT_EQ(latest(read_all(*log)), want);
  EXPECT_EQ(log->recovery_stats().indexes_rebuilt, 0);
  // Reads from inside a gap find the next surviving batch.
  const auto r = log->read(1, kNoLimit, kNoLimit, true);
  EXPECT_FALSE(r.out_of_range);
  EXPECT_GT(r.bytes, 0);
}

TEST(LogCleaner, ActiveSegmentIsNeverTouched) {
  TempDir dir;
  auto log = open_log(dir.path());
  fill_updates(*log);
  const auto view = log->cleaning_view();
  const auto active = segment_path(dir.path(), view.active_base, kLogSuffix);
  std::ifstream in(active, std::ios::binary);
  const std::string bytes((std::istreambuf_iterator<char>(in)), {});
  ASSERT_FALSE(bytes.empty());
  clean(*log, eager(), kTs);
  std::ifstream again(active, std::ios::binary);
  EXPECT_EQ(std::string((std::istreambuf_iterator<char>(again)), {}), bytes);
  for (const auto& r : read_all(*log)) {
    if (r.offset >= view.active_base) {
      EXPECT_NE(r.value, std::nullopt);
    }
  }
}

// The header of the batch holding `offset`, and its records' timestamps.
std::pair<record::BatchHeader, std::vector<int64_t>> batch_at(const Log& log, int64_t offset) {
  const auto r = log.read(offset, kNoLimit, kNoLimit, true);
  const std::string bytes = slice_bytes(r.slices);
  const auto* p = reinterpret_cast<const uint8_t*>(bytes.data());
  record::BatchHeader h{};
  EXPECT_TRUE(record::parse_header(p, bytes.size(), h));
  std::vector<int64_t> timestamps;
  std::string scratch;
  EXPECT_TRUE(record::crc_ok(p, bytes.size()));
  record::for_each_record(p, h.total_size(), scratch,
                          [&](const record::Record& rec) { timestamps.push_back(rec.timestamp); });
  return {h, timestamps};
}

TEST(LogCleaner, TombstonesStayDeleteRetentionAfterTheirFirstCleaning) {
  // KIP-534: the first cleaning that keeps a tombstone writes its delete horizon (now +
  // delete.retention.ms) into the batch; later cleanings drop it once the horizon has passed,
  // however old its timestamp (the records here are a long day older than the cleanings).
  TempDir dir;
  auto log = open_log(dir.path());
  fill_updates(*log, 4);
  const int64_t tombstones_at = log->log_end_offset();
  put(*log, {{"k1", std::nullopt}, {"k2", std::nullopt}});
  put(*log, {{"k2", "final"}});
  for (int i = 0; i < 40; ++i) put(*log, {{"z" + std::to_string(i), "filler"}});
  auto c = eager();
  c.delete_retention_ms = 1000;
  const int64_t first = kTs + 100'000'000;
  auto out = clean(*log, c, first);
  ASSERT_EQ(out.status, CleanOutcome::Status::cleaned) << out.error;
  auto m = latest(read_all(*log));
  ASSERT_EQ(m.count("k1"), 1u);  // kept: older values of k1 went
  EXPECT_EQ(m["k1"].second, std::nullopt);
  EXPECT_EQ(m["k1"].first, tombstones_at);
  const auto [h, timestamps] = batch_at(*log, tombstones_at);
  EXPECT_TRUE(h.has_delete_horizon());
  EXPECT_EQ(h.base_timestamp, first + 1000);
  EXPECT_EQ(h.max_timestamp, kTs);
  EXPECT_EQ(timestamps, std::vector<int64_t>({kTs}));  // record timestamps unchanged
  // A batch without tombstones keeps its bytes.
  EXPECT_FALSE(batch_at(*log, tombstones_at + 2).first.has_delete_horizon());
  // Before the horizon the tombstone stays, and the horizon is not moved.
  out = clean(*log, c, first + 999);
  ASSERT_NE(out.status, CleanOutcome::Status::failed) << out.error;
  EXPECT_EQ(latest(read_all(*log)).count("k1"), 1u);
  EXPECT_EQ(batch_at(*log, tombstones_at).first.base_timestamp, first + 1000);
  // At the horizon it goes.
  out = clean(*log, c, first + 1000);
  ASSERT_EQ(out.status, CleanOutcome::Status::cleaned) << out.error;
  m = latest(read_all(*log));
  EXPECT_EQ(m.count("k1"), 0u);
  EXPECT_EQ(m["k2"].second, std::optional<std::string>("final"));
}

TEST(LogCleaner, CompressedBatchesAreRewrittenWithTheirCodec) {
  for (const auto codec : {record::Compression::gzip, record::Compression::snappy,
                           record::Compression::lz4, record::Compression::zstd}) {
    TempDir dir;
    auto log = open_log(dir.path());
    fill_updates(*log, 10, codec);
    const auto want = latest(read_all(*log));
    const auto out = clean(*log, eager(), kTs);
    ASSERT_EQ(out.status, CleanOutcome::Status::cleaned) << out.error;
    const auto after = read_all(*log);
    EXPECT_EQ(latest(after), want) << record::compression_name(codec);
    for (const auto& r : after) EXPECT_EQ(r.codec, codec);
  }
}

TEST(LogCleaner, MinCompactionLagKeepsRecentSegmentsDirty) {
  TempDir dir;
  auto log = open_log(dir.path());
  fill_updates(*log, 5);
  const auto before = read_all(*log);
  auto c = eager();
  c.min_compaction_lag_ms = 60000;
  const auto view = log->cleaning_view();
  // Every segment is younger than the lag: nothing is cleanable.
  auto range = dirty_range(view, -1, log->log_end_offset(), kTs + 1000, c);
  EXPECT_EQ(range.first_uncleanable, view.log_start_offset);
  EXPECT_EQ(clean(*log, c, kTs + 1000).status, CleanOutcome::Status::nothing_to_do);
  EXPECT_EQ(read_all(*log).size(), before.size());
  // Once older than the lag, they are.
  range = dirty_range(view, -1, log->log_end_offset(), kTs + 60001, c);
  EXPECT_EQ(range.first_uncleanable, view.active_base);
  EXPECT_EQ(clean(*log, c, kTs + 60001).status, CleanOutcome::Status::cleaned);
  EXPECT_LT(read_all(*log).size(), before.size());
}

TEST(LogCleaner, DirtyRatioAndCheckpoint) {
  TempDir dir;
  auto log = open_log(dir.path());
  fill_updates(*log, 5);
  CleanerTopicConfig c;  // ratio 0.5
  auto view = log->cleaning_view();
  auto range = dirty_range(view, -1, log->log_end_offset(), kTs, c);
  EXPECT_EQ(range.first_dirty, 0);
  EXPECT_DOUBLE_EQ(range.ratio, 1.0);
  EXPECT_TRUE(range.cleanable(c));
  const auto out = clean(*log, c, kTs);
  view = log->cleaning_view();
  range = dirty_range(view, out.cleaned_up_to, log->log_end_offset(), kTs, c);
  EXPECT_EQ(range.dirty_bytes, 0);
  EXPECT_FALSE(range.cleanable(c));
  // A checkpoint beyond the active segment (a truncated log) starts over at the log start.
  range = dirty_range(view, view.active_base + 1000, log->log_end_offset(), kTs, c);
  EXPECT_EQ(range.first_dirty, 0);
}

TEST(LogCleaner, AFullMapCleansUpToWhereItReached) {
  TempDir dir;
  auto log = open_log(dir.path());
  fill_updates(*log, 10);
  const auto want = latest(read_all(*log));
  // Room for 10 slots * 0.9 -> 9 keys: the dirty range stops after three batches.
  auto out = clean(*log, eager(), kTs, -1, true, 10 * OffsetMap::kSlotBytes);
  ASSERT_EQ(out.status, CleanOutcome::Status::cleaned) << out.error;
  EXPECT_GT(out.cleaned_up_to, 0);
  EXPECT_LT(out.cleaned_up_to, log->cleaning_view().active_base);
  EXPECT_EQ(latest(read_all(*log)), want);
  int64_t checkpoint = out.cleaned_up_to;
  for (int i = 0; i < 200 && checkpoint < log->cleaning_view().active_base; ++i) {
    out = clean(*log, eager(), kTs, checkpoint, true, 10 * OffsetMap::kSlotBytes);
    ASSERT_NE(out.status, CleanOutcome::Status::failed) << out.error;
    checkpoint = out.cleaned_up_to;
  }
  EXPECT_EQ(checkpoint, log->cleaning_view().active_base);
  EXPECT_EQ(latest(read_all(*log)), want);
}

TEST(LogCleaner, LastBatchOfAProducerStaysAsAnEmptyBatch) {
  TempDir dir;
  auto log = open_log(dir.path());
  put(*log, {{"a", "1"}}, record::Compression::none, kTs, 77);  // producer 77's only batch
  fill_updates(*log, 1);
  put(*log, {{"a", "2"}});  // supersedes producer 77's record
  fill_updates(*log, 5);
  ASSERT_EQ(clean(*log, eager(), kTs).status, CleanOutcome::Status::cleaned);
  const auto r = log->read(0, kNoLimit, kNoLimit, true);
  const std::string bytes = slice_bytes(r.slices);
  record::BatchHeader h;
  ASSERT_TRUE(
      record::parse_header(reinterpret_cast<const uint8_t*>(bytes.data()), bytes.size(), h));
  EXPECT_EQ(h.base_offset, 0);
  EXPECT_EQ(h.producer_id, 77);
  EXPECT_EQ(h.records_count, 0);
  EXPECT_TRUE(record::crc_ok(reinterpret_cast<const uint8_t*>(bytes.data()), h.total_size()));
}

// The batch headers of every .log file in dir, by segment base offset.
std::map<int64_t, std::vector<record::BatchHeader>> batches_by_segment(const fs::path& dir) {
  std::map<int64_t, std::vector<record::BatchHeader>> out;
  for (const auto& e : fs::directory_iterator(dir)) {
    if (e.path().extension() != ".log") continue;
    std::ifstream in(e.path(), std::ios::binary);
    const std::string bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    auto& list = out[std::stoll(e.path().stem().string())];
    for (size_t pos = 0; pos < bytes.size();) {
      record::BatchHeader h;
      EXPECT_TRUE(record::parse_header(reinterpret_cast<const uint8_t*>(bytes.data()) + pos,
                                       bytes.size() - pos, h));
      list.push_back(h);
      pos += h.total_size();
    }
  }
  return out;
}

TEST(LogCleaner, AnEmptyBatchGoesOnceItIsNoLongerItsProducersLast) {
  TempDir dir;
  auto log = open_log(dir.path());
  put(*log, {{"a", "1"}}, record::Compression::none, kTs, 77);
  fill_updates(*log, 1);
  put(*log, {{"a", "2"}});
  fill_updates(*log, 5);
  ASSERT_EQ(clean(*log, eager(), kTs).status, CleanOutcome::Status::cleaned);
  auto first = batches_by_segment(dir.path()).begin()->second.front();
  ASSERT_EQ(first.base_offset, 0);  // kept empty: producer 77's last batch
  ASSERT_EQ(first.records_count, 0);
  // Producer 77 writes again: its batch at offset 0 no longer carries its state.
  const int64_t later = log->log_end_offset();
  put(*log, {{"p", "x"}}, record::Compression::none, kTs, 77);
  fill_updates(*log, 5);
  ASSERT_EQ(clean(*log, eager(), kTs).status, CleanOutcome::Status::cleaned);
  for (const auto& [base, headers] : batches_by_segment(dir.path())) {
    for (const auto& h : headers) {
      EXPECT_FALSE(h.producer_id == 77 && h.base_offset < later) << "batch at " << h.base_offset;
    }
  }
  EXPECT_EQ(latest(read_all(*log))["p"].second, std::optional<std::string>("x"));
}

TEST(LogCleaner, EmptyBatchesOfEarlierCleaningsDoNotAccumulate) {
  // Each cleaning keeps the emptied last batch of every group (its output segment ends there);
  // the next cleaning, merging those segments, keeps only the new groups' last ones.
  TempDir dir;
  auto log = open_log(dir.path());
  CleanerTopicConfig past_horizon = eager();
  past_horizon.delete_retention_ms = 1;
  for (int round = 0; round < 4; ++round) {
    fill_updates(*log, 3);
    std::vector<Rec> tombstones;
    for (int k = 0; k < 30; ++k) tombstones.push_back({"k" + std::to_string(k), std::nullopt});
    put(*log, tombstones);
    for (int i = 0; i < 20; ++i) put(*log, {{"filler", "f" + std::to_string(i)}});
    ASSERT_EQ(clean(*log, past_horizon, kTs + 10 * (round + 1)).status,
              CleanOutcome::Status::cleaned);
  }
  size_t empty = 0;
  for (const auto& [base, headers] : batches_by_segment(dir.path())) {
    for (size_t i = 0; i < headers.size(); ++i) {
      if (headers[i].records_count != 0) continue;
      ++empty;
      EXPECT_EQ(i + 1, headers.size())
          << "empty batch at " << headers[i].base_offset << " inside segment " << base;
    }
  }
  EXPECT_GT(empty, 0u);  // the case: emptied group ends were made
  for (const auto& [key, last] : latest(read_all(*log))) {
    EXPECT_TRUE(key == "filler" || !last.second) << key;
  }
}

TEST(LogCleaner, ResultIsDiscardedWhenRetentionChangedTheLogMeanwhile) {
  TempDir dir;
  auto log = open_log(dir.path());
  fill_updates(*log);
  const auto before = read_all(*log);
  const auto out = clean(*log, eager(), kTs, -1, false);
  ASSERT_EQ(out.status, CleanOutcome::Status::cleaned);
  ASSERT_TRUE(has_file_with(dir.path(), ".cleaned"));
  // Meanwhile (on the owner thread) DeleteRecords moves the log start: a new generation.
  ASSERT_TRUE(log->advance_log_start_offset(1));
  std::string error;
  EXPECT_EQ(log->install_cleaned(out.cleaned, &error), SwapOutcome::stale);
  EXPECT_FALSE(has_file_with(dir.path(), ".cleaned"));
  EXPECT_EQ(read_all(*log).size(), before.size());
}

// Crash states of the swap, made by hand from a cleaning that was not installed.
enum class CrashAt { cleaned_written, index_renamed, log_committed, half_finished };

// Renames the files of every output of `cleaned` as a crash at `at` leaves them.
void leave_as_crashed(const fs::path& dir, const CleanedSegments& cleaned, CrashAt at) {
  auto rename = [&](int64_t base, std::string_view suffix, std::string_view from,
                    std::string_view to) {
    fs::rename(segment_path(dir, base, std::string(suffix) + std::string(from)),
               segment_path(dir, base, std::string(suffix) + std::string(to)));
  };
  for (const auto& c : cleaned.segments) {
    const int64_t base = c.after.base_offset;
    if (at == CrashAt::cleaned_written) continue;
    rename(base, kIndexSuffix, kCleanedSuffix, kSwapSuffix);
    rename(base, kTimeIndexSuffix, kCleanedSuffix, kSwapSuffix);
    if (at == CrashAt::index_renamed) continue;
    rename(base, kLogSuffix, kCleanedSuffix, kSwapSuffix);
    if (at == CrashAt::half_finished) rename(base, kIndexSuffix, kSwapSuffix, "");
  }
}

// With `merge`, the log was cleaned once already and the interrupted cleaning merges its small
// segments into groups.
void crash_and_recover(CrashAt at, bool merge = false) {
  TempDir dir;
  auto log = open_log(dir.path());
  fill_updates(*log);
  if (merge) {
    ASSERT_EQ(clean(*log, eager(), kTs).status, CleanOutcome::Status::cleaned);
  }
  const auto before = read_all(*log);
  const auto want = latest(before);
  const size_t segments = log->segment_count();
  const auto out = clean(*log, eager(), kTs, -1, false);
  ASSERT_EQ(out.status, CleanOutcome::Status::cleaned);
  const int64_t end = log->log_end_offset();
  log->close();
  log.reset();
  std::ofstream(dir.path() / "00000000000000000000.snapshot") << "producer state";
  leave_as_crashed(dir.path(), out.cleaned, at);
  log = open_log(dir.path(), end);
  const auto after = read_all(*log);
  EXPECT_EQ(latest(after), want);  // no live record lost in any state
  if (merge && (at == CrashAt::log_committed || at == CrashAt::half_finished)) {
    EXPECT_EQ(after.size(), before.size());  // nothing more to remove, but fewer segments
    EXPECT_LT(log->segment_count(), segments);
  } else if (at == CrashAt::log_committed || at == CrashAt::half_finished) {
    EXPECT_LT(after.size(), before.size());  // the committed swap was completed
  } else {
    EXPECT_EQ(after.size(), before.size());  // uncommitted: the old segments stay
  }
  EXPECT_FALSE(has_file_with(dir.path(), ".cleaned"));
  EXPECT_FALSE(has_file_with(dir.path(), ".swap"));
  EXPECT_TRUE(fs::exists(dir.path() / "00000000000000000000.snapshot"));
  EXPECT_EQ(log->log_end_offset(), end);
}

TEST(LogCleaner, RecoveryDeletesCleanedFiles) {
  crash_and_recover(CrashAt::cleaned_written);
}
TEST(LogCleaner, RecoveryDeletesUncommittedIndexSwaps) {
  crash_and_recover(CrashAt::index_renamed);
}
TEST(LogCleaner, RecoveryCompletesCommittedSwaps) {
  crash_and_recover(CrashAt::log_committed);
}
TEST(LogCleaner, RecoveryCompletesHalfFinishedSwaps) {
  crash_and_recover(CrashAt::half_finished);
}

TEST(LogCleaner, RecoveryCompletesACommittedMergeOfSegments) {
  crash_and_recover(CrashAt::log_committed, true);
}
TEST(LogCleaner, RecoveryDropsAnUncommittedMergeOfSegments) {
  crash_and_recover(CrashAt::index_renamed, true);
}

TEST(LogCleaner, RecoveryOfAMergeWhoseLastRecordsWentBringsNoDeletedKeyBack) {
  // A cleaned log (small segments) gets a tombstone for every key (with a delete horizon, as a
  // follower copies them from a leader that cleaned them), then a cleaning past the horizon
  // merges the small segments, whose records all go (superseded by the tombstones), and drops
  // the tombstones. A crash after the commit must not leave the merged
  // group's later segments: their records would bring the deleted keys back.
  TempDir dir;
  auto log = open_log(dir.path());
  fill_updates(*log);
  ASSERT_EQ(clean(*log, eager(), kTs).status, CleanOutcome::Status::cleaned);
  std::vector<std::string> keys;
  for (int k = 0; k < 30; ++k) keys.push_back("k" + std::to_string(k));
  put_tombstones_with_horizon(*log, keys, kTs + 5);
  for (int i = 0; i < 20; ++i) put(*log, {{"filler", "f" + std::to_string(i)}});
  const int64_t end = log->log_end_offset();
  CleanerTopicConfig past_horizon = eager();
  past_horizon.delete_retention_ms = 1;
  const auto out = clean(*log, past_horizon, kTs + 10, -1, false);
  ASSERT_EQ(out.status, CleanOutcome::Status::cleaned);
  size_t merged = 0;
  for (const auto& c : out.cleaned.segments) merged = std::max(merged, c.before.size());
  ASSERT_GT(merged, 1u);  // the case: a group of several segments
  log->close();
  log.reset();
  leave_as_crashed(dir.path(), out.cleaned, CrashAt::log_committed);
  log = open_log(dir.path(), end);
  for (const auto& [key, last] : latest(read_all(*log))) {
    EXPECT_TRUE(key == "filler" || !last.second) << key << " came back as " << *last.second;
  }
}

TEST(LogCleaner, SmallCleanedSegmentsAreMergedUpToSegmentBytes) {
  TempDir dir;
  auto log = open_log(dir.path());
  fill_updates(*log, 20);
  ASSERT_EQ(clean(*log, eager(), kTs).status, CleanOutcome::Status::cleaned);
  const size_t after_first = log->segment_count();
  const auto want = latest(read_all(*log));
  // A second round over the (now small) cleaned segments merges them.
  const auto out = clean(*log, eager(), kTs);
  ASSERT_EQ(out.status, CleanOutcome::Status::cleaned) << out.error;
  EXPECT_LT(log->segment_count(), after_first);
  EXPECT_EQ(latest(read_all(*log)), want);
  for (const auto& e : fs::directory_iterator(dir.path())) {
    if (e.path().extension() == ".log") {
      EXPECT_LE(fs::file_size(e.path()), 1024u) << e.path();
    }
  }
  const int64_t end = log->log_end_offset();
  const size_t merged = log->segment_count();
  log->close();
  log = open_log(dir.path(), end);
  EXPECT_EQ(log->segment_count(), merged);
  EXPECT_EQ(latest(read_all(*log)), want);
  EXPECT_EQ(log->log_end_offset(), end);
  // Appends continue after the merged segments.
  put(*log, {{"new", "value"}});
  EXPECT_EQ(latest(read_all(*log))["new"].first, end);
}

TEST(OffsetMap, LatestOffsetPerKeyAndBoundedSize) {
  OffsetMap map(100 * OffsetMap::kSlotBytes, 1000);
  EXPECT_EQ(map.get("a"), -1);
  EXPECT_TRUE(map.put("a", 5));
  EXPECT_TRUE(map.put("a", 9));
  EXPECT_TRUE(map.put("b", 7));
  EXPECT_EQ(map.get("a"), 9);
  EXPECT_EQ(map.get("b"), 7);
  size_t added = 2;
  while (map.put("key-" + std::to_string(added), 1)) ++added;
  EXPECT_EQ(added, map.capacity());
  EXPECT_LE(map.capacity(), 100u);
  EXPECT_TRUE(map.put("a", 10));  // known keys still update when full
  EXPECT_EQ(map.get("a"), 10);
}

}  // namespace
}  // namespace kaffa::storage
