#include "record/records.h"

#include <algorithm>

#include "record/batch.h"
#include "record/codec.h"
#include "record/record_reader.h"
#include "record/wire.h"

namespace kaffa::record {

size_t default_decompressed_limit(size_t compressed_size) {
  const size_t eight = compressed_size > SIZE_MAX / 8 ? SIZE_MAX : compressed_size * 8;
  return std::max(kMinDecompressedLimit, eight);
}

namespace detail {

bool records_section(const uint8_t* batch, const BatchHeader& h, std::string& scratch,
                     size_t max_decompressed, std::string_view& out, std::string* error) {
  const auto* begin = reinterpret_cast<const char*>(batch + kBatchHeaderSize);
  const std::string_view stored(begin, h.total_size() - kBatchHeaderSize);
  if (h.compression() == Compression::none) {
    out = stored;
    return true;
  }
  if (!is_known_compression(h.compression())) {
    if (error) *error = "unknown compression codec " + std::to_string(h.attributes & 7);
    return false;
  }
  if (!decompress(h.compression(), stored, scratch, max_decompressed, error)) return false;
  out = scratch;
  return true;
}

}  // namespace detail

bool for_each_record(const uint8_t* batch, size_t n, std::string& scratch,
                     const std::function<void(const Record&)>& fn, size_t max_decompressed) {
  BatchHeader h{};
  if (!parse_header(batch, n, h) || h.magic != kMagicV2 || h.batch_length < kMinBatchLength ||
      h.total_size() > n || !crc_ok(batch, n) || h.records_count < 0) {
    return false;
  }
  if (max_decompressed == 0) max_decompressed = default_decompressed_limit(h.total_size());
  std::string_view section;
  if (!detail::records_section(batch, h, scratch, max_decompressed, section, nullptr)) {
    return false;
  }
  detail::RecordReader reader(reinterpret_cast<const uint8_t*>(section.data()), section.size());
  const bool log_append_time = h.timestamp_type() == TimestampType::log_append_time;
  Record record{};
  detail::RawRecord raw;
  for (int32_t i = 0; i < h.records_count; ++i) {
    if (!reader.next(raw, nullptr)) return false;
    record.offset = wire::wrapping_add(h.base_offset, raw.offset_delta);
    record.timestamp = log_append_time ? h.max_timestamp
                                       : wire::wrapping_add(h.base_timestamp, raw.timestamp_delta);
    record.key = raw.key;
    record.value = raw.value;
    record.headers.clear();
    detail::RecordReader::for_each_header(
        raw.headers, raw.header_count,
        [&](std::string_view key, std::optional<std::string_view> value) {
          record.headers.push_back(Header{key, value});
        });
    fn(record);
  }
  return reader.at_end();
}

}  // namespace kaffa::record
