#include "storage/log.h"

#include <gtest/gtest.h>

#include "storage_testing.h"

namespace kaffa::storage {
namespace {

using testing::append;
using testing::make_batch;
using testing::parse_batches;
using testing::slice_bytes;
using testing::TempDir;

constexpr int64_t kNoLimit = std::numeric_limits<int64_t>::max();

LogConfig small_config() {
  LogConfig cfg;
  cfg.segment_bytes = 4096;
  cfg.index_interval_bytes = 300;
  return cfg;
}

std::unique_ptr<Log> open_log(const std::filesystem::path& dir, const LogConfig& cfg,
                              int64_t recovery_point = 0) {
  std::string error;
  auto log = Log::open(dir, cfg, recovery_point, &error);
  EXPECT_NE(log, nullptr) << error;
  return log;
}

// Appends `batches` batches of 1..4 records each; returns the (base, last) of every batch.
std::vector<std::pair<int64_t, int64_t>> fill(Log& log, int batches, int64_t ts0 = 1000) {
  std::vector<std::pair<int64_t, int64_t>> out;
  for (int i = 0; i < batches; ++i) {
    testing::BatchSpec spec;
    spec.records = 1 + i % 4;
    spec.base_timestamp = ts0 + 10 * i;
    spec.value_size = 20 + static_cast<size_t>(i % 7) * 15;
    const auto r = append(log, make_batch(spec));
    EXPECT_TRUE(r.ok) << r.error;
    out.emplace_back(r.base_offset, r.last_offset);
  }
  return out;
}

TEST(Log, NewLogIsEmptyWithOneSegment) {
  TempDir tmp;
  auto log = open_log(tmp.path() / "t-0", small_config());
  EXPECT_EQ(log->log_start_offset(), 0);
  EXPECT_EQ(log->log_end_offset(), 0);
  EXPECT_EQ(log->segment_count(), 1u);
  EXPECT_TRUE(std::filesystem::exists(tmp.path() / "t-0" / "00000000000000000000.log"));
  EXPECT_TRUE(std::filesystem::exists(tmp.path() / "t-0" / "00000000000000000000.index"));
  EXPECT_TRUE(std::filesystem::exists(tmp.path() / "t-0" / "00000000000000000000.timeindex"));
  const auto r = log->read(0, 1000, kNoLimit, true);
  EXPECT_FALSE(r.out_of_range);
  EXPECT_TRUE(r.slices.empty());
  EXPECT_TRUE(log->read(1, 1000, kNoLimit, true).out_of_range);
  EXPECT_EQ(log->max_timestamp(), std::make_pair(int64_t{-1}, int64_t{-1}));
}

TEST(Log, AppendAssignsConsecutiveOffsetsAndEpoch) {
  TempDir tmp;
  auto log = open_log(tmp.path(), small_config());
  testing::BatchSpec spec;
  spec.records = 3;
  auto r = append(*log, make_batch(spec) + make_batch(spec), 0, 42);
  ASSERT_TRUE(r.ok) << r.error;
  EXPECT_EQ(r.base_offset, 0);
  EXPECT_EQ(r.last_offset, 5);
  r = append(*log, make_batch(spec));
  EXPECT_EQ(r.base_offset, 6);
  EXPECT_EQ(log->log_end_offset(), 9);
  const auto read = log->read(0, 1 << 20, kNoLimit, false);
  const auto batches = parse_batches(slice_bytes(read.slices));
  ASSERT_EQ(batches.size(), 3u);
  EXPECT_EQ(batches[0].base_offset, 0);
  EXPECT_EQ(batches[1].base_offset, 3);
  EXPECT_EQ(batches[1].leader_epoch, 42);
  EXPECT_EQ(batches[2].base_offset, 6);
  EXPECT_EQ(batches[2].leader_epoch, 7);
  for (const auto& b : batches) EXPECT_TRUE(b.crc_ok);
}

TEST(Log, RejectsMalformedAppendWithoutChange) {
  TempDir tmp;
  auto log = open_log(tmp.path(), small_config());
  auto bytes = make_batch({});
  bytes.resize(bytes.size() - 1);
  const auto r = append(*log, bytes);
  EXPECT_FALSE(r.ok);
  EXPECT_FALSE(r.error.empty());
  EXPECT_EQ(log->log_end_offset(), 0);
  EXPECT_EQ(log->size_bytes(), 0);
}

// Every offset, read with generous limits, gives the whole batch holding it and everything after.
void expect_every_offset_readable(const Log& log,
                                  const std::vector<std::pair<int64_t, int64_t>>& batches) {
  for (size_t i = 0; i < batches.size(); ++i) {
    for (int64_t o = batches[i].first; o <= batches[i].second; ++o) {
      const auto r = log.read(o, 1 << 30, kNoLimit, false);
      ASSERT_FALSE(r.out_of_range);
      const auto got = parse_batches(slice_bytes(r.slices));
      ASSERT_EQ(got.size(), batches.size() - i) << "offset " << o;
      EXPECT_EQ(got.front().base_offset, batches[i].first);
      EXPECT_EQ(got.back().last_offset, batches.back().second);
      for (size_t k = 0; k < got.size(); ++k) {
        EXPECT_EQ(got[k].base_offset, batches[i + k].first);
        EXPECT_TRUE(got[k].crc_ok);
      }
    }
  }
}

TEST(Log, RoundTripAcrossSegmentRollsAndReopen) {
  TempDir tmp;
  const auto cfg = small_config();
  auto log = open_log(tmp.path(), cfg);
  const auto batches = fill(*log, 120);
  EXPECT_GT(log->segment_count(), 4u);
  for (const auto& entry : std::filesystem::directory_iterator(tmp.path())) {
    if (entry.path().extension() == ".log") {
      EXPECT_LE(testing::file_size(entry.path()), cfg.segment_bytes);
    }
  }
  expect_every_offset_readable(*log, batches);
  ASSERT_TRUE(log->close());
  const int64_t end = log->recovery_point();
  EXPECT_EQ(end, batches.back().second + 1);
  log.reset();
  log = open_log(tmp.path(), cfg, end);
  EXPECT_EQ(log->recovery_stats().segments_scanned, 0);
  EXPECT_EQ(log->recovery_stats().indexes_rebuilt, 0);
  EXPECT_EQ(log->log_end_offset(), end);
  expect_every_offset_readable(*log, batches);
  // Appending continues after reopen.
  const auto r = append(*log, make_batch({}));
  EXPECT_EQ(r.base_offset, end);
}

TEST(Log, ReadLimits) {
  TempDir tmp;
  LogConfig cfg;
  cfg.index_interval_bytes = 100;
  auto log = open_log(tmp.path(), cfg);
  testing::BatchSpec spec;
  spec.records = 2;
  spec.value_size = 100;
  const auto one = make_batch(spec);
  const auto size = static_cast<int64_t>(one.size());
  for (int i = 0; i < 10; ++i) ASSERT_TRUE(append(*log, one).ok);  // offsets 0..19

  // max_bytes: whole batches only.
  auto r = log->read(0, 3 * size + size / 2, kNoLimit, false);
  EXPECT_EQ(r.bytes, 3 * size);
  EXPECT_EQ(parse_batches(slice_bytes(r.slices)).size(), 3u);
  // From the middle of a batch: starts at that batch.
  r = log->read(5, 2 * size, kNoLimit, false);
  auto got = parse_batches(slice_bytes(r.slices));
  ASSERT_EQ(got.size(), 2u);
  EXPECT_EQ(got[0].base_offset, 4);
  // First batch larger than max_bytes: only with min_one_batch.
  EXPECT_EQ(log->read(4, size - 1, kNoLimit, false).bytes, 0);
  r = log->read(4, size - 1, kNoLimit, true);
  EXPECT_EQ(r.bytes, size);
  EXPECT_EQ(log->read(4, 0, kNoLimit, true).bytes, size);
  // max_offset (high watermark): a batch whose last offset >= max_offset is not returned.
  r = log->read(0, 1 << 20, 7, true);
  got = parse_batches(slice_bytes(r.slices));
  ASSERT_EQ(got.size(), 3u);
  EXPECT_EQ(got.back().last_offset, 5);
  r = log->read(0, 1 << 20, 8, true);
  EXPECT_EQ(parse_batches(slice_bytes(r.slices)).back().last_offset, 7);
  EXPECT_EQ(log->read(6, 1 << 20, 7, true).bytes, 0);
  // Bounds.
  EXPECT_FALSE(log->read(20, 100, kNoLimit, true).out_of_range);
  EXPECT_EQ(log->read(20, 100, kNoLimit, true).bytes, 0);
  EXPECT_TRUE(log->read(21, 100, kNoLimit, true).out_of_range);
  EXPECT_TRUE(log->read(-1, 100, kNoLimit, true).out_of_range);
}

// Brute force against a model, across segments and both paths (active and older segments).
TEST(Log, ReadMatchesModelForAllLimits) {
  TempDir tmp;
  auto cfg = small_config();
  cfg.index_interval_bytes = 150;
  auto log = open_log(tmp.path(), cfg);
  const auto batches = fill(*log, 60);
  std::vector<int64_t> sizes;
  {
    const auto all = slice_bytes(log->read(0, 1 << 30, kNoLimit, false).slices);
    size_t pos = 0;
    while (pos < all.size()) {
      record::BatchHeader h;
      record::parse_header(reinterpret_cast<const uint8_t*>(all.data()) + pos, all.size() - pos, h);
      sizes.push_back(static_cast<int64_t>(h.total_size()));
      pos += h.total_size();
    }
  }
  ASSERT_EQ(sizes.size(), batches.size());
  const int64_t end = batches.back().second + 1;
  for (int64_t offset = 0; offset < end; offset += 3) {
    for (const int64_t max_bytes : {int64_t{0}, int64_t{150}, int64_t{700}, int64_t{5000}}) {
      for (const int64_t hw : {offset + 1, offset + 9, end}) {
        for (const bool min_one : {false, true}) {
          // Model.
          size_t i = 0;
          while (batches[i].second < offset) ++i;
          int64_t bytes = 0;
          size_t n = 0;
          for (size_t k = i; k < batches.size(); ++k) {
            if (batches[k].second >= hw) break;
            if (bytes + sizes[k] > max_bytes) {
              if (min_one && n == 0) {
                bytes += sizes[k];
                ++n;
              }
              break;
            }
            bytes += sizes[k];
            ++n;
          }
          const auto r = log->read(offset, max_bytes, hw, min_one);
          const auto got = parse_batches(slice_bytes(r.slices));
          ASSERT_EQ(r.bytes, bytes) << offset << " " << max_bytes << " " << hw << " " << min_one;
          ASSERT_EQ(got.size(), n);
          if (n > 0) {
            EXPECT_EQ(got[0].base_offset, batches[i].first);
          }
        }
      }
    }
  }
}

TEST(Log, RollsBySegmentMs) {
  TempDir tmp;
  LogConfig cfg;
  cfg.segment_ms = 1000;
  auto log = open_log(tmp.path(), cfg);
  ASSERT_TRUE(append(*log, make_batch({}), 10'000).ok);
  ASSERT_TRUE(append(*log, make_batch({}), 10'500).ok);
  EXPECT_EQ(log->segment_count(), 1u);
  ASSERT_TRUE(append(*log, make_batch({}), 11'001).ok);
  EXPECT_EQ(log->segment_count(), 2u);
}

TEST(Log, RollsWhenIndexIsFull) {
  TempDir tmp;
  LogConfig cfg;
  cfg.index_interval_bytes = 1;
  cfg.segment_index_bytes = 8 * 4;
  auto log = open_log(tmp.path(), cfg);
  const auto batches = fill(*log, 30);
  EXPECT_GT(log->segment_count(), 5u);
  expect_every_offset_readable(*log, batches);
}

TEST(Log, OffsetForTimestamp) {
  TempDir tmp;
  auto log = open_log(tmp.path(), small_config());
  // Batch i: 4 records, timestamps 1000 + 100 i + {0, 10, 20, 30}; offsets 4i .. 4i+3.
  for (int i = 0; i < 50; ++i) {
    testing::BatchSpec spec;
    spec.records = 4;
    spec.base_timestamp = 1000 + 100 * i;
    spec.timestamp_step = 10;
    spec.value_size = 40;
    ASSERT_TRUE(append(*log, make_batch(spec)).ok);
  }
  ASSERT_GT(log->segment_count(), 2u);
  for (const bool reopen : {false, true}) {
    if (reopen) {
      log->close();
      const int64_t rp = log->recovery_point();
      log.reset();
      log = open_log(tmp.path(), small_config(), rp);
    }
    EXPECT_EQ(log->offset_for_timestamp(0), std::make_pair(int64_t{0}, int64_t{1000}));
    EXPECT_EQ(log->offset_for_timestamp(1000), std::make_pair(int64_t{0}, int64_t{1000}));
    EXPECT_EQ(log->offset_for_timestamp(1001), std::make_pair(int64_t{1}, int64_t{1010}));
    EXPECT_EQ(log->offset_for_timestamp(1031), std::make_pair(int64_t{4}, int64_t{1100}));
    EXPECT_EQ(log->offset_for_timestamp(3725), std::make_pair(int64_t{111}, int64_t{3730}));
    EXPECT_EQ(log->offset_for_timestamp(5930), std::make_pair(int64_t{199}, int64_t{5930}));
    EXPECT_EQ(log->offset_for_timestamp(5931), std::nullopt);
    EXPECT_EQ(log->max_timestamp(), std::make_pair(int64_t{5930}, int64_t{199}));
  }
}

TEST(Log, OffsetForTimestampCompressedBatchGivesBaseOffset) {
  TempDir tmp;
  auto log = open_log(tmp.path(), small_config());
  testing::BatchSpec spec;
  spec.records = 5;
  spec.timestamp_step = 10;
  spec.attributes = 4;  // "zstd": records are opaque to storage
  ASSERT_TRUE(append(*log, make_batch(spec)).ok);
  EXPECT_EQ(log->offset_for_timestamp(1015), std::make_pair(int64_t{0}, int64_t{1040}));
}

TEST(Log, OffsetForTimestampWithRecordTimestampsPast2To63IsDefined) {
  // A producer's timestamp deltas are not range-checked: base + delta may pass 2^63 - 1 (Java
  // wraps it). Found by log_recovery_fuzz under UBSan.
  TempDir tmp;
  auto log = open_log(tmp.path(), small_config());
  testing::BatchSpec spec;
  spec.records = 3;
  spec.timestamp_step = 10;
  std::string b = make_batch(spec);
  const auto top = static_cast<uint64_t>(std::numeric_limits<int64_t>::max() - 15);
  testing::put_be(b, 27, top, 8);  // base timestamp: record 2's (top + 20) wraps
  testing::put_be(b, 35, static_cast<uint64_t>(std::numeric_limits<int64_t>::max()), 8);  // max
  ASSERT_TRUE(append(*log, b).ok);
  // Above records 0 (top) and 1 (top + 10): the search reaches record 2, whose timestamp wraps
  // below, and answers with the batch (its max timestamp), as for a batch it cannot look into.
  const auto found = log->offset_for_timestamp(std::numeric_limits<int64_t>::max() - 4);
  ASSERT_TRUE(found.has_value());
  EXPECT_EQ(found->second, std::numeric_limits<int64_t>::max());
}

}  // namespace
}  // namespace kaffa::storage
