// The log start offset (DeleteRecords, restore after open) and retention by time and size.
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <sys/time.h>

#include "storage/log.h"
#include "storage_testing.h"

namespace kaffa::storage {
namespace {

namespace fs = std::filesystem;
using testing::append;
using testing::make_batch;
using testing::parse_batches;
using testing::slice_bytes;
using testing::TempDir;

constexpr int64_t kNoLimit = std::numeric_limits<int64_t>::max();

LogConfig config() {
  LogConfig cfg;
  cfg.segment_bytes = 1024;  // three of the batches below per segment
  cfg.index_interval_bytes = 200;
  return cfg;
}

std::unique_ptr<Log> open_log(const fs::path& dir, int64_t recovery_point = 0) {
  std::string error;
  auto log = Log::open(dir, config(), recovery_point, &error);
  EXPECT_NE(log, nullptr) << error;
  return log;
}

// 2-record batches: batch i holds offsets 2i, 2i+1, both with timestamp ts0 + i * ts_step.
void fill(Log& log, int batches, int64_t ts0 = 1000, int64_t ts_step = 1) {
  for (int i = 0; i < batches; ++i) {
    ASSERT_TRUE(append(log, make_batch({2, ts0 + i * ts_step, 0, 90})).ok);
  }
}

// Base offsets of the segments, from the directory.
std::vector<int64_t> segment_bases(const fs::path& dir) {
  std::vector<int64_t> out;
  for (const auto& e : fs::directory_iterator(dir)) {
    int64_t base;
    std::string suffix;
    if (parse_segment_name(e.path().filename().string(), &base, &suffix) && suffix == ".log") {
      out.push_back(base);
    }
  }
  std::sort(out.begin(), out.end());
  return out;
}

int64_t first_read_offset(const Log& log, int64_t offset) {
  const auto r = log.read(offset, 1 << 20, kNoLimit, true);
  if (r.out_of_range) return -2;
  const auto got = parse_batches(slice_bytes(r.slices));
  return got.empty() ? -1 : got.front().base_offset;
}

TEST(LogRetention, SegmentLayoutOfTheseTests) {
  TempDir tmp;
  auto log = open_log(tmp.path());
  fill(*log, 12);
  EXPECT_EQ(segment_bases(tmp.path()), (std::vector<int64_t>{0, 6, 12, 18}));
  EXPECT_EQ(log->log_start_offset(), 0);
  EXPECT_EQ(log->log_end_offset(), 24);
}

TEST(LogRetention, AdvanceLogStartInsideASegment) {
  TempDir tmp;
  auto log = open_log(tmp.path());
  fill(*log, 12);
  ASSERT_TRUE(log->advance_log_start_offset(9));
  EXPECT_EQ(log->log_start_offset(), 9);
  EXPECT_EQ(segment_bases(tmp.path()), (std::vector<int64_t>{6, 12, 18}));  // 0-5 deleted
  EXPECT_TRUE(log->read(8, 1 << 20, kNoLimit, true).out_of_range);
  EXPECT_TRUE(log->read(0, 1 << 20, kNoLimit, true).out_of_range);
  EXPECT_EQ(first_read_offset(*log, 9), 8);  // whole batches: the one holding 9 starts at 8
  // Never backwards; never past the log end.
  ASSERT_TRUE(log->advance_log_start_offset(5));
  EXPECT_EQ(log->log_start_offset(), 9);
  EXPECT_FALSE(log->advance_log_start_offset(25));
  EXPECT_EQ(log->log_start_offset(), 9);
  // Timestamp lookups skip records below the log start (batch 4 holds 8 and 9).
  const auto found = log->offset_for_timestamp(0);
  ASSERT_TRUE(found);
  EXPECT_EQ(found->first, 9);
  EXPECT_EQ(found->second, 1004);
}

TEST(LogRetention, AdvanceToTheLogEndRollsAndEmptiesTheLog) {
  TempDir tmp;
  auto log = open_log(tmp.path());
  fill(*log, 12);
  ASSERT_TRUE(log->advance_log_start_offset(24));
  EXPECT_EQ(log->log_start_offset(), 24);
  EXPECT_EQ(log->log_end_offset(), 24);
  EXPECT_EQ(log->segment_count(), 1u);
  EXPECT_EQ(log->size_bytes(), 0);
  EXPECT_FALSE(log->read(24, 1 << 20, kNoLimit, true).out_of_range);
  EXPECT_TRUE(log->read(23, 1 << 20, kNoLimit, true).out_of_range);
  EXPECT_EQ(append(*log, make_batch({2, 5000, 0, 90})).base_offset, 24);
}

TEST(LogRetention, RestoreLogStartOffsetAfterOpen) {
  TempDir tmp;
  {
    auto log = open_log(tmp.path());
    fill(*log, 12);
    ASSERT_TRUE(log->advance_log_start_offset(9));
    ASSERT_TRUE(log->close());
  }
  {
    auto log = open_log(tmp.path(), 24);
    EXPECT_EQ(log->log_start_offset(), 6);  // the files alone only know the first base
    ASSERT_TRUE(log->restore_log_start_offset(9));
    EXPECT_EQ(log->log_start_offset(), 9);
    EXPECT_TRUE(log->read(8, 1 << 20, kNoLimit, true).out_of_range);
    EXPECT_EQ(first_read_offset(*log, 9), 8);
    ASSERT_TRUE(log->close());
  }
  {
    auto log = open_log(tmp.path(), 24);
    ASSERT_TRUE(log->restore_log_start_offset(0));  // below the first segment: its base
    EXPECT_EQ(log->log_start_offset(), 6);
    // Wholly below a checkpointed start (crash before the deletion): deleted at restore.
    ASSERT_TRUE(log->restore_log_start_offset(13));
    EXPECT_EQ(segment_bases(tmp.path()), (std::vector<int64_t>{12, 18}));
    ASSERT_TRUE(log->close());
  }
  {
    auto log = open_log(tmp.path(), 24);
    // Above the log end (segments lost): the log restarts there, as Kafka's LogLoader.
    ASSERT_TRUE(log->restore_log_start_offset(40));
    EXPECT_EQ(log->log_start_offset(), 40);
    EXPECT_EQ(log->log_end_offset(), 40);
    EXPECT_EQ(segment_bases(tmp.path()), (std::vector<int64_t>{40}));
    EXPECT_EQ(append(*log, make_batch({2, 5000, 0, 90})).base_offset, 40);
  }
}

TEST(LogRetention, TruncateBelowLogStartRestartsThere) {
  TempDir tmp;
  auto log = open_log(tmp.path());
  fill(*log, 12);
  ASSERT_TRUE(log->advance_log_start_offset(9));
  ASSERT_TRUE(log->truncate_to(7));
  EXPECT_EQ(log->log_start_offset(), 7);
  EXPECT_EQ(log->log_end_offset(), 7);
}

TEST(LogRetention, TimeRetentionDeletesExpiredOldestSegments) {
  TempDir tmp;
  auto log = open_log(tmp.path());
  fill(*log, 12, 1000, 1000);  // segment max timestamps 3000, 6000, 9000, 12000 (active)
  const auto slice = log->read(0, 1 << 20, 6, true);
  const std::string before = slice_bytes(slice.slices);
  ASSERT_FALSE(before.empty());
  const Log::RetentionLimits limits{5000, -1};
  // Nothing at or above the high watermark goes: segment 0 holds offsets up to 5.
  EXPECT_EQ(log->enforce_retention(limits, 12000, 5).segments_deleted, 0);
  const auto r = log->enforce_retention(limits, 12000, 24);
  EXPECT_EQ(r.segments_deleted, 2);  // ages 9000 and 6000 > 5000; 3000 is kept
  EXPECT_GT(r.bytes_deleted, 0);
  EXPECT_EQ(segment_bases(tmp.path()), (std::vector<int64_t>{12, 18}));
  EXPECT_EQ(log->log_start_offset(), 12);
  EXPECT_TRUE(log->read(11, 1 << 20, kNoLimit, true).out_of_range);
  EXPECT_EQ(slice_bytes(slice.slices), before);  // in-flight slices stay readable
  // Exactly at the limit is not expired (Kafka: now - largest > retention.ms).
  EXPECT_EQ(log->enforce_retention(limits, 14000, 24).segments_deleted, 0);
  // Unlimited.
  EXPECT_EQ(log->enforce_retention({-1, -1}, 1'000'000'000, 24).segments_deleted, 0);
}

TEST(LogRetention, ExpiredActiveSegmentIsRolledThenDeleted) {
  TempDir tmp;
  auto log = open_log(tmp.path());
  fill(*log, 12, 1000, 1000);
  const auto r = log->enforce_retention({5000, -1}, 100000, 24);
  EXPECT_EQ(r.segments_deleted, 4);
  EXPECT_EQ(log->segment_count(), 1u);
  EXPECT_EQ(segment_bases(tmp.path()), (std::vector<int64_t>{24}));
  EXPECT_EQ(log->log_start_offset(), 24);
  EXPECT_EQ(log->log_end_offset(), 24);
  EXPECT_EQ(append(*log, make_batch({2, 100000, 0, 90})).base_offset, 24);
  // The empty active segment alone is never deleted.
  ASSERT_TRUE(log->advance_log_start_offset(26));
  EXPECT_EQ(log->enforce_retention({0, 0}, 10'000'000, 26).segments_deleted, 0);
  EXPECT_EQ(log->segment_count(), 1u);
}

TEST(LogRetention, ActiveSegmentNotRolledWhileOlderSegmentsAreKept) {
  TempDir tmp;
  auto log = open_log(tmp.path());
  fill(*log, 12, 1000, 1000);
  // The active segment is old by its timestamps only if everything before it is: deletion stops
  // at the first kept segment (oldest first).
  EXPECT_EQ(log->enforce_retention({5000, -1}, 8500, 24).segments_deleted, 1);
  EXPECT_EQ(log->segment_count(), 3u);
  EXPECT_EQ(log->log_end_offset(), 24);
}

TEST(LogRetention, SegmentsWithoutTimestampsAgeByModificationTime) {
  TempDir tmp;
  auto log = open_log(tmp.path());
  fill(*log, 12, -1, 0);  // no timestamps at all
  const int64_t now = std::chrono::duration_cast<std::chrono::milliseconds>(
                          std::chrono::system_clock::now().time_since_epoch())
                          .count();
  EXPECT_EQ(log->enforce_retention({3600000, -1}, now, 24).segments_deleted, 0);
  // Make the first two segments two hours old.
  for (int64_t base : {0, 6}) {
    const auto path = segment_path(tmp.path(), base, kLogSuffix);
    struct timeval times[2];
    times[0].tv_sec = times[1].tv_sec = static_cast<time_t>(now / 1000 - 7200);
    times[0].tv_usec = times[1].tv_usec = 0;
    ASSERT_EQ(::utimes(path.c_str(), times), 0);
  }
  EXPECT_EQ(log->enforce_retention({3600000, -1}, now, 24).segments_deleted, 2);
  EXPECT_EQ(log->log_start_offset(), 12);
}

TEST(LogRetention, SizeRetentionKeepsTheLogAtOrAboveTheLimit) {
  TempDir tmp;
  auto log = open_log(tmp.path());
  fill(*log, 12);
  const int64_t segment = log->size_bytes() / 4;  // four equal segments
  ASSERT_EQ(segment * 4, log->size_bytes());
  // Below the limit: nothing.
  EXPECT_EQ(log->enforce_retention({-1, 4 * segment + 1}, 0, 24).segments_deleted, 0);
  // 2.5 segments allowed: deleting one leaves 3 (>= 2.5), a second would leave 2 (< 2.5).
  const auto r = log->enforce_retention({-1, segment * 5 / 2}, 0, 24);
  EXPECT_EQ(r.segments_deleted, 1);
  EXPECT_EQ(r.bytes_deleted, segment);
  EXPECT_EQ(log->log_start_offset(), 6);
  // Exactly two segments allowed: two more go.
  EXPECT_EQ(log->enforce_retention({-1, 2 * segment}, 0, 24).segments_deleted, 1);
  EXPECT_EQ(log->size_bytes(), 2 * segment);
  EXPECT_EQ(log->enforce_retention({-1, 2 * segment}, 0, 24).segments_deleted, 0);
  // Zero bytes: everything goes, the active segment rolled first.
  EXPECT_EQ(log->enforce_retention({-1, 0}, 0, 24).segments_deleted, 2);
  EXPECT_EQ(log->size_bytes(), 0);
  EXPECT_EQ(log->log_start_offset(), 24);
  EXPECT_EQ(log->log_end_offset(), 24);
}

TEST(LogRetention, RetentionAfterReopenAndFlushHandOff) {
  TempDir tmp;
  {
    auto log = open_log(tmp.path());
    fill(*log, 12, 1000, 1000);
    ASSERT_TRUE(log->close());
  }
  auto log = open_log(tmp.path(), 24);
  // Max timestamps of trusted segments come from their time indexes.
  auto ticket = log->flush_ticket();
  EXPECT_EQ(log->enforce_retention({5000, -1}, 12000, 24).segments_deleted, 2);
  ASSERT_TRUE(ticket.sync());
  log->mark_flushed(ticket.end_offset);
  EXPECT_EQ(log->recovery_point(), 24);
  fill(*log, 6, 20000, 1000);
  auto t2 = log->flush_ticket();
  EXPECT_EQ(log->enforce_retention({5000, -1}, 100000, log->log_end_offset()).segments_deleted, 4);
  ASSERT_TRUE(t2.sync());
  log->mark_flushed(t2.end_offset);
  EXPECT_EQ(log->recovery_point(), 36);
  ASSERT_TRUE(log->close());
  auto again = open_log(tmp.path(), 36);
  EXPECT_EQ(again->log_start_offset(), 36);
  EXPECT_EQ(again->log_end_offset(), 36);
}

}  // namespace
}  // namespace kaffa::storage
