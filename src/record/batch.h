// RecordBatch v2 (magic 2): the unit a producer sends, the broker stores and a consumer fetches.
// The same bytes are on the wire and on disk; the broker patches a few header fields in place.
//
// Batch layout (big-endian; offsets in bytes from the start of the batch):
//
//   @0  baseOffset            int64   offset of the first record; set by the broker on append
//   @8  batchLength           int32   bytes after this field (total size = 12 + batchLength)
//   @12 partitionLeaderEpoch  int32   set by the broker on append
//   @16 magic                 int8    2 (0 and 1 are the legacy MessageSet formats)
//   @17 crc                   uint32  CRC32C of the bytes from @21 (attributes) to the end
//   @21 attributes            int16   bits 0-2 compression (0 none, 1 gzip, 2 snappy, 3 lz4,
//                                     4 zstd); bit 3 timestamp type (1 = LogAppendTime);
//                                     bit 4 transactional; bit 5 control batch; bit 6 delete
//                                     horizon (KIP-534: set by the log cleaner)
//   @23 lastOffsetDelta       int32   offset of the last record minus baseOffset
//   @27 baseTimestamp         int64   timestamp of the first record, or with bit 6 the delete
//                                     horizon (ms): the record deltas are relative to it then
//   @35 maxTimestamp          int64   largest record timestamp (the append time for
//                                     LogAppendTime batches)
//   @43 producerId            int64   -1 when not idempotent
//   @51 producerEpoch         int16
//   @53 baseSequence          int32
//   @57 recordsCount          int32
//   @61 records                       recordsCount records, the whole section compressed with
//                                     the codec of the attributes (one stream, no extra framing)
//
// baseOffset, batchLength and partitionLeaderEpoch lie before the CRC'd range, so the broker can
// assign offsets and stamp the leader epoch without recomputing the CRC.
//
// Record layout (varint = zigzag int32, varlong = zigzag int64, as in Protocol Buffers):
//
//   length          varint   bytes of the record after this field
//   attributes      int8     unused, 0
//   timestampDelta  varlong  timestamp minus baseTimestamp
//   offsetDelta     varint   offset minus baseOffset; 0, 1, 2, ... within a batch
//   keyLength       varint   -1 for a null key
//   key             bytes
//   valueLength     varint   -1 for a null value
//   value           bytes
//   headersCount    varint
//   headers         headersCount x { keyLength varint (>= 0), key, valueLength varint (-1 null),
//                                    value }
//
// Threading: every function here is pure (or patches only the caller's buffer); safe from any
// thread.
#pragma once

#include <cstddef>
#include <cstdint>

namespace kaffa::record {

constexpr size_t kBatchHeaderSize = 61;
constexpr size_t kBatchOverhead = 12;  // baseOffset + batchLength
constexpr int8_t kMagicV2 = 2;
// Smallest batchLength of a v2 batch: the header after batchLength, no records.
constexpr int32_t kMinBatchLength = static_cast<int32_t>(kBatchHeaderSize - kBatchOverhead);
constexpr int64_t kNoProducerId = -1;
constexpr int64_t kNoTimestamp = -1;

// Byte offsets of the header fields.
namespace batch_offset {
constexpr size_t kBaseOffset = 0;
constexpr size_t kBatchLength = 8;
constexpr size_t kPartitionLeaderEpoch = 12;
constexpr size_t kMagic = 16;
constexpr size_t kCrc = 17;
constexpr size_t kAttributes = 21;
constexpr size_t kLastOffsetDelta = 23;
constexpr size_t kBaseTimestamp = 27;
constexpr size_t kMaxTimestamp = 35;
constexpr size_t kProducerId = 43;
constexpr size_t kProducerEpoch = 51;
constexpr size_t kBaseSequence = 53;
constexpr size_t kRecordsCount = 57;
}  // namespace batch_offset

// Attribute bits.
constexpr int16_t kCompressionMask = 0x07;
constexpr int16_t kTimestampTypeBit = 0x08;
constexpr int16_t kTransactionalBit = 0x10;
constexpr int16_t kControlBit = 0x20;
constexpr int16_t kDeleteHorizonBit = 0x40;

enum class Compression : int8_t { none = 0, gzip = 1, snappy = 2, lz4 = 3, zstd = 4 };
enum class TimestampType : int8_t { create_time = 0, log_append_time = 1 };

struct BatchHeader {
  int64_t base_offset;
  int32_t batch_length;
  int32_t partition_leader_epoch;
  int8_t magic;
  uint32_t crc;
  int16_t attributes;
  int32_t last_offset_delta;
  int64_t base_timestamp;
  int64_t max_timestamp;
  int64_t producer_id;
  int16_t producer_epoch;
  int32_t base_sequence;
  int32_t records_count;

  // The codec bits as stored: values 5-7 are not a valid Compression; see is_known_compression.
  Compression compression() const {
    return static_cast<Compression>(attributes & kCompressionMask);
  }
  TimestampType timestamp_type() const {
    return (attributes & kTimestampTypeBit) ? TimestampType::log_append_time
                                            : TimestampType::create_time;
  }
  bool is_transactional() const { return (attributes & kTransactionalBit) != 0; }
  bool is_control() const { return (attributes & kControlBit) != 0; }
  // With it, base_timestamp is the time after which the log cleaner may drop the batch's
  // tombstones.
  bool has_delete_horizon() const { return (attributes & kDeleteHorizonBit) != 0; }
  // Wrapping (Java) arithmetic: a hostile header must not cause signed overflow.
  int64_t last_offset() const {
    return static_cast<int64_t>(static_cast<uint64_t>(base_offset) +
                                static_cast<uint64_t>(static_cast<int64_t>(last_offset_delta)));
  }
  // Meaningful only when batch_length >= 0.
  size_t total_size() const { return kBatchOverhead + static_cast<size_t>(batch_length); }
};

inline bool is_known_compression(Compression c) {
  return static_cast<int8_t>(c) >= 0 && static_cast<int8_t>(c) <= 4;
}
const char* compression_name(Compression c);

// Parses the fixed header; false if fewer than kBatchHeaderSize bytes. Does not check anything
// else.
bool parse_header(const uint8_t* p, size_t n, BatchHeader& out);

// The CRC32C of batch[21, total_size) as the batch should store it. Requires a whole batch
// (n >= total_size() >= kBatchHeaderSize); returns 0 otherwise.
uint32_t compute_crc(const uint8_t* batch, size_t n);

// True when the stored CRC matches the bytes (whole batch must be present: n >= total_size()).
// False for anything shorter than a header or whose batchLength does not fit in n.
bool crc_ok(const uint8_t* batch, size_t n);

// In-place patches used on append. base offset and leader epoch lie outside the CRC; the max
// timestamp (and attributes) lie inside, so set_log_append_time recomputes the CRC.
// `batch` must hold at least kBatchHeaderSize bytes (a whole batch for the CRC-changing ones).
void set_base_offset(uint8_t* batch, int64_t base_offset);
void set_partition_leader_epoch(uint8_t* batch, int32_t epoch);
// Sets the timestamp-type bit and maxTimestamp = now_ms, then recomputes the CRC over n bytes
// (n >= total_size(); does nothing when the batch is not whole).
void set_log_append_time(uint8_t* batch, size_t n, int64_t now_ms);
// Rewrites the stored CRC from the bytes (after a caller edits CRC-covered fields; tests).
void recompute_crc(uint8_t* batch, size_t n);

}  // namespace kaffa::record
