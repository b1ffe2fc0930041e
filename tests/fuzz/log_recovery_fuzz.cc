// libFuzzer target over a partition log's recovery (storage's Log::open) from whatever a crash,
// a torn write or a damaged disk left in a partition directory. The input is split into the
// .log, .index and .timeindex of segment 0 and the leader-epoch-checkpoint (lengths of the first
// three from its first bytes); the first byte also picks the recovery point (0: every batch is
// scanned with its CRC; else the segment is trusted and only its indexes are checked) and whether
// the .log part is made of batches with the right length, magic and CRC (so that inputs reach the
// offset, index and epoch checks).
//
// Whatever the files hold, open() must succeed or fail cleanly, without an ASan or UBSan report,
// and then the log must serve reads, timestamp lookups and header scans inside its files, take an
// append and close; its leader epochs must be strictly increasing with increasing start offsets.
// After a full scan (recovery point 0) every batch served has a good CRC and increasing offsets,
// and recovering the closed log again from scratch finds the same end.
#include <unistd.h>

#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <limits>
#include <string>
#include <vector>

#include "record/batch.h"
#include "record/builder.h"
#include "record/wire.h"
#include "storage/log.h"
#include "storage/segment.h"

namespace {

namespace fs = std::filesystem;
using namespace kaffa;

constexpr int64_t kNoLimit = std::numeric_limits<int64_t>::max();

void remove_work_dir();

// One directory per process, emptied before each input and removed at exit (never destroyed, so
// that the exit handler can still name it).
const fs::path& work_dir() {
  static const fs::path* const dir = [] {
    // KAFFA_FUZZ_SCRATCH (run_fuzz.py's, removed even after a crash), else tmpfs when there is
    // one: close() syncs, and a disk would make each run a few ms.
    std::error_code ec;
    const char* scratch = std::getenv("KAFFA_FUZZ_SCRATCH");
    const fs::path base = scratch != nullptr                 ? fs::path(scratch)
                          : fs::is_directory("/dev/shm", ec) ? fs::path("/dev/shm")
                                                             : fs::temp_directory_path();
    const fs::path d = base / ("kaffa-log-fuzz-" + std::to_string(::getpid()));
    fs::remove_all(d);
    std::atexit(remove_work_dir);
    return new fs::path(d / "t-0");
  }();
  return *dir;
}

void remove_work_dir() {
  std::error_code ec;
  fs::remove_all(work_dir().parent_path(), ec);
}

void write_file(const fs::path& p, const uint8_t* data, size_t n) {
  std::ofstream out(p, std::ios::binary | std::ios::trunc);
  out.write(reinterpret_cast<const char*>(data), static_cast<std::streamsize>(n));
}

// Gives every batch in the .log part a length that fits, magic 2 and its CRC.
void frame_batches(std::vector<uint8_t>& log) {
  for (size_t pos = 0; log.size() - pos >= record::kBatchHeaderSize;) {
    uint8_t* p = log.data() + pos;
    const auto room = static_cast<int64_t>(log.size() - pos - record::kBatchOverhead);
    const int64_t declared = static_cast<int32_t>(record::wire::load_be32(p + 8));
    const int64_t length = std::clamp<int64_t>(declared, record::kMinBatchLength, room);
    record::wire::store_be32(p + record::batch_offset::kBatchLength, static_cast<uint32_t>(length));
    p[record::batch_offset::kMagic] = static_cast<uint8_t>(record::kMagicV2);
    record::recompute_crc(p, record::kBatchOverhead + static_cast<size_t>(length));
    pos += record::kBatchOverhead + static_cast<size_t>(length);
  }
}

// Reads every slice back; with check, every batch must have a good CRC and offsets must increase.
void read_back(const storage::Log& log, int64_t offset, bool check) {
  const auto r = log.read(offset, kNoLimit, kNoLimit, true);
  std::string bytes;
  for (const auto& s : r.slices) {
    std::string part(static_cast<size_t>(s.length), '\0');
    if (::pread(s.fd, part.data(), part.size(), s.position) != static_cast<ssize_t>(part.size())) {
      std::abort();  // a slice outside its file
    }
    bytes += part;
  }
  if (!check) return;
  int64_t next = -1;
  for (size_t pos = 0; pos < bytes.size();) {
    const auto* p = reinterpret_cast<const uint8_t*>(bytes.data()) + pos;
    record::BatchHeader h;
    if (!record::parse_header(p, bytes.size() - pos, h) || h.batch_length < 0 ||
        h.total_size() > bytes.size() - pos || !record::crc_ok(p, h.total_size())) {
      std::fprintf(stderr, "served a broken batch at byte %zu of a read from %lld\n", pos,
                   static_cast<long long>(offset));
      std::abort();
    }
    if (h.base_offset < next || h.last_offset() >= log.log_end_offset()) {
      std::fprintf(stderr, "served batch [%lld, %lld] after %lld, log end %lld\n",
                   static_cast<long long>(h.base_offset), static_cast<long long>(h.last_offset()),
                   static_cast<long long>(next), static_cast<long long>(log.log_end_offset()));
      std::abort();
    }
    next = h.last_offset() + 1;
    pos += h.total_size();
  }
}

void check_epochs(const storage::Log& log) {
  const auto& entries = log.epoch_entries();
  for (size_t i = 1; i < entries.size(); ++i) {
    if (entries[i].epoch <= entries[i - 1].epoch ||
        entries[i].start_offset <= entries[i - 1].start_offset) {
      std::fprintf(stderr, "leader epochs out of order at entry %zu\n", i);
      std::abort();
    }
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  constexpr size_t kHead = 7;
  if (size < kHead) return 0;
  const uint8_t mode = data[0];
  size_t left = size - kHead;
  const size_t log_len = std::min<size_t>(record::wire::load_be16(data + 1), left);
  left -= log_len;
  const size_t index_len = std::min<size_t>(record::wire::load_be16(data + 3), left);
  left -= index_len;
  const size_t time_len = std::min<size_t>(record::wire::load_be16(data + 5), left);
  left -= time_len;
  const uint8_t* rest = data + kHead;
  std::vector<uint8_t> log_part(rest, rest + log_len);
  if ((mode & 1) != 0) frame_batches(log_part);
  const fs::path& dir = work_dir();
  fs::remove_all(dir);
  fs::create_directories(dir);
  write_file(storage::segment_path(dir, 0, storage::kLogSuffix), log_part.data(), log_part.size());
  write_file(storage::segment_path(dir, 0, storage::kIndexSuffix), rest + log_len, index_len);
  write_file(storage::segment_path(dir, 0, storage::kTimeIndexSuffix), rest + log_len + index_len,
             time_len);
  if (left > 0) {
    write_file(dir / storage::kLeaderEpochFile, rest + log_len + index_len + time_len, left);
  }

  storage::LogConfig cfg;
  cfg.segment_bytes = 1 << 20;
  cfg.index_interval_bytes = 64;
  const bool full_scan = (mode & 2) == 0;
  const int64_t recovery_point = full_scan ? 0 : (mode & 4) != 0 ? kNoLimit : mode >> 3;
  std::string error;
  auto log = storage::Log::open(dir, cfg, recovery_point, &error);
  if (!log) return 0;
  const int64_t start = log->log_start_offset();
  const int64_t end = log->log_end_offset();
  if (start > end) std::abort();
  check_epochs(*log);
  read_back(*log, start, full_scan);
  read_back(*log, start + (end - start) / 2, full_scan);
  read_back(*log, end, full_scan);
  log->offset_for_timestamp(0);
  log->offset_for_timestamp(std::numeric_limits<int64_t>::max());
  log->max_timestamp();
  log->scan_headers(
      start, [](const record::BatchHeader&) {}, &error);

  std::string batch =
      record::build_batch({{"k", "v", {}, 1'700'000'000'000}}, record::BuildOptions{});
  const auto appended =
      log->append(reinterpret_cast<uint8_t*>(batch.data()), batch.size(), 0, 1'700'000'000'000);
  if (appended.ok && appended.base_offset != end) std::abort();
  check_epochs(*log);
  const int64_t closed_end = log->log_end_offset();
  const bool closed = log->close(&error);
  log.reset();
  if (!full_scan || !closed) return 0;
  auto again = storage::Log::open(dir, cfg, 0, &error);
  if (!again || again->log_end_offset() != closed_end) std::abort();
  read_back(*again, again->log_start_offset(), true);
  return 0;
}
