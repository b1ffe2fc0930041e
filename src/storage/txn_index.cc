#include "storage/txn_index.h"

#include <algorithm>

#include "base/log.h"
#include "storage/checkpoint_file.h"
#include "storage/endian.h"
#include "storage/segment_file.h"

namespace kaffa::storage {
namespace {

constexpr int16_t kVersion = 0;

void encode(const AbortedTxn& t, uint8_t* p) {
  p[0] = static_cast<uint8_t>(static_cast<uint16_t>(kVersion) >> 8);
  p[1] = static_cast<uint8_t>(kVersion & 0xff);
  be::store64(p + 2, static_cast<uint64_t>(t.producer_id));
  be::store64(p + 10, static_cast<uint64_t>(t.first_offset));
  be::store64(p + 18, static_cast<uint64_t>(t.last_offset));
  be::store64(p + 26, static_cast<uint64_t>(t.last_stable_offset));
}

std::string encode_all(const std::vector<AbortedTxn>& entries) {
  std::string out(entries.size() * TxnIndex::kEntrySize, '\0');
  auto* p = reinterpret_cast<uint8_t*>(out.data());
  for (const auto& t : entries) {
    encode(t, p);
    p += TxnIndex::kEntrySize;
  }
  return out;
}

}  // namespace

bool TxnIndex::load(std::string* error) {
  entries_.clear();
  dirty_ = stale_ = false;
  std::error_code ec;
  if (!std::filesystem::exists(path_, ec)) return !ec;
  auto file = SegmentFile::open(path_, SegmentFile::Mode::read_write, error);
  const int64_t size = file ? file->size() : -1;
  if (size < 0) return false;
  std::string bytes(static_cast<size_t>(size), '\0');
  if (file->read_at(bytes.data(), bytes.size(), 0) != size) {
    if (error) *error = "cannot read " + path_.string();
    return false;
  }
  const auto* p = reinterpret_cast<const uint8_t*>(bytes.data());
  size_t pos = 0;
  for (; pos + kEntrySize <= bytes.size(); pos += kEntrySize) {
    const uint8_t* e = p + pos;
    AbortedTxn t;
    t.producer_id = static_cast<int64_t>(be::load64(e + 2));
    t.first_offset = static_cast<int64_t>(be::load64(e + 10));
    t.last_offset = static_cast<int64_t>(be::load64(e + 18));
    t.last_stable_offset = static_cast<int64_t>(be::load64(e + 26));
    const bool ordered = entries_.empty() || entries_.back().last_offset < t.last_offset;
    if (e[0] != 0 || e[1] != 0 || t.first_offset < 0 || t.first_offset > t.last_offset ||
        !ordered) {
      break;
    }
    entries_.push_back(t);
  }
  if (pos != bytes.size()) {
    log::warn("{}: damaged tail of {} bytes cut off", path_.string(), bytes.size() - pos);
    if (!file->truncate(static_cast<int64_t>(pos), error)) return false;
  }
  return true;
}

bool TxnIndex::append(const AbortedTxn& txn, std::string* error) {
  entries_.push_back(txn);
  dirty_ = true;
  if (stale_) return rewrite(error);
  uint8_t bytes[kEntrySize];
  encode(txn, bytes);
  auto file = SegmentFile::open(path_, SegmentFile::Mode::create, error);
  const int64_t expected = static_cast<int64_t>((entries_.size() - 1) * kEntrySize);
  if (!file || file->size() != expected) {
    stale_ = true;  // missing, or not what memory holds (a failed write before)
    return file != nullptr && rewrite(error);
  }
  if (!file->write_at(bytes, kEntrySize, expected, error)) {
    stale_ = true;
    return false;
  }
  return true;
}

bool TxnIndex::rewrite(std::string* error) {
  // Not synced here: the file is derived from the log (see the header); sync_if_dirty does it.
  stale_ = !write_file_atomically(path_, encode_all(entries_), error, false);
  dirty_ = true;
  return !stale_;
}

bool TxnIndex::truncate_from(int64_t offset, std::string* error) {
  const auto it =
      std::lower_bound(entries_.begin(), entries_.end(), offset,
                       [](const AbortedTxn& t, int64_t o) { return t.last_offset < o; });
  if (it == entries_.end() && !stale_) return true;
  entries_.erase(it, entries_.end());
  return rewrite(error);
}

bool TxnIndex::prune_below(int64_t log_start, std::string* error) {
  const auto it =
      std::lower_bound(entries_.begin(), entries_.end(), log_start,
                       [](const AbortedTxn& t, int64_t o) { return t.last_offset < o; });
  if (it == entries_.begin() && !stale_) return true;
  entries_.erase(entries_.begin(), it);
  return rewrite(error);
}

bool TxnIndex::erase_markers(const std::vector<int64_t>& marker_offsets, std::string* error) {
  const auto before = entries_.size();
  std::erase_if(entries_, [&](const AbortedTxn& t) {
    return std::binary_search(marker_offsets.begin(), marker_offsets.end(), t.last_offset);
  });
  if (entries_.size() == before && !stale_) return true;
  return rewrite(error);
}

bool TxnIndex::sync_if_dirty(std::string* error) {
  if (stale_ && !rewrite(error)) return false;
  if (!dirty_) return true;
  std::error_code ec;
  if (!std::filesystem::exists(path_, ec)) {
    dirty_ = false;
    return true;
  }
  auto file = SegmentFile::open(path_, SegmentFile::Mode::read_only, error);
  if (!file || !file->sync()) {
    if (error && file) *error = "fdatasync failed on " + path_.string();
    return false;
  }
  dirty_ = false;
  return true;
}

std::vector<AbortedTxn> TxnIndex::collect(int64_t fetch_offset, int64_t upper_bound) const {
  std::vector<AbortedTxn> out;
  auto it = std::lower_bound(entries_.begin(), entries_.end(), fetch_offset,
                             [](const AbortedTxn& t, int64_t o) { return t.last_offset < o; });
  for (; it != entries_.end(); ++it) {
    if (it->first_offset < upper_bound) out.push_back(*it);
    // A later entry's transaction was undecided at this marker or began after it: either way it
    // starts at or after this entry's last stable offset, so none can start below the bound.
    if (it->last_stable_offset >= upper_bound) break;
  }
  return out;
}

}  // namespace kaffa::storage
