#include "coordinator/replay.h"

#include <string>

#include "base/file.h"

namespace kaffa::coordinator {

std::optional<int64_t> replay_batches(const cluster::Partition& p, int64_t offset, int64_t end,
                                      int64_t max_bytes, const BatchFn& fn) {
  std::string buf;
  int64_t read = 0;
  while (offset < end && read < max_bytes) {
    auto r = p.read_to_log_end(offset, 1 << 20, true);
    if (r.error != protocol::ErrorCode::none) return std::nullopt;
    if (r.bytes == 0) return end;  // only offsets removed by compaction remain below the end
    read += r.bytes;
    for (const auto& f : r.records.files) {
      buf.resize(f.length);
      const ssize_t got = file::read_at(f.fd, buf.data(), f.length, f.offset);
      buf.resize(got > 0 ? static_cast<size_t>(got) : 0);
      const auto* data = reinterpret_cast<const uint8_t*>(buf.data());
      size_t pos = 0;
      while (pos + record::kBatchHeaderSize <= buf.size()) {
        record::BatchHeader h;
        record::parse_header(data + pos, buf.size() - pos, h);
        if (h.batch_length < record::kMinBatchLength || pos + h.total_size() > buf.size()) break;
        fn(h, data + pos, h.total_size());
        offset = h.last_offset() + 1;
        pos += h.total_size();
      }
    }
  }
  return offset;
}

}  // namespace kaffa::coordinator
