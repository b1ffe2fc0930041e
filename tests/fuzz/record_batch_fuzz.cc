// libFuzzer target over what a producer sends for one partition: record's validation (the
// Produce path's check before an append) and its record decoder with every codec. The first input
// byte picks the options; the rest is the records field. With bit 0 of that byte the target makes
// the rest one batch whose batchLength, magic and CRC are right, so that inputs reach the header
// fields, the codecs and the records. Any input must be refused or accepted without an ASan or
// UBSan report; an accepted input must decode batch by batch into exactly the records validation
// counted.
#include <cstdint>
#include <cstdlib>
#include <string>
#include <vector>

#include "record/batch.h"
#include "record/records.h"
#include "record/validate.h"
#include "record/wire.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace kaffa::record;
  if (size < 1) return 0;
  const uint8_t mode = data[0];
  std::vector<uint8_t> bytes(data + 1, data + size);
  if ((mode & 1) != 0 && bytes.size() >= kBatchHeaderSize) {
    wire::store_be32(bytes.data() + batch_offset::kBatchLength,
                     static_cast<uint32_t>(bytes.size() - kBatchOverhead));
    bytes[batch_offset::kMagic] = static_cast<uint8_t>(kMagicV2);
    recompute_crc(bytes.data(), bytes.size());
  }
  ValidationOptions opts;
  opts.require_keys = (mode & 2) != 0;
  opts.timestamp_type =
      (mode & 4) != 0 ? TimestampType::log_append_time : TimestampType::create_time;
  opts.now_ms = 1'700'000'000'000;
  if ((mode & 8) != 0) {
    opts.timestamp_before_max_ms = 3'600'000;
    opts.timestamp_after_max_ms = 3'600'000;
  }
  opts.max_message_bytes = (mode & 16) != 0 ? 512 : 1048588;
  opts.max_decompressed_bytes = size_t{1} << 20;
  const ValidationResult result = validate_batches(bytes.data(), bytes.size(), opts);
  if (!result.ok()) return 0;
  int64_t records = 0;
  std::string scratch;
  for (size_t pos = 0; pos < bytes.size();) {
    BatchHeader h;
    if (!parse_header(bytes.data() + pos, bytes.size() - pos, h)) std::abort();
    const bool decoded = for_each_record(
        bytes.data() + pos, h.total_size(), scratch, [&](const Record&) { ++records; },
        opts.max_decompressed_bytes);
    if (!decoded) std::abort();
    pos += h.total_size();
  }
  if (records != result.records) std::abort();
  return 0;
}
