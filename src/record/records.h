// Iteration over the records of one RecordBatch v2 (layout in batch.h).
//
// Threading: pure functions (the callback runs on the calling thread); safe from any thread.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace kaffa::record {

// Decompression limit used when a caller does not give one: 64 MiB, or 8x the input if larger.
constexpr size_t kMinDecompressedLimit = size_t{64} << 20;
size_t default_decompressed_limit(size_t compressed_size);

struct Header {
  std::string_view key;
  std::optional<std::string_view> value;
};

// The views point into the batch or into the caller's scratch buffer; valid until either changes.
struct Record {
  int64_t offset;     // baseOffset + offsetDelta
  int64_t timestamp;  // baseTimestamp + timestampDelta, or maxTimestamp for LogAppendTime batches
  std::optional<std::string_view> key;
  std::optional<std::string_view> value;
  std::vector<Header> headers;
};

// Decompresses if needed into `scratch` and calls fn for each record; false on malformed input:
// fewer than a whole v2 batch in n bytes, magic != 2, a wrong CRC, an unknown codec, a records
// section that does not decompress within max_decompressed bytes (0: default_decompressed_limit
// of the batch size), does not hold exactly recordsCount well-formed records, or has trailing
// bytes. Offset deltas need not be contiguous (compacted batches have gaps). fn may already have
// been called for the records before a malformed one.
bool for_each_record(const uint8_t* batch, size_t n, std::string& scratch,
                     const std::function<void(const Record&)>& fn, size_t max_decompressed = 0);

}  // namespace kaffa::record
