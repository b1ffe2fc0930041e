#include "record/records.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "record/builder.h"
#include "record/validate.h"
#include "test_util.h"

namespace kaffa::record {
namespace {

using testing::bytes;
using testing::raw_batch;
using testing::sample_records;

// An owning copy of a Record, for comparisons after the views expire.
struct Owned {
  int64_t offset;
  int64_t timestamp;
  std::optional<std::string> key, value;
  std::vector<std::pair<std::string, std::optional<std::string>>> headers;
};

std::optional<std::string> own(std::optional<std::string_view> v) {
  return v ? std::optional<std::string>(std::string(*v)) : std::nullopt;
}

bool collect(const std::string& batch, std::vector<Owned>& out) {
  std::string scratch;
  out.clear();
  return for_each_record(bytes(batch), batch.size(), scratch, [&](const Record& r) {
    Owned o{r.offset, r.timestamp, own(r.key), own(r.value), {}};
    for (const Header& h : r.headers) o.headers.emplace_back(std::string(h.key), own(h.value));
    out.push_back(std::move(o));
  });
}

class RecordsCodecTest : public ::testing::TestWithParam<Compression> {};

TEST_P(RecordsCodecTest, BuildValidateIterateRoundTrip) {
  const std::vector<BuildRecord> in = sample_records();
  const std::string batch = build_batch(in, GetParam(), /*base_offset=*/1000);
  const ValidationResult v = validate_batches(bytes(batch), batch.size(), {});
  ASSERT_TRUE(v.ok()) << v.message;
  std::vector<Owned> out;
  ASSERT_TRUE(collect(batch, out));
  ASSERT_EQ(out.size(), in.size());
  for (size_t i = 0; i < in.size(); ++i) {
    EXPECT_EQ(out[i].offset, 1000 + static_cast<int64_t>(i));
    EXPECT_EQ(out[i].timestamp, in[i].timestamp);
    EXPECT_EQ(out[i].key, in[i].key) << i;
    EXPECT_EQ(out[i].value, in[i].value) << i;
    EXPECT_EQ(out[i].headers, in[i].headers) << i;
  }
  EXPECT_FALSE(out[1].key.has_value());
  EXPECT_FALSE(out[2].value.has_value());
  ASSERT_EQ(out[1].headers.size(), 3u);
  EXPECT_FALSE(out[1].headers[1].second.has_value());
  EXPECT_EQ(out[1].headers[2].second, std::optional<std::string>(""));
  EXPECT_EQ(out[3].key, std::optional<std::string>(""));
}

TEST_P(RecordsCodecTest, LogAppendTimeBatchesReportTheAppendTime) {
  std::string batch = build_batch(sample_records(), GetParam());
  set_log_append_time(bytes(batch), batch.size(), 42);
  std::vector<Owned> out;
  ASSERT_TRUE(collect(batch, out));
  for (const Owned& r : out) EXPECT_EQ(r.timestamp, 42);
}

TEST_P(RecordsCodecTest, CorruptOrTruncatedBatchesAreRejected) {
  const std::string batch = build_batch(sample_records(), GetParam());
  std::vector<Owned> out;
  for (size_t len = 0; len < batch.size(); ++len) {
    EXPECT_FALSE(collect(batch.substr(0, len), out)) << len;
  }
  std::string bad = batch;
  bad[batch.size() / 2] ^= 0x10;
  EXPECT_FALSE(collect(bad, out));
}

INSTANTIATE_TEST_SUITE_P(AllCodecs, RecordsCodecTest,
                         ::testing::Values(Compression::none, Compression::gzip,
                                           Compression::snappy, Compression::lz4,
                                           Compression::zstd),
                         [](const auto& info) { return compression_name(info.param); });

TEST(Records, OffsetGapsOfCompactedBatchesAreAllowed) {
  std::string section;
  append_record(section, {"a", "1", {}, 0}, 0, 0);
  append_record(section, {"b", "2", {}, 0}, 3, 5);
  std::vector<Owned> out;
  ASSERT_TRUE(collect(raw_batch(section, 2, 5, Compression::none, 100), out));
  ASSERT_EQ(out.size(), 2u);
  EXPECT_EQ(out[1].offset, 5);
  EXPECT_EQ(out[1].timestamp, 103);
}

TEST(Records, WrongCountOrTrailingBytesAreRejected) {
  std::string section;
  append_record(section, {"a", "1", {}, 0}, 0, 0);
  append_record(section, {"b", "2", {}, 0}, 0, 1);
  std::vector<Owned> out;
  EXPECT_TRUE(collect(raw_batch(section, 2, 1), out));
  EXPECT_FALSE(collect(raw_batch(section, 3, 2), out));
  EXPECT_FALSE(collect(raw_batch(section, 1, 0), out));
  EXPECT_FALSE(collect(raw_batch(section + "x", 2, 1), out));
}

// Batches written by an independent implementation (kafka-python 2.0.2's
// DefaultRecordBatchBuilder): producer id 1234, epoch 5, base sequence 42; records
// (k0, v0 | 'a' x 200) @1700000000000, (null, value-1, headers h1=x h2=null) @+5,
// (k2, null) @-10.
constexpr const char* kKafkaPythonPlain =
    "00000000000000000000005e0000000002b4905fbc0000000000020000018bcfe568000000018bcfe56805000000"
    "00000004d200050000002a0000000314000000046b300476300030000a02010e76616c75652d310604683102780468"
    "3201000010001304046b320100";
constexpr const char* kKafkaPythonGzip =
    "0000000000000000000000730000000002623a35aa0001000000020000018bcfe568000000018bcfe5680500000000"
    "000004d200050000002a000000031f8b08006b55086b02ff5bc4ccc0c0c0926d308139719800061d062e2646beb2c4"
    "9cd2545d4316960c43a60a960c234601066116966c23460600115c5608f3000000";

void check_kafka_python_batch(const std::string& batch, const std::string& first_value) {
  const ValidationResult v = validate_batches(bytes(batch), batch.size(), {});
  ASSERT_TRUE(v.ok()) << v.message;
  EXPECT_EQ(v.records, 3);
  EXPECT_EQ(v.max_timestamp, 1700000000005);
  std::vector<Owned> out;
  ASSERT_TRUE(collect(batch, out));
  ASSERT_EQ(out.size(), 3u);
  EXPECT_EQ(out[0].key, std::optional<std::string>("k0"));
  EXPECT_EQ(out[0].value, std::optional<std::string>(first_value));
  EXPECT_FALSE(out[1].key.has_value());
  EXPECT_EQ(out[1].value, std::optional<std::string>("value-1"));
  ASSERT_GE(out[1].headers.size(), 2u);
  EXPECT_EQ(out[1].headers[0].first, "h1");
  EXPECT_EQ(out[1].headers[0].second, std::optional<std::string>("x"));
  EXPECT_FALSE(out[1].headers[1].second.has_value());
  EXPECT_EQ(out[2].timestamp, 1699999999990);
  EXPECT_FALSE(out[2].value.has_value());
}

TEST(Records, DecodesKafkaPythonBatches) {
  check_kafka_python_batch(testing::from_hex(kKafkaPythonPlain), "v0");
  check_kafka_python_batch(testing::from_hex(kKafkaPythonGzip), std::string(200, 'a'));
}

TEST(Records, BuilderMatchesKafkaPythonByteForByte) {
  BuildOptions opts;
  opts.producer_id = 1234;
  opts.producer_epoch = 5;
  opts.base_sequence = 42;
  opts.partition_leader_epoch = 0;  // kafka-python writes 0 where the Java client writes -1
  const std::vector<BuildRecord> records = {
      {"k0", "v0", {}, 1700000000000},
      {std::nullopt, "value-1", {{"h1", "x"}, {"h2", std::nullopt}, {"", ""}}, 1700000000005},
      {"k2", std::nullopt, {}, 1699999999990}};
  EXPECT_EQ(build_batch(records, opts), testing::from_hex(kKafkaPythonPlain));
}

}  // namespace
}  // namespace kaffa::record
