#include "record/codec.h"

#include <gtest/gtest.h>
#include <snappy.h>
#include <zlib.h>
#include <zstd.h>

#include <cstring>
#include <memory>
#include <random>
#include <string>

#include "record/wire.h"

namespace kaffa::record {
namespace {

constexpr size_t kLimit = size_t{64} << 20;
constexpr Compression kCodecs[] = {Compression::none, Compression::gzip, Compression::snappy,
                                   Compression::lz4, Compression::zstd};

std::string mixed_data(size_t n) {
  std::mt19937 rng(7);
  std::string s;
  while (s.size() < n) {
    s += "record-" + std::to_string(rng() % 1000) + ";";
    s.push_back(static_cast<char>(rng()));
  }
  s.resize(n);
  return s;
}

class CodecTest : public ::testing::TestWithParam<Compression> {};

TEST_P(CodecTest, RoundTripsEmptySmallAndLargeInputs) {
  for (size_t n :
       {size_t{0}, size_t{1}, size_t{100}, size_t{32768}, size_t{32769}, size_t{300000}}) {
    const std::string in = mixed_data(n);
    std::string packed, unpacked, error;
    ASSERT_TRUE(compress(GetParam(), in, packed));
    ASSERT_TRUE(decompress(GetParam(), packed, unpacked, kLimit, &error)) << n << ": " << error;
    EXPECT_EQ(unpacked, in) << n;
  }
}

TEST_P(CodecTest, OutputOfExactlyTheLimitIsAcceptedOneMoreIsNot) {
  const std::string in = mixed_data(100000);
  std::string packed, out, error;
  ASSERT_TRUE(compress(GetParam(), in, packed));
  EXPECT_TRUE(decompress(GetParam(), packed, out, in.size(), &error)) << error;
  EXPECT_FALSE(decompress(GetParam(), packed, out, in.size() - 1, &error));
}

TEST_P(CodecTest, EveryTruncationIsRejectedWithoutOverread) {
  if (GetParam() == Compression::none) GTEST_SKIP();
  const std::string in = mixed_data(3000);
  std::string packed, out;
  ASSERT_TRUE(compress(GetParam(), in, packed));
  for (size_t len = 0; len < packed.size(); ++len) {
    // A heap copy of exactly len bytes, so ASan catches any read past the end.
    std::unique_ptr<char[]> copy(new char[len + 1]);
    std::memcpy(copy.get(), packed.data(), len);
    std::string error;
    const bool ok = decompress(GetParam(), std::string_view(copy.get(), len), out, kLimit, &error);
    // A snappy xerial stream cut exactly between blocks is a valid shorter stream.
    if (ok) {
      EXPECT_NE(out, in) << len;
    }
  }
}

TEST_P(CodecTest, GarbageIsRejectedOrBounded) {
  if (GetParam() == Compression::none) GTEST_SKIP();
  std::mt19937 rng(11);
  for (int round = 0; round < 200; ++round) {
    std::string junk(1 + rng() % 200, '\0');
    for (char& c : junk) c = static_cast<char>(rng());
    std::string out;
    if (decompress(GetParam(), junk, out, 1 << 20, nullptr)) {
      EXPECT_LE(out.size(), 1u << 20);
    }
  }
}

TEST_P(CodecTest, TrailingGarbageIsRejected) {
  if (GetParam() == Compression::none || GetParam() == Compression::snappy) GTEST_SKIP();
  std::string packed, out;
  ASSERT_TRUE(compress(GetParam(), mixed_data(1000), packed));
  packed += "garbage!";
  EXPECT_FALSE(decompress(GetParam(), packed, out, kLimit, nullptr));
}

INSTANTIATE_TEST_SUITE_P(AllCodecs, CodecTest, ::testing::ValuesIn(kCodecs),
                         [](const auto& info) { return compression_name(info.param); });

TEST(Codec, SnappyDecodesRawAndXerialFraming) {
  const std::string in = mixed_data(100000);
  std::string raw;
  snappy::Compress(in.data(), in.size(), &raw);
  std::string out, error;
  ASSERT_TRUE(decompress(Compression::snappy, raw, out, kLimit, &error)) << error;
  EXPECT_EQ(out, in);

  std::string xerial;
  ASSERT_TRUE(compress(Compression::snappy, in, xerial));
  ASSERT_EQ(xerial.compare(0, 8, std::string("\x82SNAPPY\0", 8)), 0);
  EXPECT_EQ(wire::load_be32(reinterpret_cast<const uint8_t*>(xerial.data()) + 8), 1u);
  ASSERT_TRUE(decompress(Compression::snappy, xerial, out, kLimit, &error)) << error;
  EXPECT_EQ(out, in);
}

TEST(Codec, XerialBlockLengthPastTheEndIsRejected) {
  std::string xerial;
  ASSERT_TRUE(compress(Compression::snappy, mixed_data(1000), xerial));
  wire::store_be32(reinterpret_cast<uint8_t*>(xerial.data()) + 16, 0x7fffffff);
  std::string out;
  EXPECT_FALSE(decompress(Compression::snappy, xerial, out, kLimit, nullptr));
}

TEST(Codec, SnappyClaimingAHugeLengthIsRejectedBeforeAllocating) {
  std::string raw("\xff\xff\xff\xff\x0f", 5);  // uncompressed length 2^32 - 1
  raw += "\x00";
  std::string out, error;
  EXPECT_FALSE(decompress(Compression::snappy, raw, out, kLimit, &error));
  EXPECT_LT(out.capacity(), kLimit);
}

TEST(Codec, UnknownCodecIsRejected) {
  std::string out, error;
  EXPECT_FALSE(decompress(static_cast<Compression>(5), "abc", out, kLimit, &error));
  EXPECT_FALSE(compress(static_cast<Compression>(7), "abc", out));
}

// 1 GiB of zeros as 64 gzip members of 16 MiB each (decoders must accept concatenated members, as
// Java's GZIPInputStream does); the test itself never holds the 1 GiB.
std::string gzip_bomb() {
  const std::string zeros(size_t{16} << 20, '\0');
  z_stream zs{};
  EXPECT_EQ(deflateInit2(&zs, 9, Z_DEFLATED, 16 + MAX_WBITS, 9, Z_DEFAULT_STRATEGY), Z_OK);
  std::string member(deflateBound(&zs, zeros.size()), '\0');
  zs.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(zeros.data()));
  zs.avail_in = static_cast<uInt>(zeros.size());
  zs.next_out = reinterpret_cast<Bytef*>(member.data());
  zs.avail_out = static_cast<uInt>(member.size());
  EXPECT_EQ(deflate(&zs, Z_FINISH), Z_STREAM_END);
  member.resize(zs.total_out);
  deflateEnd(&zs);
  std::string out;
  for (int i = 0; i < 64; ++i) out += member;
  return out;
}

// 1 GiB of zeros in one zstd frame, compressed by streaming.
std::string zstd_bomb() {
  std::unique_ptr<ZSTD_CCtx, size_t (*)(ZSTD_CCtx*)> ctx(ZSTD_createCCtx(), ZSTD_freeCCtx);
  const std::string zeros(size_t{1} << 20, '\0');
  std::string out;
  char buf[1 << 16];
  for (int i = 0; i < 1024; ++i) {
    ZSTD_inBuffer in{zeros.data(), zeros.size(), 0};
    const auto mode = i == 1023 ? ZSTD_e_end : ZSTD_e_continue;
    size_t left = 0;
    do {
      ZSTD_outBuffer o{buf, sizeof buf, 0};
      left = ZSTD_compressStream2(ctx.get(), &o, &in, mode);
      out.append(buf, o.pos);
    } while (in.pos < in.size || (mode == ZSTD_e_end && left != 0));
  }
  return out;
}

TEST(Codec, GzipBombIsStoppedAtTheLimit) {
  const std::string bomb = gzip_bomb();
  EXPECT_LT(bomb.size(), size_t{2} << 20);
  std::string out, error;
  EXPECT_FALSE(decompress(Compression::gzip, bomb, out, kLimit, &error));
  EXPECT_NE(error.find("exceeds"), std::string::npos) << error;
  EXPECT_LE(out.capacity(), 2 * kLimit);
}

TEST(Codec, ZstdBombIsStoppedAtTheLimit) {
  const std::string bomb = zstd_bomb();
  EXPECT_LT(bomb.size(), size_t{2} << 20);
  std::string out, error;
  EXPECT_FALSE(decompress(Compression::zstd, bomb, out, kLimit, &error));
  EXPECT_NE(error.find("exceeds"), std::string::npos) << error;
  EXPECT_LE(out.capacity(), 2 * kLimit);
}

}  // namespace
}  // namespace kaffa::record
