// Log: opening, recovery and lifecycle. Appends are in log_append.cc, reads in log_read.cc.
#include "storage/log.h"

#include <algorithm>
#include <chrono>
#include <limits>
#include <system_error>

#include "base/clock.h"
#include "base/log.h"
#include "storage/segment_scan.h"

namespace kaffa::storage {

namespace {
constexpr int64_t kNoLimit = std::numeric_limits<int64_t>::max();

void set(std::string* error, std::string message) {
  if (error != nullptr) *error = std::move(message);
}
}  // namespace

Log::Log(std::filesystem::path dir, const LogConfig& cfg)
    : dir_(std::move(dir)),
      cfg_(cfg),
      cache_(static_cast<size_t>(std::max<int32_t>(1, cfg.max_open_read_files))) {}

Log::~Log() = default;

std::unique_ptr<Log> Log::open(const std::filesystem::path& dir, const LogConfig& cfg,
                               int64_t recovery_point, std::string* error) {
  std::unique_ptr<Log> log(new Log(dir, cfg));
  if (!log->load(recovery_point, error)) return nullptr;
  log->log_start_offset_ = log->segments_.begin()->first;
  log->load_epochs();
  return log;
}

void Log::load_epochs() {
  // The file as loaded, completed by recovery: epochs of batches rescanned above the recovery
  // point were assigned during load(), after this file was read.
  const auto loaded = epochs_.entries();
  // Entries beyond the log go; one starting exactly at its end stays (a leader's epoch that has
  // not written yet), so that reopening an unchanged log rewrites nothing.
  bool changed = epochs_.truncate_from_end(log_end_offset() + 1);
  changed = epochs_.truncate_from_start(log_start_offset_) || changed;
  if (epochs_.entries().empty() && log_end_offset() > log_start_offset_) {
    // No usable file (a log written before epochs were kept): the first batch's epoch holds from
    // the log start on; recovery adds later epochs only above the recovery point.
    std::string ignored;
    const auto& first = segments_.begin()->second;
    record::BatchHeader h;
    if (auto file = log_file(first, &ignored); file && read_batch_header(*file, 0, &h)) {
      changed = epochs_.assign(h.partition_leader_epoch, log_start_offset_) || changed;
    }
  }
  if (changed || epochs_.entries() != loaded) epochs_changed();
}

void Log::epochs_changed() {
  ++epochs_version_;  // written and synced by the next flush ticket (or close())
}

bool Log::write_epochs() const {
  if (epochs_written_version_ == epochs_version_) return true;
  std::string error;
  if (!epochs_.write(dir_ / kLeaderEpochFile, &error, false)) {
    log::warn("{}: cannot write the leader epoch checkpoint: {}", dir_.string(), error);
    return false;
  }
  epochs_written_version_ = epochs_version_;
  return true;
}

void Log::epochs_follow_log_start() {
  if (epochs_.truncate_from_start(log_start_offset_)) epochs_changed();
}

// Validates the indexes of a segment whose data is trusted; fills entry counts and, from the time
// index, the max timestamp. False when an index is missing or invalid.
bool Log::load_trusted(SegmentMeta& m, int64_t offset_limit, std::string* error) {
  using Mode = SegmentFile::Mode;
  std::string ignored;
  auto log =
      SegmentFile::open(segment_path(dir_, m.base_offset, kLogSuffix), Mode::read_only, error);
  auto idx =
      SegmentFile::open(segment_path(dir_, m.base_offset, kIndexSuffix), Mode::read_only, &ignored);
  auto tidx = SegmentFile::open(segment_path(dir_, m.base_offset, kTimeIndexSuffix),
                                Mode::read_only, &ignored);
  if (!log || !idx || !tidx) return false;
  std::string why;
  if (!OffsetIndex::validate(*idx, m.base_offset, m.size, offset_limit, &m.index_entries, &why) ||
      !TimeIndex::validate(*tidx, m.base_offset, offset_limit, &m.time_index_entries, &why)) {
    log::warn("{}: index of segment {} invalid ({}), rebuilding", dir_.string(), m.base_offset,
              why);
    return false;
  }
  const OffsetIndex index(idx, m.base_offset, m.index_entries, false);
  if (const auto last = index.last_entry()) {
    record::BatchHeader h;
    if (!read_batch_header(*log, last->position, &h) || !header_sane(h, last->position, m.size) ||
        h.last_offset() != last->offset) {
      log::warn("{}: index of segment {} does not match its log, rebuilding", dir_.string(),
                m.base_offset);
      return false;
    }
  }
  const TimeIndex time_index(tidx, m.base_offset, m.time_index_entries, false);
  if (const auto last = time_index.last_entry()) {
    m.max_timestamp = last->timestamp;
    m.offset_of_max_timestamp = last->offset;
  }
  return true;
}

bool Log::rebuild_indexes(SegmentMeta& m, bool active, std::string* error) {
  auto writer = SegmentWriter::open(dir_, m, cfg_.index_interval_bytes, true, error);
  if (!writer) return false;
  const int64_t size = m.size;
  m.max_timestamp = m.offset_of_max_timestamp = -1;
  std::string index_error;
  const auto out =
      scan_batches(*writer->log(), 0, size, m.base_offset, false,
                   [&](const BatchInfo& b) { writer->index_batch(m, b, &index_error); });
  if (!active) writer->seal(m, &index_error);
  ++stats_.indexes_rebuilt;
  return out.complete;
}

void Log::delete_segment_files(int64_t base_offset) {
  for (const auto suffix : {kLogSuffix, kIndexSuffix, kTimeIndexSuffix}) {
    const auto path = segment_path(dir_, base_offset, suffix);
    cache_.erase(path);
    std::error_code ec;
    std::filesystem::remove(path, ec);
    if (ec) log::warn("{}: cannot delete {}: {}", dir_.string(), path.string(), ec.message());
  }
}

bool Log::open_active(bool reset_indexes, std::string* error) {
  SegmentMeta& m = segments_.rbegin()->second;
  active_ = SegmentWriter::open(dir_, m, cfg_.index_interval_bytes, reset_indexes, error);
  if (!active_) return false;
  // Blocks a crashed broker had reserved past the data (SegmentWriter::reserve_for) go back.
  if (active_->log()->allocated() > m.size + 4096 && !active_->release_reserved(m.size, error)) {
    return false;
  }
  if (m.size > 0) {
    // As Kafka: the age of a reopened segment counts from its first batch's max timestamp.
    record::BatchHeader h;
    const bool have = read_batch_header(*active_->log(), 0, &h);
    active_->first_append_ms = have && h.max_timestamp >= 0 ? h.max_timestamp : clock::wall_ms();
  }
  return true;
}

bool Log::load(int64_t rp, std::string* error) {
  std::error_code ec;
  std::filesystem::create_directories(dir_, ec);
  if (ec) {
    set(error, "cannot create " + dir_.string() + ": " + ec.message());
    return false;
  }
  if (!complete_interrupted_swaps(dir_, error)) return false;
  std::string epochs_problem;
  epochs_ = LeaderEpochCache::load(dir_ / kLeaderEpochFile, &epochs_problem);
  if (!epochs_problem.empty()) {
    log::warn("{}: {}; leader epochs are rebuilt", dir_.string(), epochs_problem);
  }

  std::vector<int64_t> bases;
  std::vector<std::pair<int64_t, std::filesystem::path>> index_files;
  for (const auto& entry : std::filesystem::directory_iterator(dir_, ec)) {
    int64_t base;
    std::string suffix;
    if (!entry.is_regular_file() ||
        !parse_segment_name(entry.path().filename().string(), &base, &suffix)) {
      continue;
    }
    if (suffix == kLogSuffix) {
      bases.push_back(base);
    } else {
      index_files.emplace_back(base, entry.path());
    }
  }
  if (ec) {
    set(error, "cannot list " + dir_.string() + ": " + ec.message());
    return false;
  }
  std::sort(bases.begin(), bases.end());
  for (const auto& [base, path] : index_files) {  // indexes without a log: leftovers
    if (!std::binary_search(bases.begin(), bases.end(), base)) std::filesystem::remove(path, ec);
  }

  if (bases.empty()) {
    segments_.emplace(0, SegmentMeta{});
    if (!open_active(true, error)) return false;
    // The directory's entries (the new segment files) become durable with the first flush.
    pending_flush_.push_back({kDirectorySync, 0, {}, true});
    recovery_point_ = 0;
    return true;
  }

  int64_t expected = bases.front();  // lowest acceptable next offset
  for (size_t i = 0; i < bases.size(); ++i) {
    const int64_t base = bases[i];
    const bool last = i + 1 == bases.size();
    const int64_t next_base = last ? kNoLimit : bases[i + 1];
    SegmentMeta m;
    m.base_offset = m.next_offset = base;
    auto file = SegmentFile::open(segment_path(dir_, base, kLogSuffix),
                                  SegmentFile::Mode::read_write, error);
    if (!file) return false;
    const int64_t file_size = file->size();
    if (file_size < 0) {
      set(error, "cannot stat " + file->path().string());
      return false;
    }
    m.size = file_size;
    bool cut = false;  // everything after this segment goes
    bool done = false;
    if (base < expected) {
      log::warn("{}: segment {} overlaps the previous one, deleting it and later segments",
                dir_.string(), base);
      for (size_t k = i; k < bases.size(); ++k) delete_segment_files(bases[k]);
      stats_.segments_deleted += static_cast<int64_t>(bases.size() - i);
      break;
    }
    if (!last && next_base <= rp) {
      // Below the recovery point: trusted data; only the indexes are checked.
      m.next_offset = next_base;
      done = load_trusted(m, next_base, error) || rebuild_indexes(m, false, error);
    } else if (last && base <= rp && load_trusted(m, kNoLimit, error)) {
      // Last segment, possibly entirely below the recovery point: walk headers from the last
      // index entry to find the end. Anything odd, or data above rp: full scan below.
      const auto idx_file = SegmentFile::open(segment_path(dir_, base, kIndexSuffix),
                                              SegmentFile::Mode::read_only, error);
      const auto last_entry = idx_file
                                  ? OffsetIndex(idx_file, base, m.index_entries, false).last_entry()
                                  : std::nullopt;
      const int64_t from = last_entry ? last_entry->position : 0;
      const auto out = scan_batches(*file, from, m.size, base, false, [&](const BatchInfo& b) {
        if (b.max_timestamp > m.max_timestamp) {
          m.max_timestamp = b.max_timestamp;
          m.offset_of_max_timestamp = b.last_offset;
        }
      });
      const int64_t end = out.batches > 0 ? out.next_offset : base;
      const bool time_ok = m.time_index_entries == 0 || m.offset_of_max_timestamp < end;
      if (out.complete && end <= rp && time_ok) {
        m.next_offset = end;
        done = true;
      } else {
        m.max_timestamp = m.offset_of_max_timestamp = -1;
      }
    }
    if (!done) {
      // Full recovery scan with CRC; the indexes are rebuilt on the way.
      ++stats_.segments_scanned;
      m.size = file_size;
      m.next_offset = base;
      m.max_timestamp = m.offset_of_max_timestamp = -1;
      auto writer = SegmentWriter::open(dir_, m, cfg_.index_interval_bytes, true, error);
      if (!writer) return false;
      const int64_t size = m.size;
      std::string index_error;
      const auto out =
          scan_batches(*file, 0, size, std::max(expected, base), true, [&](const BatchInfo& b) {
            writer->index_batch(m, b, &index_error);
            // As Kafka's LogSegment.recover: epochs of the rescanned batches.
            const int32_t epoch = b.header.partition_leader_epoch;
            const auto latest = epochs_.latest_epoch();
            if (epoch >= 0 && (!latest || epoch > *latest)) {
              epochs_.assign(epoch, b.base_offset);
            }
          });
      ++stats_.indexes_rebuilt;
      stats_.batches_scanned += out.batches;
      if (!out.complete) {
        log::warn("{}: segment {}: {}; truncating {} bytes at {}", dir_.string(), base, out.problem,
                  size - out.end_position, out.end_position);
        if (!file->truncate(out.end_position, error)) return false;
        stats_.bytes_truncated += size - out.end_position;
        m.size = out.end_position;
        cut = !last;
      } else if (!last && m.next_offset > next_base) {
        log::warn("{}: segment {} runs into the next one", dir_.string(), base);
        cut = true;
      }
      if (!last && !cut) writer->seal(m, &index_error);
      if (!last && !cut && m.next_offset < next_base) m.next_offset = next_base;
    }
    expected = m.next_offset;
    segments_.emplace(base, m);
    if (cut) {
      for (size_t k = i + 1; k < bases.size(); ++k) delete_segment_files(bases[k]);
      stats_.segments_deleted += static_cast<int64_t>(bases.size() - i - 1);
      break;
    }
  }
  if (!open_active(false, error)) return false;
  recovery_point_ = std::min(rp, log_end_offset());
  return true;
}

int64_t Log::size_bytes() const {
  int64_t total = 0;
  for (const auto& [base, m] : segments_) total += m.size;
  return total;
}

}  // namespace kaffa::storage
