#include "record/recompress.h"

#include <string_view>

#include "record/codec.h"
#include "record/wire.h"

namespace kaffa::record {

bool needs_recompression(const uint8_t* data, size_t n, Compression to) {
  for (size_t pos = 0; pos < n;) {
    BatchHeader h;
    if (!parse_header(data + pos, n - pos, h)) return false;
    if (h.compression() != to) return true;
    pos += h.total_size();
  }
  return false;
}

bool recompress_batches(const uint8_t* data, size_t n, Compression to, size_t max_out,
                        std::string& out, std::string* error) {
  out.clear();
  std::string plain, packed;
  for (size_t pos = 0; pos < n;) {
    BatchHeader h;
    if (!parse_header(data + pos, n - pos, h) || h.total_size() > n - pos) {
      *error = "truncated batch";
      return false;
    }
    const auto* batch = reinterpret_cast<const char*>(data + pos);
    const size_t size = h.total_size();
    pos += size;
    if (h.compression() == to) {
      out.append(batch, size);
      continue;
    }
    const std::string_view section(batch + kBatchHeaderSize, size - kBatchHeaderSize);
    if (!decompress(h.compression(), section, plain, max_out, error) ||
        !compress(to, plain, packed)) {
      if (error->empty()) *error = "cannot compress";
      return false;
    }
    const size_t start = out.size();
    out.append(batch, kBatchHeaderSize);
    out.append(packed);
    auto* b = reinterpret_cast<uint8_t*>(out.data() + start);
    wire::store_be32(b + batch_offset::kBatchLength,
                     static_cast<uint32_t>(kBatchHeaderSize - kBatchOverhead + packed.size()));
    const auto attributes =
        static_cast<uint16_t>((h.attributes & ~kCompressionMask) | static_cast<int16_t>(to));
    wire::store_be16(b + batch_offset::kAttributes, attributes);
    recompute_crc(b, out.size() - start);
  }
  return true;
}

}  // namespace kaffa::record
