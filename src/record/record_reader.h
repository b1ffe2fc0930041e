// Internal: a bounds-checked reader of the records section of a v2 batch (see batch.h for the
// record layout). Shared by validation and iteration; not part of the public interface.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "record/batch.h"

namespace kaffa::record::detail {

// One record as it lies in the buffer; the views point into the records section.
struct RawRecord {
  int8_t attributes = 0;
  int64_t timestamp_delta = 0;
  int32_t offset_delta = 0;
  std::optional<std::string_view> key;
  std::optional<std::string_view> value;
  int32_t header_count = 0;
  std::string_view headers;  // the encoded headers, already checked to be well formed
};

// Reads records one by one from [data, data + size). Every length is checked against the end of
// the record it belongs to, and each record must consume exactly its declared length.
class RecordReader {
 public:
  RecordReader(const uint8_t* data, size_t size) : p_(data), end_(data + size) {}

  // Reads the next record; false with a reason in *error when it is malformed or missing.
  bool next(RawRecord& out, std::string* error);
  bool at_end() const { return p_ == end_; }
  size_t remaining() const { return static_cast<size_t>(end_ - p_); }

  // Calls fn(key, value) for each header of an encoded headers section produced by next().
  template <typename Fn>
  static void for_each_header(std::string_view headers, int32_t count, Fn&& fn) {
    const auto* p = reinterpret_cast<const uint8_t*>(headers.data());
    const auto* end = p + headers.size();
    for (int32_t i = 0; i < count; ++i) {
      std::string_view key;
      std::optional<std::string_view> value;
      read_header(p, end, key, value);
      fn(key, value);
    }
  }

  // Reads one header from [p, end); advances p. False when malformed.
  static bool read_header(const uint8_t*& p, const uint8_t* end, std::string_view& key,
                          std::optional<std::string_view>& value);

 private:
  const uint8_t* p_;
  const uint8_t* end_;
};

// The records section of a whole, CRC-checked batch: a view into the batch when uncompressed,
// else into scratch after decompressing at most max_decompressed bytes.
bool records_section(const uint8_t* batch, const BatchHeader& h, std::string& scratch,
                     size_t max_decompressed, std::string_view& out, std::string* error);

}  // namespace kaffa::record::detail
