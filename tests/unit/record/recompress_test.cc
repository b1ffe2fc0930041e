// recompress_batches: compression.type other than `producer` re-encodes the records section and
// keeps every other field.
#include "record/recompress.h"

#include <gtest/gtest.h>

#include "record/builder.h"
#include "record/records.h"
#include "record/validate.h"

namespace kaffa::record {
namespace {

std::vector<BuildRecord> sample() {
  std::vector<BuildRecord> out;
  for (int i = 0; i < 50; ++i) {
    out.push_back({"k" + std::to_string(i),
                   std::string(100, static_cast<char>('a' + i % 26)),
                   {{"h", "v" + std::to_string(i)}},
                   1700000000000 + i});
  }
  out[3].value.reset();  // a tombstone
  return out;
}

// key|value|headers of each record, and the header fields outside the codec bits.
std::string content(const std::string& batches) {
  std::string out, scratch;
  const auto* p = reinterpret_cast<const uint8_t*>(batches.data());
  for (size_t pos = 0; pos < batches.size();) {
    BatchHeader h;
    EXPECT_TRUE(parse_header(p + pos, batches.size() - pos, h));
    out += "batch " + std::to_string(h.base_offset) + " " + std::to_string(h.producer_id) + " " +
           std::to_string(h.producer_epoch) + " " + std::to_string(h.base_sequence) + " " +
           std::to_string(h.max_timestamp) + " " + std::to_string(h.attributes & ~7) + "\n";
    EXPECT_TRUE(for_each_record(p + pos, h.total_size(), scratch, [&out](const Record& r) {
      out += std::to_string(r.offset) + " " + std::to_string(r.timestamp) + " " +
             std::string(r.key.value_or("-")) + " " + std::string(r.value.value_or("<null>"));
      for (const auto& hd : r.headers) out += " " + std::string(hd.key);
      out += "\n";
    }));
    pos += h.total_size();
  }
  return out;
}

std::vector<Compression> codecs(const std::string& batches) {
  std::vector<Compression> out;
  const auto* p = reinterpret_cast<const uint8_t*>(batches.data());
  for (size_t pos = 0; pos < batches.size();) {
    BatchHeader h;
    parse_header(p + pos, batches.size() - pos, h);
    out.push_back(h.compression());
    pos += h.total_size();
  }
  return out;
}

TEST(Recompress, EveryCodecToEveryCodecKeepsTheRecordsAndTheProducerFields) {
  const std::vector<Compression> all{Compression::none, Compression::gzip, Compression::snappy,
                                     Compression::lz4, Compression::zstd};
  for (Compression from : all) {
    BuildOptions o;
    o.compression = from;
    o.producer_id = 77;
    o.producer_epoch = 2;
    o.base_sequence = 40;
    const std::string in = build_batch(sample(), o);
    for (Compression to : all) {
      SCOPED_TRACE(std::string(compression_name(from)) + " -> " + compression_name(to));
      const auto* p = reinterpret_cast<const uint8_t*>(in.data());
      EXPECT_EQ(needs_recompression(p, in.size(), to), from != to);
      std::string out, error;
      ASSERT_TRUE(recompress_batches(p, in.size(), to, 1 << 20, out, &error)) << error;
      EXPECT_EQ(codecs(out), std::vector<Compression>{to});
      EXPECT_TRUE(crc_ok(reinterpret_cast<const uint8_t*>(out.data()), out.size()));
      EXPECT_TRUE(
          validate_batches(reinterpret_cast<const uint8_t*>(out.data()), out.size(), {}).ok());
      EXPECT_EQ(content(out), content(in));
      if (from == to) {
        EXPECT_EQ(out, in);
      }
    }
  }
}

TEST(Recompress, SeveralBatchesAndALimitOnTheDecompressedSize) {
  std::string in = build_batch(sample(), Compression::none, 0);
  in += build_batch(sample(), Compression::zstd, 50);
  const auto* p = reinterpret_cast<const uint8_t*>(in.data());
  std::string out, error;
  ASSERT_TRUE(recompress_batches(p, in.size(), Compression::lz4, 1 << 20, out, &error)) << error;
  EXPECT_EQ(codecs(out), (std::vector<Compression>{Compression::lz4, Compression::lz4}));
  EXPECT_EQ(content(out), content(in));
  EXPECT_FALSE(recompress_batches(p, in.size(), Compression::gzip, 100, out, &error));
  EXPECT_FALSE(error.empty());
}

}  // namespace
}  // namespace kaffa::record
