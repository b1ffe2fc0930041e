// Every request and response of every API with a schema, at every version it describes, filled
// with random valid values, survives encode -> decode -> encode unchanged and size() is exact.
#include <gtest/gtest.h>

#include "protocol/api_table.h"
#include "protocol/testing/random_messages.h"

namespace kaffa::protocol {
namespace {

TEST(GeneratedMessages, RoundTripAtEveryVersion) {
  int checked = 0;
  for (const auto& api : api_schemas()) {
    for (int16_t v = api.min_version; v <= api.max_version; ++v) {
      for (bool response : {false, true}) {
        for (uint64_t seed = 1; seed <= 40; ++seed) {
          std::string error;
          EXPECT_TRUE(testing::random_roundtrip(api.key, response, v, seed, error))
              << api.name << (response ? "Response" : "Request") << " v" << v << " seed " << seed
              << ": " << error;
          ++checked;
        }
      }
    }
  }
  EXPECT_GT(checked, 1000);
}

TEST(GeneratedMessages, HeadersRoundTrip) {
  for (uint64_t seed = 1; seed <= 40; ++seed) {
    std::string error;
    for (int16_t v = 0; v <= 2; ++v) {
      EXPECT_TRUE(testing::random_named_roundtrip("RequestHeader", v, seed, error)) << error;
    }
    for (int16_t v = 0; v <= 1; ++v) {
      EXPECT_TRUE(testing::random_named_roundtrip("ResponseHeader", v, seed, error)) << error;
    }
  }
}

TEST(GeneratedMessages, EveryTruncationIsRejected) {
  // Decoding consumes bytes strictly in order, so every proper prefix of a valid encoding must be
  // rejected (and, under ASan, without reading past its end).
  for (const auto& api : api_schemas()) {
    for (int16_t v = api.min_version; v <= api.max_version; ++v) {
      for (bool response : {false, true}) {
        std::string full;
        ASSERT_TRUE(testing::random_encoding(api.key, response, v, 11, full));
        for (size_t cut = 0; cut < full.size(); ++cut) {
          std::string copy = full.substr(0, cut);  // exact-size heap copy: ASan sees overreads
          std::string out, error;
          EXPECT_FALSE(roundtrip_body(api.key, response, v, copy, out, error))
              << api.name << " v" << v << " cut at " << cut;
        }
      }
    }
  }
}

TEST(Wire, RejectsOverlongVarintAndBadLengths) {
  std::string five_ff("\xff\xff\xff\xff\x7f", 5);
  Reader r(five_ff);
  (void)r.uvarint();
  EXPECT_FALSE(r.ok());
  std::string neg_len("\xff\xfe", 2);  // INT16 length -2
  Reader r2(neg_len);
  (void)r2.nullable_bytes_field(false, true);
  EXPECT_FALSE(r2.ok());
  std::string long_len(
      "\x00\x05"
      "ab",
      4);  // claims 5 bytes, has 2
  Reader r3(long_len);
  (void)r3.bytes_field(false, true);
  EXPECT_FALSE(r3.ok());
}

TEST(Wire, UnknownTaggedFieldsAreKeptAndWrittenBack) {
  // ApiVersions v3 request: two compact strings, then a tagged-field section with tag 7.
  const std::string body(
      "\x02"
      "a"
      "\x02"
      "b"
      "\x01"
      "\x07"
      "\x02"
      "xy",
      9);
  std::string out, error;
  ASSERT_TRUE(roundtrip_body(18, false, 3, body, out, error)) << error;
  EXPECT_EQ(out, body);
}

}  // namespace
}  // namespace kaffa::protocol
