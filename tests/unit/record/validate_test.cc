#include "record/validate.h"

#include <gtest/gtest.h>

#include <cstring>
#include <memory>
#include <string>

#include "record/builder.h"
#include "record/codec.h"
#include "test_util.h"

namespace kaffa::record {
namespace {

using testing::bytes;
using testing::raw_batch;
using testing::sample_records;

constexpr int64_t kNow = 1'700'000'000'000;

ValidationResult validate(const std::string& s, const ValidationOptions& opts = {}) {
  // Exact-size heap copy: ASan reports any read past the end.
  std::unique_ptr<uint8_t[]> copy(new uint8_t[s.size() + 1]);
  std::memcpy(copy.get(), s.data(), s.size());
  return validate_batches(copy.get(), s.size(), opts);
}

// A records section of `n` simple records with offset deltas 0..n-1.
std::string simple_section(int n) {
  std::string s;
  for (int i = 0; i < n; ++i) append_record(s, {"k", "v", {}, 0}, 0, i);
  return s;
}

class ValidateCodecTest : public ::testing::TestWithParam<Compression> {};

TEST_P(ValidateCodecTest, ValidBatchPasses) {
  const std::string batch = build_batch(sample_records(kNow), GetParam(), 0, 5, 0, 0);
  const ValidationResult r = validate(batch);
  EXPECT_TRUE(r.ok()) << r.message;
  EXPECT_EQ(r.batches, 1);
  EXPECT_EQ(r.records, 5);
  EXPECT_EQ(r.max_timestamp, kNow + 7);
  EXPECT_EQ(r.last_batch_index, 0);
  EXPECT_EQ(r.record_index, -1);
}

TEST_P(ValidateCodecTest, FlippedByteAnywhereIsCaught) {
  const std::string batch = build_batch(sample_records(kNow), GetParam());
  for (size_t i = 0; i < batch.size(); ++i) {
    for (uint8_t mask : {0x01, 0x80, 0xff}) {
      std::string bad = batch;
      bad[i] = static_cast<char>(bad[i] ^ mask);
      const ValidationResult r = validate(bad);
      const bool outside_crc =
          i < batch_offset::kBatchLength ||
          (i >= batch_offset::kPartitionLeaderEpoch && i < batch_offset::kMagic);
      if (outside_crc) {
        EXPECT_TRUE(r.ok()) << "byte " << i;  // baseOffset and leader epoch are not covered
      } else {  // includes magic: 2 ^ mask is never 0 or 1 for these masks
        EXPECT_EQ(r.error, ValidationError::corrupt_message) << "byte " << i << " mask " << +mask;
      }
    }
  }
}

TEST_P(ValidateCodecTest, EveryTruncationIsRejected) {
  const std::string batch = build_batch(sample_records(kNow), GetParam());
  for (size_t len = 0; len < batch.size(); ++len) {
    const ValidationResult r = validate(batch.substr(0, len));
    EXPECT_FALSE(r.ok()) << len;
    if (len > 0) {
      EXPECT_EQ(r.error, ValidationError::corrupt_message) << len;
    }
  }
}

INSTANTIATE_TEST_SUITE_P(AllCodecs, ValidateCodecTest,
                         ::testing::Values(Compression::none, Compression::gzip,
                                           Compression::snappy, Compression::lz4,
                                           Compression::zstd),
                         [](const auto& info) { return compression_name(info.param); });

TEST(Validate, EmptyInputIsInvalidRecord) {
  EXPECT_EQ(validate("").error, ValidationError::invalid_record);
}

TEST(Validate, BatchLengthLying) {
  const std::string batch = build_batch(sample_records(kNow), Compression::none);
  for (int32_t length : {-1, 0, 4, 48, 49, 60, static_cast<int32_t>(batch.size()) - 11,
                         static_cast<int32_t>(batch.size()) - 13, INT32_MAX, INT32_MIN}) {
    std::string bad = batch;
    wire::store_be32(bytes(bad) + batch_offset::kBatchLength, static_cast<uint32_t>(length));
    EXPECT_EQ(validate(bad).error, ValidationError::corrupt_message) << length;
  }
}

TEST(Validate, LegacyMagicIsUnsupportedOtherMagicIsCorrupt) {
  std::string batch = build_batch(sample_records(kNow), Compression::none);
  for (int magic : {0, 1}) {
    bytes(batch)[batch_offset::kMagic] = static_cast<uint8_t>(magic);
    EXPECT_EQ(validate(batch).error, ValidationError::unsupported_magic);
  }
  bytes(batch)[batch_offset::kMagic] = 3;
  EXPECT_EQ(validate(batch).error, ValidationError::corrupt_message);
}

TEST(Validate, BatchLargerThanMaxMessageBytesIsTooLarge) {
  const std::string batch = build_batch(sample_records(kNow), Compression::none);
  ValidationOptions opts;
  opts.max_message_bytes = static_cast<int32_t>(batch.size());
  EXPECT_TRUE(validate(batch, opts).ok());
  opts.max_message_bytes -= 1;
  EXPECT_EQ(validate(batch, opts).error, ValidationError::message_too_large);
}

TEST(Validate, RecordsCountMustMatchLastOffsetDelta) {
  EXPECT_TRUE(validate(raw_batch(simple_section(3), 3, 2)).ok());
  EXPECT_EQ(validate(raw_batch(simple_section(3), 3, 1)).error, ValidationError::invalid_record);
  EXPECT_EQ(validate(raw_batch(simple_section(3), 3, 3)).error, ValidationError::invalid_record);
  EXPECT_EQ(validate(raw_batch("", 0, -1)).error, ValidationError::invalid_record);
  EXPECT_EQ(validate(raw_batch("", -5, -6)).error, ValidationError::invalid_record);
  // The counts agree with each other but not with the records present.
  EXPECT_EQ(validate(raw_batch(simple_section(3), 4, 3)).error, ValidationError::invalid_record);
  const ValidationResult extra = validate(raw_batch(simple_section(3), 2, 1));
  EXPECT_EQ(extra.error, ValidationError::invalid_record);
  EXPECT_NE(extra.message.find("remain"), std::string::npos) << extra.message;
  // Kafka's messages, with the batch's offset range.
  EXPECT_EQ(validate(raw_batch(simple_section(3), 3, 1)).message,
            "Inconsistent batch offset range [0, 1] and count of records 3");
  EXPECT_EQ(validate(raw_batch("", -5, -6)).message, "Batch has an invalid offset range: [0, -6]");
}

TEST(Validate, OffsetDeltasMustCountFromZero) {
  std::string section;
  append_record(section, {"k", "v", {}, 0}, 0, 0);
  append_record(section, {"k", "v", {}, 0}, 0, 2);
  const ValidationResult r = validate(raw_batch(section, 2, 1));
  EXPECT_EQ(r.error, ValidationError::invalid_record);
  EXPECT_EQ(r.record_index, 1);
}

// Record bodies with lengths that lie; each is framed with a correct record length unless the
// length itself is the lie.
TEST(Validate, RecordVarintsLyingAboutLengthsAreInvalidRecord) {
  auto record = [](const std::string& body) {
    std::string s;
    wire::append_varint(s, static_cast<int32_t>(body.size()));
    return s + body;
  };
  auto body = [](int32_t key_len, const std::string& key, int32_t headers,
                 const std::string& rest) {
    std::string b(1, '\0');
    wire::append_varlong(b, 0);
    wire::append_varint(b, 0);
    wire::append_varint(b, key_len);
    b += key;
    wire::append_varint(b, 1);
    b += "v";
    wire::append_varint(b, headers);
    return b + rest;
  };
  std::string header_null_key;
  wire::append_varint(header_null_key, -1);
  wire::append_varint(header_null_key, -1);
  std::string header_long_value = "\x02h";
  wire::append_varint(header_long_value, 100);
  std::string too_long_record;
  wire::append_varint(too_long_record, 1000);
  too_long_record += body(1, "k", 0, "");
  const std::string cases[] = {
      record(body(5, "k", 0, "")),                 // key longer than the record
      record(body(-2, "", 0, "")),                 // key length below -1
      record(body(1, "k", -1, "")),                // negative header count
      record(body(1, "k", 3, "")),                 // headers missing
      record(body(1, "k", 1, header_null_key)),    // null header key
      record(body(1, "k", 1, header_long_value)),  // header value past the record
      record(body(1, "k", 0, "extra")),            // bytes left inside the record
      too_long_record,                             // record length past the section
      "\xff\xff\xff\xff\xff\x01",                  // six-byte varint
      "\x80",                                      // truncated varint
      record(""),                                  // empty record
      record(std::string(1, '\0') + "\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\x01"),  // varlong
  };
  for (const std::string& section : cases) {
    for (Compression c : {Compression::none, Compression::zstd}) {
      std::string packed;
      ASSERT_TRUE(compress(c, section, packed));
      const ValidationResult r = validate(raw_batch(packed, 1, 0, c));
      EXPECT_EQ(r.error, ValidationError::invalid_record) << ::testing::PrintToString(section);
      EXPECT_EQ(r.record_index, 0);
    }
  }
}

TEST(Validate, ClientControlBatchesAreRejected) {
  BuildOptions opts;
  opts.control = true;
  EXPECT_EQ(validate(build_batch(sample_records(kNow), opts)).error,
            ValidationError::invalid_record);
}

TEST(Validate, ProducerIdRequiresASequence) {
  EXPECT_EQ(validate(build_batch(sample_records(kNow), Compression::none, 0, 7, 0, -1)).error,
            ValidationError::invalid_record);
  EXPECT_TRUE(validate(build_batch(sample_records(kNow), Compression::none, 0, -1, -1, -1)).ok());
}

TEST(Validate, ProducerMustNotSetLogAppendTime) {
  BuildOptions opts;
  opts.timestamp_type = TimestampType::log_append_time;
  EXPECT_EQ(validate(build_batch(sample_records(kNow), opts)).error,
            ValidationError::invalid_timestamp);
}

TEST(Validate, UnknownCodecIsCorrupt) {
  EXPECT_EQ(validate(raw_batch(simple_section(1), 1, 0, static_cast<Compression>(6))).error,
            ValidationError::corrupt_message);
}

TEST(Validate, CreateTimeWindow) {
  const std::string batch = build_batch(sample_records(kNow), Compression::gzip);  // kNow-10..+7
  ValidationOptions opts;
  opts.now_ms = kNow;
  opts.timestamp_before_max_ms = 10;
  opts.timestamp_after_max_ms = 7;
  EXPECT_TRUE(validate(batch, opts).ok());
  opts.timestamp_before_max_ms = 9;
  ValidationResult r = validate(batch, opts);
  EXPECT_EQ(r.error, ValidationError::invalid_timestamp);
  EXPECT_EQ(r.record_index, 2);
  opts.timestamp_before_max_ms = 10;
  opts.timestamp_after_max_ms = 6;
  EXPECT_EQ(validate(batch, opts).error, ValidationError::invalid_timestamp);
  // Extreme settings must not overflow.
  opts.now_ms = INT64_MAX;
  opts.timestamp_before_max_ms = INT64_MAX;
  opts.timestamp_after_max_ms = INT64_MAX;
  EXPECT_TRUE(validate(batch, opts).ok());
  opts.now_ms = INT64_MIN;  // window [INT64_MIN, -1]
  EXPECT_EQ(validate(batch, opts).error, ValidationError::invalid_timestamp);
}

TEST(Validate, NoTimestampIsNotCheckedAndLogAppendTimeTopicsSkipTheWindow) {
  std::vector<BuildRecord> records = {{"k", "v", {}, -1}};
  ValidationOptions opts;
  opts.now_ms = kNow;
  opts.timestamp_before_max_ms = 0;
  opts.timestamp_after_max_ms = 0;
  EXPECT_TRUE(validate(build_batch(records, Compression::none), opts).ok());
  opts.timestamp_type = TimestampType::log_append_time;
  const ValidationResult r = validate(build_batch(sample_records(0), Compression::none), opts);
  EXPECT_TRUE(r.ok()) << r.message;
  EXPECT_EQ(r.max_timestamp, kNow);
}

TEST(Validate, CompactedTopicsRequireKeys) {
  ValidationOptions opts;
  opts.require_keys = true;
  const ValidationResult r = validate(build_batch(sample_records(kNow), Compression::lz4), opts);
  EXPECT_EQ(r.error, ValidationError::invalid_record);
  EXPECT_EQ(r.record_index, 1);
  std::vector<BuildRecord> keyed = {{"a", std::nullopt, {}, kNow}, {"", "v", {}, kNow}};
  EXPECT_TRUE(validate(build_batch(keyed, Compression::lz4), opts).ok());
}

TEST(Validate, SeveralBatches) {
  const std::string a = build_batch(sample_records(kNow), Compression::none);
  const std::string b = build_batch({{"k", "v", {}, kNow + 100}}, Compression::zstd);
  ValidationResult r = validate(a + b);
  EXPECT_TRUE(r.ok()) << r.message;
  EXPECT_EQ(r.batches, 2);
  EXPECT_EQ(r.records, 6);
  EXPECT_EQ(r.max_timestamp, kNow + 100);
  EXPECT_EQ(r.last_batch_index, 1);

  std::string bad_b = b;
  bad_b.back() ^= 1;
  r = validate(a + bad_b);
  EXPECT_EQ(r.error, ValidationError::corrupt_message);
  EXPECT_EQ(r.batches, 1);
  EXPECT_EQ(r.last_batch_index, 1);
  EXPECT_EQ(validate(a + b.substr(0, 20)).error, ValidationError::corrupt_message);
}

TEST(Validate, CompressedBombIsRejectedByTheCap) {
  // 32 MiB of zeros in one zstd frame, inside an otherwise valid batch, against a 16 MiB cap.
  std::string zeros(size_t{32} << 20, '\0');
  std::string packed;
  ASSERT_TRUE(compress(Compression::zstd, zeros, packed));
  zeros = std::string();
  ValidationOptions opts;
  opts.max_decompressed_bytes = size_t{16} << 20;
  const ValidationResult r = validate(raw_batch(packed, 1, 0, Compression::zstd), opts);
  EXPECT_EQ(r.error, ValidationError::corrupt_message);
  EXPECT_NE(r.message.find("exceeds"), std::string::npos) << r.message;
}

}  // namespace
}  // namespace kaffa::record
