#include "storage/segment_scan.h"

#include <algorithm>
#include <limits>

#include "bytes/buffer_pool.h"

namespace kaffa::storage {

namespace {
constexpr size_t kScanChunk = size_t{1} << 20;
constexpr int32_t kMinBatchLength =
    static_cast<int32_t>(record::kBatchHeaderSize - record::kBatchOverhead);
}  // namespace

bool header_sane(const record::BatchHeader& h, int64_t position, int64_t file_size) {
  return h.batch_length >= kMinBatchLength &&
         static_cast<int64_t>(h.total_size()) <= file_size - position && h.magic == 2 &&
         h.last_offset_delta >= 0 && h.base_offset >= 0 &&
         h.base_offset <= std::numeric_limits<int64_t>::max() - h.last_offset_delta;
}

bool read_batch_header(const SegmentFile& log, int64_t position, record::BatchHeader* out) {
  uint8_t buf[record::kBatchHeaderSize];
  if (log.read_at(buf, sizeof buf, position) != static_cast<ssize_t>(sizeof buf)) return false;
  return record::parse_header(buf, sizeof buf, *out);
}

namespace {
// The scan behind scan_batches and scan_batch_bytes: with `whole` every batch is made resident
// and passed to on_batch (which may stop the scan by returning false).
ScanOutcome scan(const SegmentFile& log, int64_t position, int64_t end, int64_t next_offset,
                 int64_t max_last_offset, bool verify_crc, bool whole,
                 const std::function<bool(const BatchInfo&, const uint8_t*)>& on_batch) {
  ScanOutcome out;
  out.next_offset = next_offset;
  auto buf = bytes::Buffer::allocate(kScanChunk);
  int64_t buf_pos = position;  // the buffer holds [buf_pos, buf_pos + buf_len)
  int64_t buf_len = 0;
  // Makes [pos, pos + n) resident in the buffer; false on an I/O error or short file.
  auto ensure = [&](int64_t pos, int64_t n) {
    if (pos >= buf_pos && pos + n <= buf_pos + buf_len) return true;
    if (static_cast<size_t>(n) > buf.capacity()) buf = bytes::Buffer::allocate(n);
    const int64_t want =
        std::max<int64_t>(n, std::min<int64_t>(static_cast<int64_t>(buf.capacity()), end - pos));
    const ssize_t r = log.read_at(buf.data(), static_cast<size_t>(want), pos);
    buf_pos = pos;
    buf_len = r < 0 ? 0 : r;
    return buf_len >= n;
  };
  int64_t pos = position;
  while (pos < end) {
    const int64_t header = static_cast<int64_t>(record::kBatchHeaderSize);
    if (end - pos < header) {
      out.problem = "incomplete batch header at " + std::to_string(pos);
      break;
    }
    if (!ensure(pos, header)) {
      out.problem = "read error at " + std::to_string(pos);
      break;
    }
    record::BatchHeader h;
    const uint8_t* p = buf.data() + (pos - buf_pos);
    record::parse_header(p, record::kBatchHeaderSize, h);
    if (!header_sane(h, pos, end)) {
      out.problem = "bad batch length, magic or offset delta at " + std::to_string(pos);
      break;
    }
    if (h.base_offset < out.next_offset) {
      out.problem =
          "offset " + std::to_string(h.base_offset) + " not increasing at " + std::to_string(pos);
      break;
    }
    if (h.last_offset() > max_last_offset) {
      out.problem = "offset " + std::to_string(h.last_offset()) +
                    " beyond 2^31 - 1 above the segment base at " + std::to_string(pos);
      break;
    }
    const auto total = static_cast<int64_t>(h.total_size());
    if (verify_crc || whole) {
      if (!ensure(pos, total)) {
        out.problem = "read error at " + std::to_string(pos);
        break;
      }
      if (verify_crc && !record::crc_ok(buf.data() + (pos - buf_pos), static_cast<size_t>(total))) {
        out.problem = "CRC mismatch at " + std::to_string(pos);
        break;
      }
    }
    const uint8_t* bytes = whole ? buf.data() + (pos - buf_pos) : nullptr;
    if (!on_batch(BatchInfo{pos, total, h.base_offset, h.last_offset(), h.max_timestamp, h},
                  bytes)) {
      out.problem = "stopped";
      break;
    }
    out.next_offset = h.last_offset() + 1;
    ++out.batches;
    pos += total;
  }
  out.end_position = pos;
  out.complete = pos == end && out.problem.empty();
  return out;
}
}  // namespace

ScanOutcome scan_batches(const SegmentFile& log, int64_t position, int64_t end, int64_t next_offset,
                         bool verify_crc, const std::function<void(const BatchInfo&)>& on_batch) {
  constexpr int64_t kMaxRelative = std::numeric_limits<int32_t>::max();
  const int64_t max_last_offset = next_offset > std::numeric_limits<int64_t>::max() - kMaxRelative
                                      ? std::numeric_limits<int64_t>::max()
                                      : next_offset + kMaxRelative;
  return scan(log, position, end, next_offset, max_last_offset, verify_crc, false,
              [&on_batch](const BatchInfo& b, const uint8_t*) {
                on_batch(b);
                return true;
              });
}

ScanOutcome scan_batch_bytes(
    const SegmentFile& log, int64_t position, int64_t end,
    const std::function<bool(const BatchInfo&, const uint8_t* batch)>& on_batch) {
  return scan(log, position, end, 0, std::numeric_limits<int64_t>::max(), false, true, on_batch);
}

}  // namespace kaffa::storage
