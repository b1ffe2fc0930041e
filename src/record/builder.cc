#include "record/builder.h"

#include <algorithm>

#include "record/codec.h"
#include "record/wire.h"

namespace kaffa::record {
namespace {

void append_bytes(std::string& out, const std::optional<std::string>& bytes) {
  if (!bytes) {
    wire::append_varint(out, -1);
    return;
  }
  wire::append_varint(out, static_cast<int32_t>(bytes->size()));
  out.append(*bytes);
}

}  // namespace

void append_record(std::string& out, const BuildRecord& record, int64_t timestamp_delta,
                   int32_t offset_delta) {
  std::string body;
  body.push_back(0);  // attributes
  wire::append_varlong(body, timestamp_delta);
  wire::append_varint(body, offset_delta);
  append_bytes(body, record.key);
  append_bytes(body, record.value);
  wire::append_varint(body, static_cast<int32_t>(record.headers.size()));
  for (const auto& [key, value] : record.headers) {
    wire::append_varint(body, static_cast<int32_t>(key.size()));
    body.append(key);
    append_bytes(body, value);
  }
  wire::append_varint(out, static_cast<int32_t>(body.size()));
  out.append(body);
}

std::string build_batch(const std::vector<BuildRecord>& records, const BuildOptions& opts) {
  const int64_t base_timestamp = records.empty() ? kNoTimestamp : records.front().timestamp;
  int64_t max_timestamp = kNoTimestamp;
  std::string section;
  for (size_t i = 0; i < records.size(); ++i) {
    const int64_t delta = static_cast<int64_t>(static_cast<uint64_t>(records[i].timestamp) -
                                               static_cast<uint64_t>(base_timestamp));
    append_record(section, records[i], delta, static_cast<int32_t>(i));
    max_timestamp = std::max(max_timestamp, records[i].timestamp);
  }
  std::string compressed;
  if (opts.compression != Compression::none) {
    compress(opts.compression, section, compressed);
    section.swap(compressed);
  }

  int16_t attributes = static_cast<int16_t>(opts.compression) & kCompressionMask;
  if (opts.timestamp_type == TimestampType::log_append_time) attributes |= kTimestampTypeBit;
  if (opts.transactional) attributes |= kTransactionalBit;
  if (opts.control) attributes |= kControlBit;

  using namespace batch_offset;
  std::string batch(kBatchHeaderSize, '\0');
  auto* p = reinterpret_cast<uint8_t*>(batch.data());
  wire::store_be64(p + kBaseOffset, static_cast<uint64_t>(opts.base_offset));
  wire::store_be32(p + kBatchLength,
                   static_cast<uint32_t>(kBatchHeaderSize - kBatchOverhead + section.size()));
  wire::store_be32(p + kPartitionLeaderEpoch, static_cast<uint32_t>(opts.partition_leader_epoch));
  p[kMagic] = static_cast<uint8_t>(kMagicV2);
  wire::store_be16(p + kAttributes, static_cast<uint16_t>(attributes));
  wire::store_be32(p + kLastOffsetDelta, static_cast<uint32_t>(records.size()) - 1);
  wire::store_be64(p + kBaseTimestamp, static_cast<uint64_t>(base_timestamp));
  wire::store_be64(p + kMaxTimestamp, static_cast<uint64_t>(max_timestamp));
  wire::store_be64(p + kProducerId, static_cast<uint64_t>(opts.producer_id));
  wire::store_be16(p + kProducerEpoch, static_cast<uint16_t>(opts.producer_epoch));
  wire::store_be32(p + kBaseSequence, static_cast<uint32_t>(opts.base_sequence));
  wire::store_be32(p + kRecordsCount, static_cast<uint32_t>(records.size()));
  batch.append(section);
  recompute_crc(reinterpret_cast<uint8_t*>(batch.data()), batch.size());
  return batch;
}

std::string build_batch(const std::vector<BuildRecord>& records, Compression c, int64_t base_offset,
                        int64_t producer_id, int16_t producer_epoch, int32_t base_sequence) {
  BuildOptions opts;
  opts.compression = c;
  opts.base_offset = base_offset;
  opts.producer_id = producer_id;
  opts.producer_epoch = producer_epoch;
  opts.base_sequence = base_sequence;
  return build_batch(records, opts);
}

}  // namespace kaffa::record
