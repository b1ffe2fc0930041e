// Construction of valid RecordBatch v2 batches (layout in batch.h): for tests, and for records the
// broker writes itself (control markers, internal topics).
//
// Threading: pure functions; safe from any thread.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "record/batch.h"

namespace kaffa::record {

struct BuildRecord {
  std::optional<std::string> key, value;
  std::vector<std::pair<std::string, std::optional<std::string>>> headers;
  int64_t timestamp;
};

struct BuildOptions {
  Compression compression = Compression::none;
  int64_t base_offset = 0;
  int32_t partition_leader_epoch = -1;
  int64_t producer_id = kNoProducerId;
  int16_t producer_epoch = -1;
  int32_t base_sequence = -1;
  bool transactional = false;
  bool control = false;
  TimestampType timestamp_type = TimestampType::create_time;
};

// A whole batch with a correct CRC. Offset deltas are 0..n-1, baseTimestamp is the first record's
// timestamp and maxTimestamp the largest. An empty `records` gives a batch of 0 records with
// lastOffsetDelta -1 and timestamps -1 (valid in form, rejected by validate_batches).
std::string build_batch(const std::vector<BuildRecord>& records, const BuildOptions& opts);

std::string build_batch(const std::vector<BuildRecord>& records, Compression c,
                        int64_t base_offset = 0, int64_t producer_id = -1,
                        int16_t producer_epoch = -1, int32_t base_sequence = -1);

// Appends one encoded record (length prefix included) to out.
void append_record(std::string& out, const BuildRecord& record, int64_t timestamp_delta,
                   int32_t offset_delta);

}  // namespace kaffa::record
