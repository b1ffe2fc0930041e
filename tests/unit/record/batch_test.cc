#include "record/batch.h"

#include <gtest/gtest.h>

#include <cstring>
#include <memory>
#include <string>

#include "record/builder.h"
#include "record/validate.h"
#include "test_util.h"

namespace kaffa::record {
namespace {

using testing::bytes;
using testing::sample_records;

TEST(BatchHeader, ParsesEveryField) {
  const std::string batch =
      build_batch(sample_records(1000), Compression::lz4, /*base_offset=*/77, /*producer_id=*/9,
                  /*producer_epoch=*/3, /*base_sequence=*/40);
  BatchHeader h{};
  ASSERT_TRUE(parse_header(bytes(batch), batch.size(), h));
  EXPECT_EQ(h.base_offset, 77);
  EXPECT_EQ(h.total_size(), batch.size());
  EXPECT_EQ(h.partition_leader_epoch, -1);
  EXPECT_EQ(h.magic, 2);
  EXPECT_EQ(h.compression(), Compression::lz4);
  EXPECT_EQ(h.timestamp_type(), TimestampType::create_time);
  EXPECT_FALSE(h.is_transactional());
  EXPECT_FALSE(h.is_control());
  EXPECT_EQ(h.last_offset_delta, 4);
  EXPECT_EQ(h.last_offset(), 81);
  EXPECT_EQ(h.base_timestamp, 1000);
  EXPECT_EQ(h.max_timestamp, 1007);
  EXPECT_EQ(h.producer_id, 9);
  EXPECT_EQ(h.producer_epoch, 3);
  EXPECT_EQ(h.base_sequence, 40);
  EXPECT_EQ(h.records_count, 5);
  EXPECT_TRUE(crc_ok(bytes(batch), batch.size()));
}

TEST(BatchHeader, AttributeBits) {
  BuildOptions opts;
  opts.transactional = true;
  opts.control = true;
  opts.compression = Compression::zstd;
  opts.timestamp_type = TimestampType::log_append_time;
  const std::string batch = build_batch(sample_records(), opts);
  BatchHeader h{};
  ASSERT_TRUE(parse_header(bytes(batch), batch.size(), h));
  EXPECT_EQ(h.attributes, 0x3c);
  EXPECT_TRUE(h.is_transactional());
  EXPECT_TRUE(h.is_control());
  EXPECT_EQ(h.compression(), Compression::zstd);
  EXPECT_EQ(h.timestamp_type(), TimestampType::log_append_time);
}

TEST(BatchHeader, ShortInputIsRejected) {
  const std::string batch = build_batch(sample_records(), Compression::none);
  BatchHeader h{};
  for (size_t n = 0; n < kBatchHeaderSize; ++n) {
    std::unique_ptr<uint8_t[]> copy(new uint8_t[n + 1]);
    std::memcpy(copy.get(), batch.data(), n);
    EXPECT_FALSE(parse_header(copy.get(), n, h));
    EXPECT_FALSE(crc_ok(copy.get(), n));
  }
}

TEST(BatchPatch, SetBaseOffsetAndLeaderEpochKeepTheCrcValid) {
  std::string batch = build_batch(sample_records(), Compression::gzip);
  set_base_offset(bytes(batch), 123456789012345);
  set_partition_leader_epoch(bytes(batch), 17);
  EXPECT_TRUE(crc_ok(bytes(batch), batch.size()));
  BatchHeader h{};
  ASSERT_TRUE(parse_header(bytes(batch), batch.size(), h));
  EXPECT_EQ(h.base_offset, 123456789012345);
  EXPECT_EQ(h.partition_leader_epoch, 17);
  EXPECT_EQ(h.last_offset(), 123456789012345 + 4);
}

TEST(BatchPatch, SetLogAppendTimeRecomputesTheCrc) {
  std::string batch = build_batch(sample_records(), Compression::snappy);
  BatchHeader before{};
  ASSERT_TRUE(parse_header(bytes(batch), batch.size(), before));
  set_log_append_time(bytes(batch), batch.size(), 1'800'000'000'000);
  BatchHeader after{};
  ASSERT_TRUE(parse_header(bytes(batch), batch.size(), after));
  EXPECT_TRUE(crc_ok(bytes(batch), batch.size()));
  EXPECT_NE(after.crc, before.crc);
  EXPECT_EQ(after.timestamp_type(), TimestampType::log_append_time);
  EXPECT_EQ(after.max_timestamp, 1'800'000'000'000);
  EXPECT_EQ(after.compression(), Compression::snappy);
  EXPECT_EQ(after.base_timestamp, before.base_timestamp);
}

TEST(BatchPatch, PatchingACrcCoveredFieldWithoutRecomputingIsDetected) {
  std::string batch = build_batch(sample_records(), Compression::none);
  bytes(batch)[batch_offset::kMaxTimestamp + 7] ^= 1;
  EXPECT_FALSE(crc_ok(bytes(batch), batch.size()));
  recompute_crc(bytes(batch), batch.size());
  EXPECT_TRUE(crc_ok(bytes(batch), batch.size()));
}

TEST(BatchCrc, BatchLengthBeyondTheBufferIsNotOk) {
  std::string batch = build_batch(sample_records(), Compression::none);
  wire::store_be32(bytes(batch) + batch_offset::kBatchLength,
                   static_cast<uint32_t>(batch.size() - kBatchOverhead + 1));
  EXPECT_FALSE(crc_ok(bytes(batch), batch.size()));
  wire::store_be32(bytes(batch) + batch_offset::kBatchLength, 0x80000000u);
  EXPECT_FALSE(crc_ok(bytes(batch), batch.size()));
}

}  // namespace
}  // namespace kaffa::record
