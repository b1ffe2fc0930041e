// Validation of the `records` a producer sends for one partition, before they are appended
// byte for byte (architecture principle 1). Mirrors what Kafka's LogValidator checks for magic 2
// batches from clients; the broker maps each ValidationError to a Kafka error code:
//
//   corrupt_message    CORRUPT_MESSAGE (2): truncated batch, bad batchLength, bad CRC,
//                      unknown magic or codec, a compressed section that does not decompress
//   invalid_record     INVALID_RECORD (87): no batch, recordsCount <= 0 or != lastOffsetDelta + 1,
//                      control batch, producer id without a sequence (clients only), malformed
//                      records, offset deltas not 0..n-1, a null key on a compacted topic
//   message_too_large  MESSAGE_TOO_LARGE (10): a batch larger than max.message.bytes
//   invalid_timestamp  INVALID_TIMESTAMP (32): a record timestamp outside the allowed window, or
//                      a producer that set LogAppendTime itself
//   unsupported_magic  magic 0 or 1: Kafka answers INVALID_RECORD (87) for Produce v3+ (which
//                      must carry magic 2), UNSUPPORTED_FOR_MESSAGE_FORMAT (43) otherwise
//
// Checks run in Kafka's order (size, then CRC, then header fields, then records), and the first
// failure ends validation.
//
// Threading: pure function; safe from any thread.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>

#include "record/batch.h"

namespace kaffa::record {

struct ValidationOptions {
  int32_t max_message_bytes = 1048588;                        // max.message.bytes: largest batch
  TimestampType timestamp_type = TimestampType::create_time;  // message.timestamp.type
  int64_t timestamp_before_max_ms = INT64_MAX;                // message.timestamp.before.max.ms
  int64_t timestamp_after_max_ms = INT64_MAX;                 // message.timestamp.after.max.ms
  int64_t now_ms = 0;
  bool require_keys = false;  // compacted topics: every record needs a key
  // Batches a coordinator of this broker writes (Kafka's AppendOrigin.COORDINATOR): a producer id
  // without a sequence (NO_SEQUENCE) is allowed. Control batches are refused all the same.
  bool coordinator_origin = false;
  // Largest decompressed records section accepted; 0 means max(64 MiB, 8 x max_message_bytes).
  size_t max_decompressed_bytes = 0;
};

enum class ValidationError : int8_t {
  none,
  corrupt_message,
  invalid_record,
  message_too_large,
  invalid_timestamp,
  unsupported_magic
};

struct ValidationResult {
  ValidationError error = ValidationError::none;
  std::string message;  // Kafka-like human message for the error_message field
  int32_t batches = 0;  // whole batches that passed
  int64_t records = 0;  // sum of their recordsCount
  // Largest record timestamp of the passed batches (computed from the records, not taken from
  // the headers' maxTimestamp); now_ms under LogAppendTime; -1 when there is none.
  int64_t max_timestamp = -1;
  // Index of the last batch looked at: the failing batch on error, else batches - 1.
  int32_t last_batch_index = -1;
  // On a record-level error, the index of the offending record within its batch (Kafka's
  // record_errors.batch_index of the Produce response); else -1.
  int32_t record_index = -1;

  bool ok() const { return error == ValidationError::none; }
};

// `bytes` may hold several whole batches; a trailing partial batch is corrupt_message.
ValidationResult validate_batches(const uint8_t* bytes, size_t n, const ValidationOptions& opts);

const char* validation_error_name(ValidationError e);

}  // namespace kaffa::record
