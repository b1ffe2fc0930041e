#include "storage/log_cleaner.h"

#include <algorithm>
#include <limits>
#include <unordered_map>
#include <unordered_set>

#include "base/log.h"
#include "record/builder.h"
#include "record/codec.h"
#include "record/control.h"
#include "record/records.h"
#include "record/wire.h"
#include "storage/segment_scan.h"

namespace kaffa::storage {
namespace {

constexpr size_t kWriteChunk = size_t{1} << 20;

std::string cleaned_name(std::string_view suffix) {
  return std::string(suffix) + std::string(kCleanedSuffix);
}

void remove_cleaned(const std::filesystem::path& dir, int64_t base) {
  for (const auto suffix : {kLogSuffix, kIndexSuffix, kTimeIndexSuffix}) {
    std::error_code ec;
    std::filesystem::remove(segment_path(dir, base, cleaned_name(suffix)), ec);
  }
}

// The aborted transactions of the view, by producer: [first offset, marker offset] ranges in
// marker order. A producer has one transaction at a time, so a transactional data batch is
// aborted exactly when its base offset lies in one of its producer's ranges.
class AbortedRanges {
 public:
  explicit AbortedRanges(const std::vector<AbortedTxn>& aborted) {
    for (const auto& t : aborted)
      by_producer_[t.producer_id].emplace_back(t.first_offset, t.last_offset);
  }
  bool contains(const record::BatchHeader& h) const {
    if (by_producer_.empty() || !h.is_transactional() || h.is_control()) return false;
    const auto it = by_producer_.find(h.producer_id);
    if (it == by_producer_.end()) return false;
    const auto& ranges = it->second;  // sorted by end, and disjoint
    const auto r = std::lower_bound(
        ranges.begin(), ranges.end(), h.base_offset,
        [](const std::pair<int64_t, int64_t>& range, int64_t o) { return range.second < o; });
    return r != ranges.end() && r->first <= h.base_offset;
  }

 private:
  std::unordered_map<int64_t, std::vector<std::pair<int64_t, int64_t>>> by_producer_;
};

// Kafka's rule for transaction markers (its CleanedTransactionMetadata): a marker may go once no
// data batch of the transaction it ends is left before it. The second pass reads the batches in
// offset order from the log start; this holds the producers whose transactional data batches it
// passed since their last marker (a producer has one transaction at a time).
class OpenTransactions {
 public:
  void saw_data(int64_t producer_id) { open_.insert(producer_id); }
  // A marker of producer_id: true when a data batch of the transaction it ends was passed.
  bool close(int64_t producer_id) { return open_.erase(producer_id) != 0; }

 private:
  std::unordered_set<int64_t> open_;
};

// What the first pass learns about the cleanable range.
struct FirstPass {
  explicit FirstPass(const std::vector<AbortedTxn>& aborted) : aborted(aborted) {}
  AbortedRanges aborted;  // records of aborted transactions: not mapped, removed
  int64_t map_end = 0;    // the dirty range actually mapped
  std::unordered_map<int64_t, int64_t> last_batch;  // producer id -> base offset of its last batch
  int64_t final_batch_base = -1;  // last batch before the active segment, if it is cleanable
};

// Writes one cleaned segment: `<base>.log.cleaned` and its two indexes.
class CleanedWriter {
 public:
  static std::unique_ptr<CleanedWriter> open(const std::filesystem::path& dir,
                                             const SegmentMeta& before, int32_t interval,
                                             std::string* error) {
    SegmentMeta m;
    m.base_offset = m.next_offset = before.base_offset;
    auto w = SegmentWriter::open(dir, m, interval, true, error, kCleanedSuffix);
    if (!w || !w->log()->truncate(0, error)) return nullptr;
    return std::unique_ptr<CleanedWriter>(new CleanedWriter(std::move(w), m));
  }

  bool add(const uint8_t* batch, size_t n, std::string* error) {
    record::BatchHeader h;
    record::parse_header(batch, n, h);
    const BatchInfo b{position_ + static_cast<int64_t>(pending_.size()),
                      static_cast<int64_t>(n),
                      h.base_offset,
                      h.last_offset(),
                      h.max_timestamp,
                      h};
    pending_.append(reinterpret_cast<const char*>(batch), n);
    std::string ignored;
    writer_->index_batch(meta_, b, &ignored);  // a failed index entry only makes it sparser
    return pending_.size() < kWriteChunk || flush(error);
  }

  // Flushes, seals and fsyncs; the meta of the finished segment.
  bool finish(int64_t next_offset, SegmentMeta* out, std::string* error) {
    if (!flush(error)) return false;
    std::string ignored;
    writer_->seal(meta_, &ignored);
    meta_.next_offset = next_offset;
    meta_.size = position_;
    std::string index_error;
    const auto files = writer_->files_to_sync(&index_error);
    bool synced = index_error.empty();
    for (const auto& f : files) synced = f->sync() && synced;
    if (!synced) {
      *error = "fdatasync of a cleaned segment failed" +
               (index_error.empty() ? std::string() : ": " + index_error);
      return false;
    }
    *out = meta_;
    return true;
  }

 private:
  CleanedWriter(std::unique_ptr<SegmentWriter> w, SegmentMeta m)
      : writer_(std::move(w)), meta_(m) {}

  bool flush(std::string* error) {
    if (pending_.empty()) return true;
    if (!writer_->log()->write_at(pending_.data(), pending_.size(), position_, error)) return false;
    position_ += static_cast<int64_t>(pending_.size());
    pending_.clear();
    return true;
  }

  std::unique_ptr<SegmentWriter> writer_;
  SegmentMeta meta_;
  std::string pending_;
  int64_t position_ = 0;
};

std::shared_ptr<SegmentFile> open_segment(const CleaningView& view, const SegmentMeta& s,
                                          std::string* error) {
  return SegmentFile::open(segment_path(view.dir, s.base_offset, kLogSuffix),
                           SegmentFile::Mode::read_only, error);
}

// Pass 1 over [start, first uncleanable): the key map of the dirty range (until it fills), the
// last batch of every producer id, the final batch before the active segment.
bool first_pass(const CleaningView& view, const DirtyRange& range, OffsetMap& map,
                const std::atomic<bool>& stop, const CleanerPace& pace, FirstPass* out,
                CleanStats* stats, std::string* error, bool* aborted) {
  out->map_end = range.first_uncleanable;
  bool full = false;
  std::string scratch;
  for (const auto& s : view.segments) {
    if (s.base_offset >= range.first_uncleanable) break;
    auto file = open_segment(view, s, error);
    if (!file) return false;
    bool bad = false;
    const auto scan = scan_batch_bytes(*file, 0, s.size, [&](const BatchInfo& b, const uint8_t* p) {
      if (pace) pace(b.size);
      if (stop.load(std::memory_order_relaxed)) return false;
      record::BatchHeader h;
      record::parse_header(p, static_cast<size_t>(b.size), h);
      if (h.producer_id >= 0) out->last_batch[h.producer_id] = h.base_offset;
      if (s.next_offset == view.active_base) out->final_batch_base = h.base_offset;
      if (full || b.last_offset < range.first_dirty || h.is_control()) return true;
      if (out->aborted.contains(h)) return true;  // never the latest value of a key
      if (static_cast<size_t>(std::max(h.records_count, 0)) > map.free_keys()) {
        full = true;
        out->map_end = std::max(h.base_offset, range.first_dirty);
        return true;
      }
      const bool ok = record::for_each_record(p, static_cast<size_t>(b.size), scratch,
                                              [&](const record::Record& r) {
                                                ++stats->records_read;
                                                if (r.key) map.put(*r.key, r.offset);
                                              });
      if (!ok) {
        bad = true;
        *error = "malformed batch at offset " + std::to_string(h.base_offset) + " in " +
                 file->path().string();
        return false;
      }
      return true;
    });
    if (stop.load(std::memory_order_relaxed)) {
      *aborted = true;
      return false;
    }
    if (bad) return false;
    if (!scan.complete) {
      *error = "cannot read " + file->path().string() + ": " + scan.problem;
      return false;
    }
  }
  if (full && out->map_end <= range.first_dirty) {
    *error = "log.cleaner.dedupe.buffer.size holds fewer keys than one batch";
    return false;
  }
  return true;
}

struct BatchFilter {
  const OffsetMap& map;
  const FirstPass& pass;
  OpenTransactions& txns;                       // across the groups of one cleaning
  std::vector<int64_t>& removed_abort_markers;  // offsets, ascending
  int64_t now_ms;
  int64_t delete_retention_ms;
  int64_t group_end;  // next offset after the group being cleaned
  std::string scratch;
  std::string section;
  std::string out;
  std::vector<bool> keep;

  // Whether a batch left without records stays (empty, uncompressed): the producer's last batch,
  // for its id/epoch/sequence; and the group's last batch, so that the output ends where the
  // group ends. A crash after the commit is completed by deleting the segments up to the output's
  // last offset (log_swap.cc): an output ending earlier would leave the group's later segments,
  // whose records this cleaning removed, and keys whose tombstone it dropped would come back.
  // Any other empty batch goes, also one kept by an earlier cleaning (as Kafka's DELETE_EMPTY).
  bool keeps_when_empty(const record::BatchHeader& h) const {
    if (h.last_offset() + 1 == group_end) return true;
    if (h.producer_id < 0) return false;
    const auto it = pass.last_batch.find(h.producer_id);
    return it != pass.last_batch.end() && it->second == h.base_offset;
  }

  // The batch to write for p (nullptr: none; p itself: unchanged), and the records removed.
  const uint8_t* filter(const uint8_t* p, size_t n, size_t* out_size, int64_t* removed,
                        std::string* error) {
    record::BatchHeader h;
    record::parse_header(p, n, h);
    *out_size = n;
    *removed = 0;
    // Tombstones, and markers with no data of their transaction left before them, go once the
    // horizon that the first cleaning keeping them wrote has passed.
    const bool horizon_passed = h.has_delete_horizon() && now_ms >= h.base_timestamp;
    // Decide first (no copies); encode only a batch that loses records or gets its horizon.
    keep.clear();
    int32_t kept = 0;
    bool stamp = false;
    bool ok = true;
    if (h.is_control()) {
      // A marker stays while a batch of its transaction is left before it (the records of an
      // aborted one go in the cleaning that passes them, so its marker outlives them by one).
      const bool settled = !txns.close(h.producer_id);
      stamp = settled && !h.has_delete_horizon();
      ok = record::for_each_record(p, n, scratch, [&](const record::Record&) {
        keep.push_back(!(settled && horizon_passed));
        kept += keep.back() ? 1 : 0;
      });
    } else {
      if (h.is_transactional()) txns.saw_data(h.producer_id);
      const bool aborted = pass.aborted.contains(h);  // the records of aborted transactions go
      int32_t tombstones = 0;
      ok = record::for_each_record(p, n, scratch, [&](const record::Record& r) {
        bool k = !aborted && r.key.has_value();
        if (k && r.offset < map.get(*r.key)) k = false;
        if (k && !r.value && horizon_passed) k = false;
        keep.push_back(k);
        kept += k ? 1 : 0;
        tombstones += k && !r.value ? 1 : 0;
      });
      stamp = tombstones > 0 && !h.has_delete_horizon();
    }
    if (!ok) {
      *error = "malformed batch at offset " + std::to_string(h.base_offset);
      return nullptr;
    }
    const auto seen = static_cast<int32_t>(keep.size());
    *removed = seen - kept;
    if (seen == 0) {  // emptied by an earlier cleaning
      return keeps_when_empty(h) || h.base_offset == pass.final_batch_base ? p : nullptr;
    }
    if (kept == seen && !stamp) return p;
    if (kept == 0 && h.base_offset == pass.final_batch_base && seen > 0) {
      keep.back() = true;  // never remove the last record before the active segment
      kept = 1;
      *removed = seen - 1;
    }
    if (kept == 0 && h.is_control()) {
      const auto marker = record::parse_end_txn_marker(p, n);
      if (marker && !marker->commit()) removed_abort_markers.push_back(h.base_offset);
    }
    // KIP-534: a batch keeping tombstones gets its delete horizon in place of its base timestamp
    // the first time it is cleaned; the records' deltas are rewritten against it.
    const int64_t base_timestamp =
        stamp ? record::wire::saturating_add(now_ms, delete_retention_ms) : h.base_timestamp;
    section.clear();
    if (kept > 0) {
      size_t i = 0;
      record::for_each_record(p, n, scratch, [&](const record::Record& r) {
        if (!keep[i++]) return;
        record::BuildRecord b;
        if (r.key) b.key = std::string(*r.key);
        if (r.value) b.value = std::string(*r.value);
        for (const auto& hd : r.headers) {
          b.headers.emplace_back(
              std::string(hd.key),
              hd.value ? std::optional<std::string>(std::string(*hd.value)) : std::nullopt);
        }
        b.timestamp = r.timestamp;
        record::append_record(section, b, record::wire::wrapping_sub(r.timestamp, base_timestamp),
                              static_cast<int32_t>(r.offset - h.base_offset));
      });
    }
    out.assign(reinterpret_cast<const char*>(p), record::kBatchHeaderSize);
    auto* hp = reinterpret_cast<uint8_t*>(out.data());
    if (kept == 0) {
      if (!keeps_when_empty(h)) return nullptr;
      const auto attrs = static_cast<uint16_t>(h.attributes & ~record::kCompressionMask);
      record::wire::store_be16(hp + record::batch_offset::kAttributes, attrs);
    } else if (stamp) {
      const auto attrs = static_cast<uint16_t>(h.attributes | record::kDeleteHorizonBit);
      record::wire::store_be16(hp + record::batch_offset::kAttributes, attrs);
      record::wire::store_be64(hp + record::batch_offset::kBaseTimestamp,
                               static_cast<uint64_t>(base_timestamp));
    }
    if (kept > 0 && h.compression() != record::Compression::none) {
      std::string compressed;
      if (!record::compress(h.compression(), section, compressed)) {
        *error = "cannot recompress batch at offset " + std::to_string(h.base_offset);
        return nullptr;
      }
      section.swap(compressed);
    }
    if (kept > 0) out += section;
    hp = reinterpret_cast<uint8_t*>(out.data());  // the append may have moved it
    record::wire::store_be32(hp + record::batch_offset::kBatchLength,
                             static_cast<uint32_t>(out.size() - record::kBatchOverhead));
    record::wire::store_be32(hp + record::batch_offset::kRecordsCount, static_cast<uint32_t>(kept));
    record::recompute_crc(hp, out.size());
    *out_size = out.size();
    return reinterpret_cast<const uint8_t*>(out.data());
  }
};

// Consecutive segments below `end`, grouped while the group stays within segment.bytes, the
// index limits and 2^31 relative offsets (Kafka's groupSegmentsBySize, by current sizes: dirty
// segments stay alone, small cleaned ones merge).
std::vector<std::vector<SegmentMeta>> group_segments(const CleaningView& view, int64_t end) {
  std::vector<std::vector<SegmentMeta>> groups;
  const int64_t max_index =
      view.segment_index_bytes / static_cast<int64_t>(OffsetIndex::kEntrySize);
  const int64_t max_time = view.segment_index_bytes / static_cast<int64_t>(TimeIndex::kEntrySize);
  int64_t size = 0, index = 0, time = 0;
  for (const auto& s : view.segments) {
    if (s.base_offset >= end) break;
    const bool fits = !groups.empty() && size + s.size <= view.segment_bytes &&
                      index + s.index_entries < max_index &&
                      time + s.time_index_entries + 1 < max_time &&
                      s.next_offset - 1 - groups.back().front().base_offset <=
                          std::numeric_limits<int32_t>::max();
    if (!fits) {
      groups.emplace_back();
      size = index = time = 0;
    }
    groups.back().push_back(s);
    size += s.size;
    index += s.index_entries;
    time += s.time_index_entries;
  }
  return groups;
}

}  // namespace

CleanOutcome clean_log(const CleaningView& view, const DirtyRange& range,
                       const CleanerTopicConfig& config, int64_t now_ms, OffsetMap& map,
                       const std::atomic<bool>& stop, const CleanerPace& pace) {
  CleanOutcome out;
  out.cleaned.generation = view.generation;
  out.cleaned_up_to = range.first_dirty;
  if (range.first_dirty >= range.first_uncleanable) {
    out.status = CleanOutcome::Status::nothing_to_do;
    return out;
  }
  FirstPass pass(view.aborted);
  OpenTransactions txns;
  bool aborted = false;
  if (!first_pass(view, range, map, stop, pace, &pass, &out.stats, &out.error, &aborted)) {
    out.status = aborted ? CleanOutcome::Status::aborted : CleanOutcome::Status::failed;
    return out;
  }
  for (const auto& group : group_segments(view, pass.map_end)) {
    const SegmentMeta& first = group.front();
    auto fail = [&](CleanOutcome::Status status) {
      remove_cleaned(view.dir, first.base_offset);
      remove_cleaned_files(view.dir, out.cleaned);
      out.cleaned.segments.clear();
      out.cleaned.removed_abort_markers.clear();
      out.status = status;
      return out;
    };
    auto writer = CleanedWriter::open(view.dir, first, view.index_interval_bytes, &out.error);
    if (!writer) return fail(CleanOutcome::Status::failed);
    int64_t removed_here = 0;
    int64_t read_here = 0;
    bool changed = false;  // a batch went or was rewritten
    BatchFilter f{.map = map,
                  .pass = pass,
                  .txns = txns,
                  .removed_abort_markers = out.cleaned.removed_abort_markers,
                  .now_ms = now_ms,
                  .delete_retention_ms = config.delete_retention_ms,
                  .group_end = group.back().next_offset};
    for (const auto& s : group) {
      auto file = open_segment(view, s, &out.error);
      if (!file) return fail(CleanOutcome::Status::failed);
      bool bad = false;
      const auto scan =
          scan_batch_bytes(*file, 0, s.size, [&](const BatchInfo& b, const uint8_t* p) {
            if (pace) pace(b.size);
            if (stop.load(std::memory_order_relaxed)) return false;
            size_t n = 0;
            int64_t removed = 0;
            const uint8_t* keep =
                f.filter(p, static_cast<size_t>(b.size), &n, &removed, &out.error);
            if (keep == nullptr && !out.error.empty()) {
              bad = true;
              return false;
            }
            removed_here += removed;
            changed = changed || keep != p;
            if (keep != nullptr && !writer->add(keep, n, &out.error)) {
              bad = true;
              return false;
            }
            if (keep != nullptr && pace) pace(static_cast<int64_t>(n));
            return true;
          });
      if (stop.load(std::memory_order_relaxed)) return fail(CleanOutcome::Status::aborted);
      if (bad || !scan.complete) {
        if (out.error.empty())
          out.error = "cannot read " + file->path().string() + ": " + scan.problem;
        return fail(CleanOutcome::Status::failed);
      }
      read_here += s.size;
    }
    SegmentMeta after;
    if (!writer->finish(group.back().next_offset, &after, &out.error)) {
      return fail(CleanOutcome::Status::failed);
    }
    writer.reset();
    out.stats.bytes_read += read_here;
    if (!changed && group.size() == 1) {  // unchanged: nothing to swap
      remove_cleaned(view.dir, first.base_offset);
      continue;
    }
    out.stats.records_removed += removed_here;
    out.stats.bytes_written += after.size;
    out.stats.segments += static_cast<int64_t>(group.size());
    out.cleaned.segments.push_back({group, after});
  }
  out.cleaned_up_to = pass.map_end;
  out.status = CleanOutcome::Status::cleaned;
  return out;
}

}  // namespace kaffa::storage
