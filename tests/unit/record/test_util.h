// Helpers shared by the record module's tests.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "record/batch.h"
#include "record/builder.h"
#include "record/wire.h"

namespace kaffa::record::testing {

inline const uint8_t* bytes(const std::string& s) {
  return reinterpret_cast<const uint8_t*>(s.data());
}
inline uint8_t* bytes(std::string& s) {
  return reinterpret_cast<uint8_t*>(s.data());
}

inline std::string from_hex(std::string_view hex) {
  std::string out;
  for (size_t i = 0; i + 1 < hex.size(); i += 2) {
    out.push_back(static_cast<char>(std::stoi(std::string(hex.substr(i, 2)), nullptr, 16)));
  }
  return out;
}

// Keys, null keys, null values, empty values, headers with empty and null values.
inline std::vector<BuildRecord> sample_records(int64_t base_ts = 1'700'000'000'000) {
  std::vector<BuildRecord> r;
  r.push_back({"key-0", "value-0", {}, base_ts});
  r.push_back(
      {std::nullopt, "value-1", {{"h1", "x"}, {"h2", std::nullopt}, {"", ""}}, base_ts + 5});
  r.push_back({"key-2", std::nullopt, {}, base_ts - 10});
  r.push_back({"", "", {{"trace", std::string(300, 't')}}, base_ts + 1});
  r.push_back({"key-4", std::string(5000, 'v'), {}, base_ts + 7});
  return r;
}

// A batch whose records section is `section` as given (uncompressed or already compressed),
// with the given counts, a correct batchLength and a correct CRC.
inline std::string raw_batch(const std::string& section, int32_t records_count,
                             int32_t last_offset_delta, Compression c = Compression::none,
                             int64_t base_timestamp = 1'700'000'000'000) {
  std::string batch = build_batch({}, Compression::none);
  auto* p = bytes(batch);
  wire::store_be16(p + batch_offset::kAttributes, static_cast<uint16_t>(c));
  wire::store_be32(p + batch_offset::kLastOffsetDelta, static_cast<uint32_t>(last_offset_delta));
  wire::store_be32(p + batch_offset::kRecordsCount, static_cast<uint32_t>(records_count));
  wire::store_be64(p + batch_offset::kBaseTimestamp, static_cast<uint64_t>(base_timestamp));
  wire::store_be64(p + batch_offset::kMaxTimestamp, static_cast<uint64_t>(base_timestamp));
  batch.append(section);
  wire::store_be32(bytes(batch) + batch_offset::kBatchLength,
                   static_cast<uint32_t>(batch.size() - kBatchOverhead));
  recompute_crc(bytes(batch), batch.size());
  return batch;
}

}  // namespace kaffa::record::testing
