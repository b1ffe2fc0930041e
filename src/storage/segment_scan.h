// Reading batch headers out of a segment's .log file: the recovery scan and the header hops of
// the read path. Nothing here keeps state; threading is the caller's (the Log's owner thread, or
// any thread for a const SegmentFile).
#pragma once

#include <cstdint>
#include <functional>
#include <string>

#include "record/batch.h"
#include "storage/segment_file.h"

namespace kaffa::storage {

struct BatchInfo {
  int64_t position = 0;  // of the batch in the .log
  int64_t size = 0;      // total bytes (12 + batchLength)
  int64_t base_offset = 0;
  int64_t last_offset = 0;
  int64_t max_timestamp = -1;
  record::BatchHeader header{};  // the whole fixed header (producer fields, attributes, ...)
};

struct ScanOutcome {
  int64_t end_position = 0;  // just past the last good batch
  int64_t next_offset = 0;   // last offset of the last good batch + 1 (or the input when none)
  int64_t batches = 0;
  bool complete = false;  // reached `end` exactly, every batch good
  std::string problem;    // why the scan stopped early
};

// Walks the batches in [position, end) of `log`, reading page-aligned 1 MiB chunks. Each batch
// must have a sane length (>= a v2 header, not past `end`), magic 2, lastOffsetDelta >= 0 (and no
// wrap past 2^63 - 1), a base offset >= the next expected offset (`next_offset` at first: the
// segment's base offset or later), a last offset at most 2^31 - 1 above that first next_offset
// (an index's relative offset, Kafka's ensureOffsetInRange), and, with verify_crc, a correct
// CRC32C. Stops at the first batch that is not, which is then reported in `problem`.
ScanOutcome scan_batches(const SegmentFile& log, int64_t position, int64_t end, int64_t next_offset,
                         bool verify_crc, const std::function<void(const BatchInfo&)>& on_batch);

// The same walk without CRC checks, handing each whole batch (valid until the next call) to
// on_batch, which returns false to stop (the outcome then says "stopped").
ScanOutcome scan_batch_bytes(
    const SegmentFile& log, int64_t position, int64_t end,
    const std::function<bool(const BatchInfo&, const uint8_t* batch)>& on_batch);

// pread of the 61-byte batch header at `position` (never the batch). False on a short read.
bool read_batch_header(const SegmentFile& log, int64_t position, record::BatchHeader* out);

// True when the header is plausible for a batch starting at position in a file of `file_size`
// (length, magic, a non-negative base offset and a last offset that does not wrap).
bool header_sane(const record::BatchHeader& h, int64_t position, int64_t file_size);

}  // namespace kaffa::storage
