#include <dirent.h>
#include <gtest/gtest.h>

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
  cfg.segment_bytes = 1024;
  cfg.index_interval_bytes = 200;
  cfg.max_open_read_files = 2;
  return cfg;
}

std::unique_ptr<Log> open_log(const fs::path& dir, int64_t recovery_point = 0) {
  std::string error;
  auto log = Log::open(dir, config(), recovery_point, &error);
  EXPECT_NE(log, nullptr) << error;
  return log;
}

// 2-record batches: batch i holds offsets 2i, 2i+1.
void fill(Log& log, int batches) {
  for (int i = 0; i < batches; ++i) ASSERT_TRUE(append(log, make_batch({2, 1000 + i, 0, 90})).ok);
}

int open_fds() {
  int n = 0;
  for ([[maybe_unused]] const auto& e : fs::directory_iterator("/proc/self/fd")) ++n;
  return n;
}

TEST(LogSegments, DeleteSegmentsBefore) {
  TempDir tmp;
  auto log = open_log(tmp.path());
  fill(*log, 40);
  const size_t segments = log->segment_count();
  ASSERT_GT(segments, 4u);
  EXPECT_EQ(log->delete_segments_before(0), 0);
  const int64_t start = log->delete_segments_before(30);
  EXPECT_LE(start, 30);
  EXPECT_GT(start, 0);
  EXPECT_LT(log->segment_count(), segments);
  EXPECT_TRUE(log->read(start - 1, 100, kNoLimit, true).out_of_range);
  const auto got = parse_batches(slice_bytes(log->read(start, 1 << 20, kNoLimit, false).slices));
  ASSERT_FALSE(got.empty());
  EXPECT_EQ(got.front().base_offset, start);
  EXPECT_EQ(got.back().last_offset, 79);
  // Everything: the active segment is rolled first, the log stays appendable at its end.
  EXPECT_EQ(log->delete_segments_before(80), 80);
  EXPECT_EQ(log->segment_count(), 1u);
  EXPECT_EQ(log->log_end_offset(), 80);
  EXPECT_EQ(append(*log, make_batch({})).base_offset, 80);
  // Reopen: the start is the first remaining segment.
  log->close();
  log = open_log(tmp.path(), log->recovery_point());
  EXPECT_EQ(log->log_start_offset(), 80);
  EXPECT_EQ(log->log_end_offset(), 81);
}

TEST(LogSegments, TruncateTo) {
  TempDir tmp;
  auto log = open_log(tmp.path());
  fill(*log, 40);
  ASSERT_TRUE(log->truncate_to(51));  // mid-batch: the batch 50..51 goes as a whole
  EXPECT_EQ(log->log_end_offset(), 50);
  auto got = parse_batches(slice_bytes(log->read(0, 1 << 20, kNoLimit, false).slices));
  ASSERT_EQ(got.size(), 25u);
  EXPECT_EQ(got.back().last_offset, 49);
  EXPECT_EQ(append(*log, make_batch({3, 0, 0, 10})).base_offset, 50);
  ASSERT_TRUE(log->truncate_to(20));
  EXPECT_EQ(log->log_end_offset(), 20);
  fill(*log, 5);
  EXPECT_EQ(log->log_end_offset(), 30);
  for (int64_t o = 0; o < 30; ++o) {
    got = parse_batches(slice_bytes(log->read(o, 1, kNoLimit, true).slices));
    ASSERT_EQ(got.size(), 1u);
    EXPECT_EQ(got[0].base_offset, o - o % 2);
  }
  // Reopen after truncation: consistent, the indexes are valid.
  log->close();
  log = open_log(tmp.path(), log->recovery_point());
  EXPECT_EQ(log->log_end_offset(), 30);
  EXPECT_EQ(log->recovery_stats().indexes_rebuilt, 0);
  // Below the log start: empty log restarting there.
  log->delete_segments_before(10);
  const int64_t start = log->log_start_offset();
  ASSERT_GT(start, 0);
  ASSERT_TRUE(log->truncate_to(start - 1));
  EXPECT_EQ(log->log_start_offset(), start - 1);
  EXPECT_EQ(log->log_end_offset(), start - 1);
  EXPECT_EQ(append(*log, make_batch({})).base_offset, start - 1);
}

TEST(LogSegments, FileSliceOutlivesCloseAndDeletion) {
  TempDir tmp;
  auto log = open_log(tmp.path());
  fill(*log, 30);
  const auto first = log->read(0, 300, kNoLimit, true);
  const auto tail = log->read(58, 300, kNoLimit, true);  // active segment
  const std::string first_bytes = slice_bytes(first.slices);
  const std::string tail_bytes = slice_bytes(tail.slices);
  ASSERT_FALSE(first_bytes.empty());
  ASSERT_FALSE(tail_bytes.empty());
  log->delete_segments_before(60);
  log->close();
  log.reset();
  fs::remove_all(tmp.path() / "00000000000000000000.log");
  EXPECT_EQ(slice_bytes(first.slices), first_bytes);
  EXPECT_EQ(slice_bytes(tail.slices), tail_bytes);
  EXPECT_EQ(parse_batches(first_bytes).front().base_offset, 0);
}

TEST(LogSegments, OpenDescriptorsStayBounded) {
  TempDir tmp;
  auto log = open_log(tmp.path());
  fill(*log, 200);
  ASSERT_GT(log->segment_count(), 20u);
  // Flush so that rolled segments are released by the flush hand-off.
  const auto ticket = log->flush_ticket();
  ASSERT_TRUE(ticket.sync());
  log->mark_flushed(ticket.end_offset);
  const int before = open_fds();
  for (int64_t o = 0; o < 400; o += 7) {
    const auto r = log->read(o, 100, kNoLimit, true);
    ASSERT_EQ(r.slices.size(), 1u);
  }
  // The cache holds at most max_open_read_files (2) descriptors beyond the active segment's.
  EXPECT_LE(open_fds(), before + 2);
}

// A broker has thousands of active logs: each holds the descriptor of its active .log only (the
// indexes are written behind, the directory is opened to be synced).
TEST(LogSegments, AnActiveLogHoldsOneDescriptor) {
  TempDir tmp;
  constexpr int kLogs = 20;
  const int before = open_fds();
  std::vector<std::unique_ptr<Log>> logs;
  for (int i = 0; i < kLogs; ++i) {
    logs.push_back(open_log(tmp.path() / ("t-" + std::to_string(i))));
    fill(*logs.back(), 3);  // one segment, index entries written
    ASSERT_EQ(logs.back()->segment_count(), 1u);
  }
  EXPECT_EQ(open_fds(), before + kLogs);
  for (auto& log : logs) {
    const auto ticket = log->flush_ticket();  // syncs the new directory, opened for the sync
    ASSERT_TRUE(ticket.sync());
    log->mark_flushed(ticket.end_offset);
  }
  EXPECT_EQ(open_fds(), before + kLogs);
}

// The active index keeps its newest entries in memory and writes the rest behind: lookups of
// every offset stay exact across the in-memory and on-file parts, close() writes everything, and
// an index missing its unwritten end after a crash is accepted as it is.
TEST(LogSegments, ActiveIndexIsWrittenBehind) {
  TempDir tmp;
  LogConfig cfg;
  cfg.index_interval_bytes = 1;   // an entry for every batch after the first
  constexpr int kBatches = 3000;  // more entries than the in-memory tail holds (2048)
  std::string error;
  auto log = Log::open(tmp.path(), cfg, 0, &error);
  ASSERT_NE(log, nullptr) << error;
  fill(*log, kBatches);
  const auto index_path = tmp.path() / "00000000000000000000.index";
  const auto on_file = static_cast<int64_t>(testing::file_size(index_path));
  EXPECT_GT(on_file, 0);                            // written behind...
  EXPECT_LT(on_file, (kBatches - 1) * int64_t{8});  // ...not all yet
  const auto expect_all_readable = [&](const Log& l) {
    for (int64_t o = 0; o < 2 * kBatches; ++o) {
      const auto r = l.read(o, 1, kNoLimit, true);
      ASSERT_EQ(r.slices.size(), 1u) << o;
      const auto batches = parse_batches(slice_bytes(r.slices));
      ASSERT_EQ(batches.size(), 1u) << o;
      ASSERT_EQ(batches[0].base_offset, o - o % 2) << o;
    }
  };
  expect_all_readable(*log);
  // A process crash loses the pending entries: the file keeps what was written.
  const auto written = on_file;
  log.reset();  // destroyed without close(): the pending entries are written on the way out
  EXPECT_EQ(testing::file_size(index_path), (kBatches - 1) * int64_t{8});
  std::filesystem::resize_file(index_path, static_cast<uintmax_t>(written));
  log = Log::open(tmp.path(), cfg, 2 * kBatches, &error);
  ASSERT_NE(log, nullptr) << error;
  EXPECT_EQ(log->recovery_stats().indexes_rebuilt, 0);
  EXPECT_EQ(log->log_end_offset(), 2 * kBatches);
  expect_all_readable(*log);
  fill(*log, 10);
  ASSERT_TRUE(log->close());
  EXPECT_EQ(testing::file_size(index_path), written + 9 * 8);  // the first after a reopen has none
}

// The active .log gets disk blocks reserved ahead of its writes (without a change of size: readers
// and recovery see only the data), and every block past the data goes back at a roll, at close
// and, after a crash, when the log is opened again.
TEST(LogSegments, BlocksReservedAheadAreGivenBack) {
  TempDir tmp;
  LogConfig cfg;
  cfg.segment_bytes = 4 << 20;
  const auto first = tmp.path() / "00000000000000000000.log";
  const auto allocated = [](const fs::path& p) {
    std::string error;
    const auto f = SegmentFile::open(p, SegmentFile::Mode::read_only, &error);
    return f ? f->allocated() : -1;
  };
  std::string error;
  {
    const auto probe = SegmentFile::open(tmp.path() / "probe", SegmentFile::Mode::create, &error);
    ASSERT_NE(probe, nullptr) << error;
    if (!probe->reserve(0, 1 << 20)) GTEST_SKIP() << "no fallocate on this file system";
    fs::remove(probe->path());
  }
  auto log = Log::open(tmp.path(), cfg, 0, &error);
  ASSERT_NE(log, nullptr) << error;
  const std::string big = make_batch({1, 1000, 0, 300 << 10});  // ~300 KiB
  for (int i = 0; i < 4; ++i) ASSERT_TRUE(append(*log, big).ok);
  const int64_t size = testing::file_size(first);
  EXPECT_GT(allocated(first), size + 4096);               // reserved ahead
  ASSERT_EQ(size, static_cast<int64_t>(4 * big.size()));  // the size is the data's
  const auto r = log->read(0, 1 << 30, kNoLimit, true);
  EXPECT_EQ(r.bytes, size);
  // A crash keeps the reservation; opening the log again gives it back.
  log.reset();
  log = Log::open(tmp.path(), cfg, 0, &error);
  ASSERT_NE(log, nullptr) << error;
  EXPECT_LE(allocated(first), size + 4096);
  EXPECT_EQ(log->log_end_offset(), 4);
  // A roll gives back what the rolled segment had reserved.
  while (log->segment_count() == 1) ASSERT_TRUE(append(*log, big).ok);
  EXPECT_LE(allocated(first), testing::file_size(first) + 4096);
  // So does close() for the active segment.
  const auto active = tmp.path() / "00000000000000000013.log";
  ASSERT_TRUE(fs::exists(active));
  for (int i = 0; i < 2; ++i) ASSERT_TRUE(append(*log, big).ok);
  EXPECT_GT(allocated(active), testing::file_size(active) + 4096);
  ASSERT_TRUE(log->close());
  EXPECT_LE(allocated(active), testing::file_size(active) + 4096);
}

}  // namespace
}  // namespace kaffa::storage
