// Helpers for the storage tests: temporary directories, v2 batches built by hand (uncompressed
// records, or an opaque "compressed" payload), and reading FileSlices back.
#pragma once

#include <fcntl.h>
#include <gtest/gtest.h>
#include <stdlib.h>
#include <unistd.h>

#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

#include "record/batch.h"
#include "record/crc32c.h"
#include "storage/log.h"

namespace kaffa::storage::testing {

class TempDir {
 public:
  TempDir() {
    char tmpl[] = "/tmp/kaffa-storage-test-XXXXXX";
    path_ = ::mkdtemp(tmpl);
  }
  ~TempDir() {
    std::error_code ec;
    std::filesystem::remove_all(path_, ec);
  }
  const std::filesystem::path& path() const { return path_; }

 private:
  std::filesystem::path path_;
};

inline void put_be(std::string& s, size_t at, uint64_t v, int n) {
  for (int i = n - 1; i >= 0; --i) {
    s[at + static_cast<size_t>(i)] = static_cast<char>(v & 0xff);
    v >>= 8;
  }
}

inline void put_varint(std::string& s, int64_t v) {
  uint64_t z = (static_cast<uint64_t>(v) << 1) ^ static_cast<uint64_t>(v >> 63);
  while (z >= 0x80) {
    s.push_back(static_cast<char>((z & 0x7f) | 0x80));
    z >>= 7;
  }
  s.push_back(static_cast<char>(z));
}

struct BatchSpec {
  int records = 1;
  int64_t base_timestamp = 1000;
  int64_t timestamp_step = 1;  // record i has base_timestamp + i * step
  size_t value_size = 10;
  int16_t attributes = 0;  // compression bits: payload is opaque bytes
};

// A valid v2 batch with base offset 0 (the log assigns offsets) and a correct CRC32C.
inline std::string make_batch(const BatchSpec& spec) {
  std::string records;
  int64_t max_ts = spec.base_timestamp;
  for (int i = 0; i < spec.records; ++i) {
    std::string body;
    body.push_back(0);  // attributes
    const int64_t delta = spec.timestamp_step * i;
    max_ts = std::max(max_ts, spec.base_timestamp + delta);
    put_varint(body, delta);
    put_varint(body, i);
    put_varint(body, -1);  // null key
    put_varint(body, static_cast<int64_t>(spec.value_size));
    body.append(spec.value_size, static_cast<char>('a' + i % 26));
    put_varint(body, 0);  // headers
    put_varint(records, static_cast<int64_t>(body.size()));
    records += body;
  }
  std::string b(record::kBatchHeaderSize, '\0');
  b += records;
  put_be(b, 8, b.size() - 12, 4);
  b[16] = 2;
  put_be(b, 21, static_cast<uint16_t>(spec.attributes), 2);
  put_be(b, 23, static_cast<uint32_t>(spec.records - 1), 4);
  put_be(b, 27, static_cast<uint64_t>(spec.base_timestamp), 8);
  put_be(b, 35, static_cast<uint64_t>(max_ts), 8);
  put_be(b, 43, static_cast<uint64_t>(-1), 8);
  put_be(b, 51, static_cast<uint16_t>(-1), 2);
  put_be(b, 53, static_cast<uint32_t>(-1), 4);
  put_be(b, 57, static_cast<uint32_t>(spec.records), 4);
  put_be(b, 17, record::crc32c(b.data() + 21, b.size() - 21), 4);
  return b;
}

// Opens (recovering) the log in dir; a failure fails the test and returns nullptr.
inline std::unique_ptr<Log> open_log_with(const std::filesystem::path& dir, const LogConfig& cfg,
                                          int64_t recovery_point) {
  std::string error;
  auto log = Log::open(dir, cfg, recovery_point, &error);
  EXPECT_NE(log, nullptr) << error;
  return log;
}

inline Log::AppendResult append(Log& log, std::string bytes, int64_t now_ms = 0,
                                int32_t epoch = 7) {
  return log.append(reinterpret_cast<uint8_t*>(bytes.data()), bytes.size(), epoch, now_ms);
}

// The bytes of every slice, read through the slice's own descriptor.
inline std::string slice_bytes(const std::vector<FileSlice>& slices) {
  std::string out;
  for (const auto& s : slices) {
    std::string part(static_cast<size_t>(s.length), '\0');
    const ssize_t r = ::pread(s.fd, part.data(), part.size(), s.position);
    if (r != static_cast<ssize_t>(part.size())) return "<short read>";
    out += part;
  }
  return out;
}

struct ParsedBatch {
  int64_t base_offset;
  int64_t last_offset;
  int32_t leader_epoch;
  bool crc_ok;
};

inline std::vector<ParsedBatch> parse_batches(const std::string& bytes) {
  std::vector<ParsedBatch> out;
  size_t pos = 0;
  while (pos < bytes.size()) {
    record::BatchHeader h;
    const auto* p = reinterpret_cast<const uint8_t*>(bytes.data()) + pos;
    if (!record::parse_header(p, bytes.size() - pos, h) || h.total_size() > bytes.size() - pos) {
      out.push_back({-1, -1, -1, false});
      break;
    }
    out.push_back({h.base_offset, h.last_offset(), h.partition_leader_epoch,
                   record::crc_ok(p, h.total_size())});
    pos += h.total_size();
  }
  return out;
}

inline int64_t file_size(const std::filesystem::path& p) {
  return static_cast<int64_t>(std::filesystem::file_size(p));
}

}  // namespace kaffa::storage::testing
