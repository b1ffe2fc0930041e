#include <gtest/gtest.h>

#include <algorithm>
#include <fstream>

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
  cfg.segment_bytes = 2048;
  cfg.index_interval_bytes = 200;
  return cfg;
}

std::unique_ptr<Log> open_log(const fs::path& dir, int64_t recovery_point) {
  std::string error;
  auto log = Log::open(dir, config(), recovery_point, &error);
  EXPECT_NE(log, nullptr) << error;
  return log;
}

struct Written {
  std::vector<std::pair<int64_t, int64_t>> batches;  // (base, last)
  std::vector<int64_t> positions;                    // in its segment's file
  std::vector<int64_t> segment_base;
};

Written write_log(const fs::path& dir, int n) {
  Written w;
  auto log = open_log(dir, 0);
  for (int i = 0; i < n; ++i) {
    testing::BatchSpec spec;
    spec.records = 1 + i % 3;
    spec.base_timestamp = 5000 + i;
    spec.value_size = 60;
    const auto before = log->segment_count();
    const int64_t size_before = log->size_bytes();
    const auto r = append(*log, make_batch(spec));
    EXPECT_TRUE(r.ok);
    (void)before;
    w.batches.emplace_back(r.base_offset, r.last_offset);
    // Position within the active segment: its size before the append (0 after a roll).
    const int64_t active_base = [&] {
      int64_t base = 0;
      for (const auto& e : fs::directory_iterator(dir)) {
        if (e.path().extension() == ".log") {
          base = std::max<int64_t>(base, std::stoll(e.path().stem().string()));
        }
      }
      return base;
    }();
    w.segment_base.push_back(active_base);
    w.positions.push_back(active_base == r.base_offset ? 0 : -1);
    (void)size_before;
  }
  // Positions: recompute per segment from the file contents.
  int64_t pos = 0;
  for (size_t i = 0; i < w.batches.size(); ++i) {
    if (i > 0 && w.segment_base[i] != w.segment_base[i - 1]) pos = 0;
    w.positions[i] = pos;
    pos += static_cast<int64_t>(make_batch({1 + static_cast<int>(i) % 3, 0, 1, 60}).size());
  }
  EXPECT_TRUE(log->close());
  return w;
}

fs::path seg(const fs::path& dir, int64_t base, const char* ext) {
  char name[32];
  std::snprintf(name, sizeof name, "%020lld%s", static_cast<long long>(base), ext);
  return dir / name;
}

void expect_batches(const Log& log, const Written& w, size_t count) {
  ASSERT_EQ(log.log_end_offset(), count == 0 ? 0 : w.batches[count - 1].second + 1);
  const auto got = parse_batches(slice_bytes(log.read(0, 1 << 30, kNoLimit, false).slices));
  ASSERT_EQ(got.size(), count);
  for (size_t i = 0; i < count; ++i) {
    EXPECT_EQ(got[i].base_offset, w.batches[i].first);
    EXPECT_TRUE(got[i].crc_ok);
  }
}

void flip_byte(const fs::path& file, int64_t position) {
  std::fstream f(file, std::ios::in | std::ios::out | std::ios::binary);
  f.seekg(position);
  char c;
  f.get(c);
  f.seekp(position);
  f.put(static_cast<char>(c ^ 0x5a));
}

std::string contents(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), {});
}

TEST(Recovery, TruncatedAtEveryByteOfTheLastBatch) {
  TempDir tmp;
  const auto orig = tmp.path() / "orig";
  const auto w = write_log(orig, 40);
  const size_t last = w.batches.size() - 1;
  const auto log_file = seg(orig, w.segment_base[last], ".log");
  const int64_t start = w.positions[last];
  const int64_t end = testing::file_size(log_file);
  ASSERT_GT(end - start, 61);
  for (int64_t cut = start; cut < end; ++cut) {
    for (const int64_t rp : {int64_t{0}, w.batches[last].first, w.batches[last].second + 1}) {
      const auto dir = tmp.path() / "copy";
      fs::remove_all(dir);
      fs::copy(orig, dir);
      fs::resize_file(seg(dir, w.segment_base[last], ".log"), static_cast<uintmax_t>(cut));
      auto log = open_log(dir, rp);
      ASSERT_NE(log, nullptr);
      SCOPED_TRACE("cut " + std::to_string(cut) + " rp " + std::to_string(rp));
      expect_batches(*log, w, last);
      EXPECT_EQ(log->recovery_stats().bytes_truncated, cut - start);
      EXPECT_LE(log->recovery_point(), w.batches[last].first);
      const auto r = append(*log, make_batch({}));
      EXPECT_EQ(r.base_offset, w.batches[last].first);
    }
  }
}

TEST(Recovery, FlippedByteInLastBatchTruncatesThere) {
  TempDir tmp;
  const auto orig = tmp.path() / "orig";
  const auto w = write_log(orig, 30);
  const size_t last = w.batches.size() - 1;
  const int64_t start = w.positions[last];
  // Inside the CRC-covered part (attributes onwards), the length and the magic.
  for (const int64_t at : {int64_t{8}, int64_t{16}, int64_t{21}, int64_t{40}, int64_t{70}}) {
    const auto dir = tmp.path() / "copy";
    fs::remove_all(dir);
    fs::copy(orig, dir);
    flip_byte(seg(dir, w.segment_base[last], ".log"), start + at);
    auto log = open_log(dir, 0);
    SCOPED_TRACE("byte " + std::to_string(at));
    expect_batches(*log, w, last);
  }
}

void write_base_offset(const fs::path& file, int64_t position, int64_t base) {
  std::fstream f(file, std::ios::in | std::ios::out | std::ios::binary);
  f.seekp(position);
  for (int shift = 56; shift >= 0; shift -= 8) {
    f.put(static_cast<char>(static_cast<uint64_t>(base) >> shift));
  }
}

TEST(Recovery, BaseOffsetOutOfTheSegmentsRangeTruncatesThere) {
  // The base offset lies before the CRC'd bytes: damage there passes the CRC check. A last
  // offset past 2^63 - 1, or more than 2^31 - 1 above the segment's base (what an index entry
  // holds), ends the log before that batch, as a bad CRC does.
  TempDir tmp;
  const auto orig = tmp.path() / "orig";
  const auto w = write_log(orig, 30);
  const size_t last = w.batches.size() - 1;
  ASSERT_GT(w.batches[last].second, w.batches[last].first);  // lastOffsetDelta > 0
  const int64_t seg_base = w.segment_base[last];
  for (const int64_t base :
       {std::numeric_limits<int64_t>::max(), seg_base + std::numeric_limits<int32_t>::max()}) {
    const auto dir = tmp.path() / "copy";
    fs::remove_all(dir);
    fs::copy(orig, dir);
    write_base_offset(seg(dir, seg_base, ".log"), w.positions[last], base);
    auto log = open_log(dir, 0);
    ASSERT_NE(log, nullptr);
    SCOPED_TRACE("base " + std::to_string(base));
    expect_batches(*log, w, last);
    EXPECT_GT(log->recovery_stats().bytes_truncated, 0);
  }
}

TEST(Recovery, CorruptBatchInOlderSegmentDeletesLaterSegments) {
  TempDir tmp;
  const auto w = write_log(tmp.path(), 60);
  // A batch in the second segment.
  size_t victim = 0;
  while (w.segment_base[victim] == w.segment_base[0]) ++victim;
  victim += 2;
  ASSERT_NE(w.segment_base[victim], w.segment_base.back());
  flip_byte(seg(tmp.path(), w.segment_base[victim], ".log"), w.positions[victim] + 50);
  auto log = open_log(tmp.path(), w.segment_base[victim]);
  expect_batches(*log, w, victim);
  EXPECT_GT(log->recovery_stats().segments_deleted, 0);
  EXPECT_FALSE(fs::exists(seg(tmp.path(), w.segment_base.back(), ".log")));
  EXPECT_FALSE(fs::exists(seg(tmp.path(), w.segment_base.back(), ".index")));
}

TEST(Recovery, CleanReopenAtRecoveryPointDoesNotScan) {
  TempDir tmp;
  const auto w = write_log(tmp.path(), 60);
  const int64_t end = w.batches.back().second + 1;
  // Damage the payload of a batch in the first segment: only a CRC scan would notice.
  flip_byte(seg(tmp.path(), 0, ".log"), w.positions[1] + 70);
  {
    auto log = open_log(tmp.path(), end);
    EXPECT_EQ(log->recovery_stats().segments_scanned, 0);
    EXPECT_EQ(log->recovery_stats().batches_scanned, 0);
    EXPECT_EQ(log->recovery_stats().indexes_rebuilt, 0);
    EXPECT_EQ(log->log_end_offset(), end);  // not truncated: the segment was not scanned
  }
  // With the recovery point at 0 the scan finds it.
  auto log = open_log(tmp.path(), 0);
  EXPECT_GT(log->recovery_stats().segments_scanned, 0);
  expect_batches(*log, w, 1);
}

TEST(Recovery, OnlySegmentsFromTheRecoveryPointAreScanned) {
  TempDir tmp;
  const auto w = write_log(tmp.path(), 60);
  const int64_t last_base = w.segment_base.back();
  auto log = open_log(tmp.path(), last_base + 1);
  EXPECT_EQ(log->recovery_stats().segments_scanned, 1);
  expect_batches(*log, w, w.batches.size());
}

class IndexDamage : public ::testing::TestWithParam<int> {};

TEST_P(IndexDamage, IndexIsRebuiltIdentically) {
  TempDir tmp;
  const auto w = write_log(tmp.path(), 60);
  const int64_t end = w.batches.back().second + 1;
  const int64_t victim_base = w.segment_base.front();
  const auto index = seg(tmp.path(), victim_base, ".index");
  const auto time_index = seg(tmp.path(), victim_base, ".timeindex");
  const std::string index_before = contents(index);
  const std::string time_before = contents(time_index);
  ASSERT_GE(index_before.size(), 16u);
  switch (GetParam()) {
    case 0:
      fs::remove(index);
      break;
    case 1:
      fs::resize_file(index, index_before.size() - 3);
      break;   // wrong size
    case 2: {  // not increasing
      std::ofstream(index, std::ios::binary) << index_before.substr(8, 8) << index_before;
      break;
    }
    case 3: {  // points past the log
      std::string bad = index_before;
      bad[bad.size() - 4] = 0x7f;
      std::ofstream(index, std::ios::binary) << bad;
      break;
    }
    case 4:
      fs::remove(time_index);
      break;
    case 5: {  // last entry points at a position that is not its batch
      std::string bad = index_before;
      bad[bad.size() - 1] = static_cast<char>(bad[bad.size() - 1] + 1);
      std::ofstream(index, std::ios::binary) << bad;
      break;
    }
  }
  auto log = open_log(tmp.path(), end);
  EXPECT_EQ(log->recovery_stats().indexes_rebuilt, 1);
  EXPECT_EQ(log->recovery_stats().segments_scanned, 0);
  EXPECT_EQ(contents(index), index_before);
  EXPECT_EQ(contents(time_index), time_before);
  expect_batches(*log, w, w.batches.size());
  // Every offset is found through the (rebuilt) index.
  for (size_t i = 0; i < w.batches.size(); ++i) {
    const auto r = log->read(w.batches[i].second, 1, kNoLimit, true);
    const auto got = parse_batches(slice_bytes(r.slices));
    ASSERT_EQ(got.size(), 1u);
    EXPECT_EQ(got[0].base_offset, w.batches[i].first);
  }
}

INSTANTIATE_TEST_SUITE_P(Damage, IndexDamage, ::testing::Range(0, 6));

TEST(Recovery, CrashWithoutCloseKeepsFlushedData) {
  TempDir tmp;
  int64_t flushed;
  {
    auto log = open_log(tmp.path(), 0);
    for (int i = 0; i < 30; ++i) ASSERT_TRUE(append(*log, make_batch({2, 1, 1, 80})).ok);
    const auto ticket = log->flush_ticket();
    EXPECT_FALSE(ticket.files.empty());
    EXPECT_EQ(ticket.end_offset, 60);
    ASSERT_TRUE(ticket.sync());
    log->mark_flushed(ticket.end_offset);
    EXPECT_EQ(log->recovery_point(), 60);
    flushed = log->recovery_point();
    for (int i = 0; i < 5; ++i) ASSERT_TRUE(append(*log, make_batch({2, 1, 1, 80})).ok);
    EXPECT_EQ(log->recovery_point(), 60);
    // destroyed without close(): like a crash (the page cache survives in this test)
  }
  auto log = open_log(tmp.path(), flushed);
  EXPECT_EQ(log->log_end_offset(), 70);
  EXPECT_EQ(log->recovery_point(), 60);
}

// A new log's directory is synced with its first flush, not at creation: without that, acked
// (flushed) data could sit in segment files whose directory entries a power loss forgets.
TEST(Recovery, FirstFlushOfANewLogSyncsItsDirectory) {
  TempDir tmp;
  auto log = open_log(tmp.path(), 0);
  const auto syncs_dir = [&](const FlushTicket& t) {
    return std::find(t.directories.begin(), t.directories.end(), log->dir()) != t.directories.end();
  };
  auto t = log->flush_ticket();  // even before any append
  EXPECT_TRUE(syncs_dir(t));
  ASSERT_TRUE(append(*log, make_batch({})).ok);
  t = log->flush_ticket();
  EXPECT_TRUE(syncs_dir(t));
  ASSERT_TRUE(t.sync());
  log->mark_flushed(t.end_offset);
  ASSERT_TRUE(append(*log, make_batch({})).ok);
  EXPECT_FALSE(syncs_dir(log->flush_ticket()));  // once is enough
}

TEST(Recovery, FlushTicketIsEmptyWhenNothingIsPending) {
  TempDir tmp;
  auto log = open_log(tmp.path(), 0);
  ASSERT_TRUE(append(*log, make_batch({})).ok);
  auto t = log->flush_ticket();
  ASSERT_TRUE(t.sync());
  log->mark_flushed(t.end_offset);
  const auto idle = log->flush_ticket();
  EXPECT_TRUE(idle.files.empty());
  EXPECT_TRUE(idle.directories.empty());
  log->mark_flushed(0);  // monotonic
  EXPECT_EQ(log->recovery_point(), 1);
}

}  // namespace
}  // namespace kaffa::storage
