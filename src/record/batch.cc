#include "record/batch.h"

#include "record/crc32c.h"
#include "record/wire.h"

namespace kaffa::record {
namespace {

// Size of the whole batch if it is present in n bytes and at least a v2 header long, else 0.
size_t whole_batch_size(const uint8_t* batch, size_t n) {
  if (n < kBatchHeaderSize) return 0;
  const auto length = static_cast<int32_t>(wire::load_be32(batch + batch_offset::kBatchLength));
  if (length < kMinBatchLength) return 0;
  const size_t total = kBatchOverhead + static_cast<size_t>(length);
  return total <= n ? total : 0;
}

}  // namespace

const char* compression_name(Compression c) {
  switch (c) {
    case Compression::none:
      return "none";
    case Compression::gzip:
      return "gzip";
    case Compression::snappy:
      return "snappy";
    case Compression::lz4:
      return "lz4";
    case Compression::zstd:
      return "zstd";
  }
  return "unknown";
}

bool parse_header(const uint8_t* p, size_t n, BatchHeader& out) {
  using namespace batch_offset;
  if (n < kBatchHeaderSize) return false;
  out.base_offset = static_cast<int64_t>(wire::load_be64(p + kBaseOffset));
  out.batch_length = static_cast<int32_t>(wire::load_be32(p + kBatchLength));
  out.partition_leader_epoch = static_cast<int32_t>(wire::load_be32(p + kPartitionLeaderEpoch));
  out.magic = static_cast<int8_t>(p[kMagic]);
  out.crc = wire::load_be32(p + kCrc);
  out.attributes = static_cast<int16_t>(wire::load_be16(p + kAttributes));
  out.last_offset_delta = static_cast<int32_t>(wire::load_be32(p + kLastOffsetDelta));
  out.base_timestamp = static_cast<int64_t>(wire::load_be64(p + kBaseTimestamp));
  out.max_timestamp = static_cast<int64_t>(wire::load_be64(p + kMaxTimestamp));
  out.producer_id = static_cast<int64_t>(wire::load_be64(p + kProducerId));
  out.producer_epoch = static_cast<int16_t>(wire::load_be16(p + kProducerEpoch));
  out.base_sequence = static_cast<int32_t>(wire::load_be32(p + kBaseSequence));
  out.records_count = static_cast<int32_t>(wire::load_be32(p + kRecordsCount));
  return true;
}

uint32_t compute_crc(const uint8_t* batch, size_t n) {
  const size_t total = whole_batch_size(batch, n);
  if (total == 0) return 0;
  return crc32c(batch + batch_offset::kAttributes, total - batch_offset::kAttributes);
}

bool crc_ok(const uint8_t* batch, size_t n) {
  if (whole_batch_size(batch, n) == 0) return false;
  return compute_crc(batch, n) == wire::load_be32(batch + batch_offset::kCrc);
}

void set_base_offset(uint8_t* batch, int64_t base_offset) {
  wire::store_be64(batch + batch_offset::kBaseOffset, static_cast<uint64_t>(base_offset));
}

void set_partition_leader_epoch(uint8_t* batch, int32_t epoch) {
  wire::store_be32(batch + batch_offset::kPartitionLeaderEpoch, static_cast<uint32_t>(epoch));
}

void set_log_append_time(uint8_t* batch, size_t n, int64_t now_ms) {
  if (whole_batch_size(batch, n) == 0) return;
  const uint16_t attributes = wire::load_be16(batch + batch_offset::kAttributes);
  wire::store_be16(batch + batch_offset::kAttributes,
                   static_cast<uint16_t>(attributes | kTimestampTypeBit));
  wire::store_be64(batch + batch_offset::kMaxTimestamp, static_cast<uint64_t>(now_ms));
  recompute_crc(batch, n);
}

void recompute_crc(uint8_t* batch, size_t n) {
  if (whole_batch_size(batch, n) == 0) return;
  wire::store_be32(batch + batch_offset::kCrc, compute_crc(batch, n));
}

}  // namespace kaffa::record
