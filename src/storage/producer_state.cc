#include "storage/producer_state.h"

#include <algorithm>
#include <limits>
#include <vector>

#include "base/log.h"
#include "record/crc32c.h"
#include "storage/checkpoint_file.h"
#include "storage/endian.h"
#include "storage/log.h"
#include "storage/segment_file.h"

namespace kaffa::storage {
namespace {

constexpr int16_t kSnapshotVersion = 2;
constexpr int16_t kSnapshotVersion1 = 1;
constexpr size_t kPrefix = 2 + 4;  // version, crc
constexpr size_t kProducerBytesV1 = 8 + 2 + 8 + 1;
constexpr size_t kProducerBytesV2 = kProducerBytesV1 + 4 + 8 + 8;
constexpr int32_t kNoSequence = -1;
constexpr size_t kBatchBytes = 4 + 4 + 8 + 8 + 8;
constexpr std::string_view kSnapshotSuffix = ".snapshot";

std::filesystem::path snapshot_path(const std::filesystem::path& dir, int64_t offset) {
  std::string digits = std::to_string(offset);
  return dir / (std::string(20 - std::min<size_t>(20, digits.size()), '0') + digits +
                std::string(kSnapshotSuffix));
}

// Snapshot offsets in `dir`, newest first.
std::vector<int64_t> list_snapshots(const std::filesystem::path& dir) {
  std::vector<int64_t> out;
  std::error_code ec;
  for (const auto& entry : std::filesystem::directory_iterator(dir, ec)) {
    const std::string name = entry.path().filename().string();
    if (name.size() != 20 + kSnapshotSuffix.size() || !name.ends_with(kSnapshotSuffix) ||
        !std::all_of(name.begin(), name.begin() + 20, [](char c) { return c >= '0' && c <= '9'; }))
      continue;
    out.push_back(std::stoll(name.substr(0, 20)));
  }
  std::sort(out.rbegin(), out.rend());
  return out;
}

class Out {
 public:
  void i8(int8_t v) { s_.push_back(static_cast<char>(v)); }
  void i16(int16_t v) {
    i8(static_cast<int8_t>(static_cast<uint16_t>(v) >> 8));
    i8(static_cast<int8_t>(v & 0xff));
  }
  void i32(int32_t v) {
    uint8_t b[4];
    be::store32(b, static_cast<uint32_t>(v));
    s_.append(reinterpret_cast<char*>(b), 4);
  }
  void i64(int64_t v) {
    uint8_t b[8];
    be::store64(b, static_cast<uint64_t>(v));
    s_.append(reinterpret_cast<char*>(b), 8);
  }
  std::string& str() { return s_; }

 private:
  std::string s_;
};

class In {
 public:
  In(const uint8_t* p, size_t n) : p_(p), end_(p + n) {}
  bool has(size_t n) const { return static_cast<size_t>(end_ - p_) >= n; }
  bool done() const { return p_ == end_; }
  int8_t i8() { return static_cast<int8_t>(*p_++); }
  int16_t i16() {
    const auto v = static_cast<int16_t>((uint16_t{p_[0]} << 8) | p_[1]);
    p_ += 2;
    return v;
  }
  int32_t i32() {
    const auto v = static_cast<int32_t>(be::load32(p_));
    p_ += 4;
    return v;
  }
  int64_t i64() {
    const auto v = static_cast<int64_t>(be::load64(p_));
    p_ += 8;
    return v;
  }

 private:
  const uint8_t* p_;
  const uint8_t* end_;
};

bool in_sequence(int32_t last_seq, int32_t next_seq) {
  return next_seq == static_cast<int32_t>(static_cast<int64_t>(last_seq) + 1) ||
         (next_seq == 0 && last_seq == std::numeric_limits<int32_t>::max());
}

}  // namespace

int32_t ProducerStateManager::last_sequence(int32_t base_sequence, int32_t last_offset_delta) {
  constexpr int64_t kMax = std::numeric_limits<int32_t>::max();
  const int64_t sum = static_cast<int64_t>(base_sequence) + last_offset_delta;
  return static_cast<int32_t>(sum > kMax ? sum - kMax - 1 : sum);
}

const ProducerEntry* ProducerStateManager::find(int64_t producer_id) const {
  auto it = producers_.find(producer_id);
  return it == producers_.end() ? nullptr : &it->second;
}

ProducerStateManager::Check ProducerStateManager::check(const record::BatchHeader& h,
                                                        const record::EndTxnMarker* marker) const {
  Check out;
  const ProducerEntry* e = find(h.producer_id);
  if (e == nullptr) return out;  // unknown producer: any sequence
  const int32_t first = h.base_sequence;
  const int32_t last = last_sequence(h.base_sequence, h.last_offset_delta);
  if (h.producer_epoch < e->epoch) {
    out.verdict = Verdict::stale_epoch;
    out.message = "Epoch " + std::to_string(h.producer_epoch) + " of producer " +
                  std::to_string(h.producer_id) + " is older than the current epoch " +
                  std::to_string(e->epoch);
    return out;
  }
  if (h.is_control()) {
    if (marker != nullptr && marker->coordinator_epoch < e->coordinator_epoch) {
      out.verdict = Verdict::coordinator_fenced;
      out.message = "Invalid coordinator epoch for producer " + std::to_string(h.producer_id) +
                    ": " + std::to_string(marker->coordinator_epoch) + " (zombie), " +
                    std::to_string(e->coordinator_epoch) + " (current)";
    }
    return out;
  }
  if (first != kNoSequence) {
    if (h.producer_epoch > e->epoch) {
      if (first != 0 && e->epoch != -1) {
        out.verdict = Verdict::out_of_order;
        out.message = "Invalid sequence number " + std::to_string(first) + " for new epoch " +
                      std::to_string(h.producer_epoch) + " of producer " +
                      std::to_string(h.producer_id) + " (expected 0)";
        return out;
      }
    } else {
      for (const auto& b : e->batches) {
        if (b.first_seq == first && b.last_seq == last) {
          out.verdict = Verdict::duplicate;
          out.duplicate = b;
          return out;
        }
      }
      if (!e->batches.empty() && !in_sequence(e->batches.back().last_seq, first)) {
        out.verdict = Verdict::out_of_order;
        out.message = "Out of order sequence number for producer " + std::to_string(h.producer_id) +
                      ": " + std::to_string(first) + " (incoming seq. number), " +
                      std::to_string(e->batches.back().last_seq) + " (current end sequence number)";
        return out;
      }
    }
  }
  if (e->txn_first_offset >= 0 && !h.is_transactional()) {
    out.verdict = Verdict::invalid_txn_state;
    out.message = "Expected a transactional write from producer " + std::to_string(h.producer_id) +
                  ": its transaction from offset " + std::to_string(e->txn_first_offset) +
                  " is ongoing";
  }
  return out;
}

std::optional<CompletedTxn> ProducerStateManager::update(const record::BatchHeader& h,
                                                         int64_t first_offset, int64_t last_offset,
                                                         const record::EndTxnMarker* marker) {
  if (h.producer_id < 0 || (h.is_control() && marker == nullptr)) return std::nullopt;
  if (!verifying_.empty() && h.is_transactional()) verifying_.erase(h.producer_id);
  ProducerEntry& e = producers_[h.producer_id];
  if (h.producer_epoch != e.epoch) {
    e.epoch = h.producer_epoch;
    e.batches.clear();
  }
  e.last_timestamp = std::max(e.last_timestamp, h.max_timestamp);
  e.last_offset = std::max(e.last_offset, last_offset);
  if (marker != nullptr) return end_txn(h.producer_id, e, first_offset, *marker);
  if (h.base_sequence != kNoSequence) {
    e.batches.push_back({h.base_sequence, last_sequence(h.base_sequence, h.last_offset_delta),
                         first_offset, last_offset, h.max_timestamp});
    if (e.batches.size() > kMaxBatchesPerProducer) e.batches.pop_front();
  }
  if (h.is_transactional() && e.txn_first_offset < 0) {
    e.txn_first_offset = first_offset;
    ongoing_[first_offset] = h.producer_id;
  }
  return std::nullopt;
}

std::optional<CompletedTxn> ProducerStateManager::end_txn(int64_t producer_id, ProducerEntry& e,
                                                          int64_t offset,
                                                          const record::EndTxnMarker& marker) {
  e.coordinator_epoch = marker.coordinator_epoch;
  if (e.txn_first_offset < 0) return std::nullopt;  // an empty transaction: nothing to track
  const CompletedTxn done{producer_id, e.txn_first_offset, offset, !marker.commit()};
  ongoing_.erase(e.txn_first_offset);
  e.txn_first_offset = -1;
  unreplicated_[done.first_offset] = done;
  if (done.aborted) {
    const int64_t lso = ongoing_.empty() ? offset + 1 : ongoing_.begin()->first;
    std::string error;
    if (!txn_index_.append({producer_id, done.first_offset, offset, lso}, &error)) {
      log::warn("{}: cannot write the aborted transaction index: {}", dir_.string(), error);
    }
  }
  return done;
}

void ProducerStateManager::forget_replicated(int64_t high_watermark) {
  std::erase_if(unreplicated_,
                [&](const auto& kv) { return kv.second.last_offset < high_watermark; });
}

uint64_t ProducerStateManager::begin_verification(int64_t producer_id, int16_t epoch,
                                                  int32_t sequence, int64_t now_ms) {
  auto [it, added] = verifying_.try_emplace(producer_id);
  Verifying& v = it->second;
  if (added) {
    v = {next_guard_++, now_ms, epoch, sequence};
  } else if (epoch > v.epoch || (epoch == v.epoch && sequence < v.lowest_sequence)) {
    v.epoch = epoch;  // a new epoch starts the sequences again
    v.lowest_sequence = sequence;
  }
  return v.guard;
}

size_t ProducerStateManager::remove_expired(int64_t now_ms, int64_t expiration_ms) {
  std::erase_if(verifying_,
                [&](const auto& kv) { return now_ms - kv.second.since_ms >= expiration_ms; });
  return std::erase_if(producers_, [&](const auto& kv) {
    return kv.second.txn_first_offset < 0 && now_ms - kv.second.last_timestamp >= expiration_ms;
  });
}

void ProducerStateManager::evict_below(int64_t log_start) {
  std::erase_if(producers_, [&](const auto& kv) {
    return kv.second.txn_first_offset < 0 && kv.second.last_offset < log_start;
  });
  std::string error;
  if (!txn_index_.prune_below(log_start, &error)) {
    log::warn("{}: cannot rewrite the aborted transaction index: {}", dir_.string(), error);
  }
}

void ProducerStateManager::forget_aborted_markers(const std::vector<int64_t>& marker_offsets) {
  std::string error;
  if (!txn_index_.erase_markers(marker_offsets, &error)) {
    log::warn("{}: cannot rewrite the aborted transaction index: {}", dir_.string(), error);
  }
}

std::string ProducerStateManager::encode() const {
  Out o;
  o.i16(kSnapshotVersion);
  o.i32(0);  // crc, filled in below
  o.i32(static_cast<int32_t>(producers_.size()));
  for (const auto& [id, e] : producers_) {
    o.i64(id);
    o.i16(e.epoch);
    o.i64(e.last_timestamp);
    o.i32(e.coordinator_epoch);
    o.i64(e.last_offset);
    o.i64(e.txn_first_offset);
    o.i8(static_cast<int8_t>(e.batches.size()));
    for (const auto& b : e.batches) {
      o.i32(b.first_seq);
      o.i32(b.last_seq);
      o.i64(b.first_offset);
      o.i64(b.last_offset);
      o.i64(b.max_timestamp);
    }
  }
  std::string& s = o.str();
  const uint32_t crc = record::crc32c(s.data() + kPrefix, s.size() - kPrefix);
  be::store32(reinterpret_cast<uint8_t*>(s.data() + 2), crc);
  return s;
}

bool ProducerStateManager::decode(const std::string& bytes) {
  const auto* p = reinterpret_cast<const uint8_t*>(bytes.data());
  if (bytes.size() < kPrefix + 4) return false;
  In in(p, bytes.size());
  const int16_t version = in.i16();
  if (version != kSnapshotVersion && version != kSnapshotVersion1) return false;
  const bool v2 = version == kSnapshotVersion;
  const size_t producer_bytes = v2 ? kProducerBytesV2 : kProducerBytesV1;
  const auto crc = static_cast<uint32_t>(in.i32());
  if (crc != record::crc32c(p + kPrefix, bytes.size() - kPrefix)) return false;
  const int32_t count = in.i32();
  if (count < 0 || !in.has(static_cast<size_t>(count) * producer_bytes)) return false;
  std::unordered_map<int64_t, ProducerEntry> producers;
  std::map<int64_t, int64_t> ongoing;
  for (int32_t i = 0; i < count; ++i) {
    if (!in.has(producer_bytes)) return false;
    const int64_t id = in.i64();
    ProducerEntry e;
    e.epoch = in.i16();
    e.last_timestamp = in.i64();
    if (v2) {
      e.coordinator_epoch = in.i32();
      e.last_offset = in.i64();
      e.txn_first_offset = in.i64();
    }
    const int8_t n = in.i8();
    if (id < 0 || n < (v2 ? 0 : 1) || static_cast<size_t>(n) > kMaxBatchesPerProducer ||
        !in.has(static_cast<size_t>(n) * kBatchBytes) || e.txn_first_offset < -1 ||
        (e.txn_first_offset >= 0 && !ongoing.emplace(e.txn_first_offset, id).second)) {
      return false;
    }
    for (int8_t j = 0; j < n; ++j) {
      ProducerBatch b;
      b.first_seq = in.i32();
      b.last_seq = in.i32();
      b.first_offset = in.i64();
      b.last_offset = in.i64();
      b.max_timestamp = in.i64();
      e.batches.push_back(b);
    }
    if (!v2) e.last_offset = e.batches.back().last_offset;
    producers[id] = std::move(e);
  }
  if (!in.done()) return false;
  producers_ = std::move(producers);
  ongoing_ = std::move(ongoing);
  return true;
}

bool ProducerStateManager::take_snapshot(int64_t offset, bool sync, std::string* error) {
  // A snapshot ends the replay that would re-create the index entries below it.
  if (!txn_index_.sync_if_dirty(error)) return false;
  if (!write_file_atomically(snapshot_path(dir_, offset), encode(), error, sync)) return false;
  delete_old_snapshots();
  return true;
}

void ProducerStateManager::delete_old_snapshots() {
  const auto offsets = list_snapshots(dir_);
  std::error_code ec;
  for (size_t i = kSnapshotsKept; i < offsets.size(); ++i) {
    std::filesystem::remove(snapshot_path(dir_, offsets[i]), ec);
  }
}

bool ProducerStateManager::load(const Log& log, std::string* error) {
  producers_.clear();
  ongoing_.clear();
  unreplicated_.clear();
  std::error_code ec;
  // Leftover temporary files of an interrupted snapshot or index rewrite.
  for (const auto& entry : std::filesystem::directory_iterator(dir_, ec)) {
    const std::string name = entry.path().filename().string();
    if (name.ends_with(".snapshot.tmp") || name == std::string(TxnIndex::kFileName) + ".tmp") {
      std::filesystem::remove(entry.path(), ec);
    }
  }
  std::string index_error;
  if (!txn_index_.load(&index_error)) {
    log::warn("{}: aborted transaction index unreadable, rebuilt from the replay only: {}",
              dir_.string(), index_error);
  }
  int64_t from = log.log_start_offset();
  for (const int64_t offset : list_snapshots(dir_)) {
    const auto path = snapshot_path(dir_, offset);
    bool loaded = false;
    if (offset <= log.log_end_offset()) {
      std::string read_error;
      auto file = SegmentFile::open(path, SegmentFile::Mode::read_only, &read_error);
      const int64_t size = file ? static_cast<int64_t>(std::filesystem::file_size(path, ec)) : -1;
      if (file && !ec && size >= 0 && size < (int64_t{1} << 30)) {
        std::string bytes(static_cast<size_t>(size), '\0');
        loaded = file->read_at(bytes.data(), bytes.size(), 0) == size && decode(bytes);
      }
      if (!loaded) log::warn("{}: producer state snapshot is damaged; ignored", path.string());
    }
    if (loaded) {
      from = std::max(from, offset);
      break;
    }
    // Beyond the log end (its batches were lost with a torn tail) or damaged.
    std::filesystem::remove(path, ec);
  }
  replayed_from_ = from;
  // The replay re-creates the index entries of the aborts it meets.
  if (!txn_index_.truncate_from(from, &index_error)) {
    log::warn("{}: cannot rewrite the aborted transaction index: {}", dir_.string(), index_error);
  }
  const bool ok = log.scan_whole_batches(
      from,
      [this](const record::BatchHeader& h, const uint8_t* batch) {
        if (h.producer_id < 0) return;
        if (!h.is_control()) {
          update(h, h.base_offset, h.last_offset());
        } else if (const auto marker = record::parse_end_txn_marker(batch, h.total_size())) {
          update(h, h.base_offset, h.last_offset(), &*marker);
        }
      },
      error);
  evict_below(log.log_start_offset());
  return ok;
}

}  // namespace kaffa::storage
