#include "record/validate.h"

#include <algorithm>
#include <string_view>

#include "record/record_reader.h"
#include "record/records.h"
#include "record/wire.h"

namespace kaffa::record {
namespace {

using std::to_string;

using wire::saturating_add;
using wire::saturating_sub;

// Validates one batch of `total` bytes (already known to fit) at index `index`.
class BatchValidator {
 public:
  BatchValidator(const ValidationOptions& opts, ValidationResult& result, std::string& scratch)
      : opts_(opts), result_(result), scratch_(scratch) {}

  // False when the batch fails; result_ then holds the error.
  bool check(const uint8_t* batch, size_t total);

 private:
  bool fail(ValidationError e, std::string message) {
    result_.error = e;
    result_.message = std::move(message);
    return false;
  }
  bool check_header(const BatchHeader& h);
  bool check_records(const uint8_t* batch, const BatchHeader& h, int64_t& max_timestamp);

  const ValidationOptions& opts_;
  ValidationResult& result_;
  std::string& scratch_;
};

bool BatchValidator::check(const uint8_t* batch, size_t total) {
  const auto magic = static_cast<int8_t>(batch[batch_offset::kMagic]);
  if (magic == 0 || magic == 1) {
    return fail(ValidationError::unsupported_magic,
                "Record batches with magic " + to_string(magic) +
                    " are not supported; produce requests must use magic 2");
  }
  if (magic != kMagicV2) {
    return fail(ValidationError::corrupt_message,
                "Invalid magic found in record: " + to_string(magic));
  }
  if (total < kBatchHeaderSize) {
    return fail(ValidationError::corrupt_message, "Record batch size " + to_string(total) +
                                                      " is less than the minimum of " +
                                                      to_string(kBatchHeaderSize) + " bytes");
  }
  if (total > static_cast<size_t>(std::max(opts_.max_message_bytes, 0))) {
    return fail(ValidationError::message_too_large,
                "The record batch size is " + to_string(total) +
                    " bytes which exceeds the maximum configured value of " +
                    to_string(opts_.max_message_bytes) + ".");
  }
  BatchHeader h{};
  parse_header(batch, total, h);
  if (!crc_ok(batch, total)) {
    return fail(ValidationError::corrupt_message,
                "Record is corrupt (stored crc = " + to_string(h.crc) +
                    ", computed crc = " + to_string(compute_crc(batch, total)) + ")");
  }
  int64_t max_timestamp = -1;
  if (!check_header(h) || !check_records(batch, h, max_timestamp)) return false;
  result_.max_timestamp = std::max(result_.max_timestamp, max_timestamp);
  result_.records += h.records_count;
  return true;
}

bool BatchValidator::check_header(const BatchHeader& h) {
  if (!is_known_compression(h.compression())) {
    return fail(ValidationError::corrupt_message,
                "Unknown compression type id " + to_string(h.attributes & kCompressionMask));
  }
  // Only for the messages of a refused batch (every accepted batch passes here). Built by
  // appending: g++ 12 -O3 reports a false -Wrestrict on `"[" + std::string&&`.
  const auto range = [&h] {
    std::string r = "[";
    r += to_string(h.base_offset);
    r += ", ";
    r += to_string(h.last_offset());
    r += "]";
    return r;
  };
  if (h.last_offset_delta < 0) {
    return fail(ValidationError::invalid_record, "Batch has an invalid offset range: " + range());
  }
  if (h.records_count <= 0) {
    return fail(ValidationError::invalid_record,
                "Invalid reported count for record batch: " + to_string(h.records_count));
  }
  if (static_cast<int64_t>(h.last_offset_delta) + 1 != h.records_count) {
    return fail(ValidationError::invalid_record, "Inconsistent batch offset range " + range() +
                                                     " and count of records " +
                                                     to_string(h.records_count));
  }
  if (h.is_control()) {
    return fail(ValidationError::invalid_record,
                "Clients are not allowed to write control records");
  }
  if (h.producer_id >= 0 && h.base_sequence < 0 && !opts_.coordinator_origin) {
    return fail(ValidationError::invalid_record,
                "Invalid sequence number " + to_string(h.base_sequence) +
                    " in record batch with producerId " + to_string(h.producer_id));
  }
  if (h.timestamp_type() == TimestampType::log_append_time) {
    return fail(ValidationError::invalid_timestamp,
                "Invalid timestamp type in record batch. Producer should not set timestamp type "
                "to LogAppendTime.");
  }
  return true;
}

bool BatchValidator::check_records(const uint8_t* batch, const BatchHeader& h,
                                   int64_t& max_timestamp) {
  const size_t limit =
      opts_.max_decompressed_bytes != 0
          ? opts_.max_decompressed_bytes
          : default_decompressed_limit(static_cast<size_t>(std::max(opts_.max_message_bytes, 0)));
  std::string_view section;
  std::string why;
  if (!detail::records_section(batch, h, scratch_, limit, section, &why)) {
    return fail(ValidationError::corrupt_message, std::string("Failed to decompress the ") +
                                                      compression_name(h.compression()) +
                                                      " records of the batch: " + why);
  }
  const bool check_time = opts_.timestamp_type == TimestampType::create_time;
  const int64_t lowest = saturating_sub(opts_.now_ms, opts_.timestamp_before_max_ms);
  const int64_t highest = saturating_add(opts_.now_ms, opts_.timestamp_after_max_ms);
  detail::RecordReader reader(reinterpret_cast<const uint8_t*>(section.data()), section.size());
  detail::RawRecord record;
  for (int32_t i = 0; i < h.records_count; ++i) {
    result_.record_index = i;
    if (!reader.next(record, &why)) {
      return fail(ValidationError::invalid_record,
                  "Found invalid record structure at record " + to_string(i) + ": " + why);
    }
    if (record.offset_delta != i) {
      return fail(ValidationError::invalid_record,
                  "Invalid offset delta " + to_string(record.offset_delta) + " of record " +
                      to_string(i) + " in the batch; expected " + to_string(i));
    }
    if (opts_.require_keys && !record.key) {
      return fail(ValidationError::invalid_record,
                  "Compacted topic cannot accept message without key");
    }
    const int64_t timestamp = wire::wrapping_add(h.base_timestamp, record.timestamp_delta);
    if (check_time && timestamp != kNoTimestamp && (timestamp < lowest || timestamp > highest)) {
      return fail(ValidationError::invalid_timestamp,
                  "Timestamp " + to_string(timestamp) + " of message with offset " + to_string(i) +
                      " is out of range. The timestamp should be within [" + to_string(lowest) +
                      ", " + to_string(highest) + "]");
    }
    max_timestamp = std::max(max_timestamp, timestamp);
  }
  result_.record_index = -1;
  if (!reader.at_end()) {
    return fail(ValidationError::invalid_record,
                "Incorrect declared batch size, " + to_string(reader.remaining()) +
                    " bytes of records remain after " + to_string(h.records_count) + " records");
  }
  if (!check_time) max_timestamp = opts_.now_ms;
  return true;
}

}  // namespace

ValidationResult validate_batches(const uint8_t* bytes, size_t n, const ValidationOptions& opts) {
  ValidationResult result;
  if (n == 0) {
    result.error = ValidationError::invalid_record;
    result.message = "Produce requests must have at least one record batch per partition";
    return result;
  }
  std::string scratch;
  BatchValidator validator(opts, result, scratch);
  for (size_t pos = 0; pos < n;) {
    result.last_batch_index = result.batches;
    const uint8_t* batch = bytes + pos;
    const size_t left = n - pos;
    if (left <= batch_offset::kMagic) {
      result.error = ValidationError::corrupt_message;
      result.message = "Truncated record batch: " + to_string(left) + " bytes remain";
      return result;
    }
    const auto length = static_cast<int32_t>(wire::load_be32(batch + batch_offset::kBatchLength));
    if (length < static_cast<int32_t>(batch_offset::kMagic + 1 - kBatchOverhead) ||
        kBatchOverhead + static_cast<size_t>(length) > left) {
      result.error = ValidationError::corrupt_message;
      result.message = "Record batch length " + to_string(length) + " does not fit the " +
                       to_string(left - kBatchOverhead) + " bytes that follow it";
      return result;
    }
    const size_t total = kBatchOverhead + static_cast<size_t>(length);
    if (!validator.check(batch, total)) return result;
    ++result.batches;
    pos += total;
  }
  return result;
}

const char* validation_error_name(ValidationError e) {
  switch (e) {
    case ValidationError::none:
      return "none";
    case ValidationError::corrupt_message:
      return "corrupt_message";
    case ValidationError::invalid_record:
      return "invalid_record";
    case ValidationError::message_too_large:
      return "message_too_large";
    case ValidationError::invalid_timestamp:
      return "invalid_timestamp";
    case ValidationError::unsupported_magic:
      return "unsupported_magic";
  }
  return "unknown";
}

}  // namespace kaffa::record
