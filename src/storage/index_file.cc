#include "storage/index_file.h"

#include <algorithm>
#include <cstring>

#include "bytes/buffer_pool.h"

namespace kaffa::storage {

namespace {
constexpr size_t kPage = 4096;
constexpr size_t kMaxEntrySize = 16;
}  // namespace

IndexFile::IndexFile(std::shared_ptr<SegmentFile> file, size_t entry_size, int64_t entries,
                     bool keep_warm_tail)
    : file_(std::move(file)), entry_size_(entry_size), entries_(entries), warm_(keep_warm_tail) {
  if (warm_) load_tail();
}

void IndexFile::load_tail() {
  const int64_t keep = static_cast<int64_t>(kWarmTailBytes / entry_size_);
  tail_first_ = std::max<int64_t>(0, entries_ - keep);
  tail_.resize(static_cast<size_t>(entries_ - tail_first_) * entry_size_);
  if (tail_.empty()) return;
  const ssize_t r =
      file_->read_at(tail_.data(), tail_.size(), tail_first_ * static_cast<int64_t>(entry_size_));
  if (r != static_cast<ssize_t>(tail_.size())) {
    // Unreadable: serve everything from the file instead.
    tail_.clear();
    tail_first_ = entries_;
  }
}

bool IndexFile::read_entry(int64_t i, uint8_t* out) const {
  if (i < 0 || i >= entries_) return false;
  if (warm_ && i >= tail_first_) {
    std::memcpy(out, tail_.data() + static_cast<size_t>(i - tail_first_) * entry_size_,
                entry_size_);
    return true;
  }
  return file_->read_at(out, entry_size_, i * static_cast<int64_t>(entry_size_)) ==
         static_cast<ssize_t>(entry_size_);
}

int64_t IndexFile::floor(int64_t target, KeyFn key, uint8_t* out) const {
  if (entries_ == 0) return -1;
  // Search [lo, hi) with lo = -1 meaning "no entry", hi exclusive. Invariant: key(lo) <= target
  // (or lo == -1) and key(hi) > target (or hi == end).
  int64_t lo = -1;
  int64_t hi = entries_;
  uint8_t lo_entry[kMaxEntrySize];
  if (warm_ && !tail_.empty() && key(tail_.data()) <= target) {
    const int64_t n = entries_ - tail_first_;
    int64_t a = 0, b = n;  // last i in [0, n) with key <= target; key(0) <= target holds
    while (b - a > 1) {
      const int64_t m = a + (b - a) / 2;
      if (key(tail_.data() + static_cast<size_t>(m) * entry_size_) <= target) {
        a = m;
      } else {
        b = m;
      }
    }
    std::memcpy(out, tail_.data() + static_cast<size_t>(a) * entry_size_, entry_size_);
    return tail_first_ + a;
  }
  if (warm_) hi = tail_first_;
  const int64_t page_entries = static_cast<int64_t>(kPage / entry_size_);
  while (hi - lo > page_entries) {
    const int64_t mid = lo + (hi - lo) / 2;
    uint8_t e[kMaxEntrySize];
    if (!read_entry(mid, e)) return -1;
    if (key(e) <= target) {
      lo = mid;
      std::memcpy(lo_entry, e, entry_size_);
    } else {
      hi = mid;
    }
  }
  // Entries (lo, hi) fit in one page: read them at once.
  alignas(64) uint8_t page[kPage];
  const int64_t first = lo + 1;
  const int64_t count = hi - first;
  if (count > 0) {
    const size_t bytes = static_cast<size_t>(count) * entry_size_;
    if (file_->read_at(page, bytes, first * static_cast<int64_t>(entry_size_)) !=
        static_cast<ssize_t>(bytes)) {
      return -1;
    }
    for (int64_t i = count - 1; i >= 0; --i) {
      const uint8_t* e = page + static_cast<size_t>(i) * entry_size_;
      if (key(e) <= target) {
        std::memcpy(out, e, entry_size_);
        return first + i;
      }
    }
  }
  if (lo >= 0) std::memcpy(out, lo_entry, entry_size_);
  return lo;
}

bool IndexFile::append(const uint8_t* entry, std::string* error) {
  if (!file_->write_at(entry, entry_size_, entries_ * static_cast<int64_t>(entry_size_), error)) {
    return false;
  }
  ++entries_;
  if (warm_) {
    tail_.insert(tail_.end(), entry, entry + entry_size_);
    if (tail_.size() > kWarmTailMaxBytes) {
      const size_t drop = (tail_.size() - kWarmTailBytes) / entry_size_;
      tail_.erase(tail_.begin(), tail_.begin() + static_cast<ptrdiff_t>(drop * entry_size_));
      tail_first_ += static_cast<int64_t>(drop);
    }
  }
  return true;
}

bool IndexFile::for_each(const SegmentFile& file, size_t entry_size, int64_t entries,
                         const std::function<bool(int64_t, const uint8_t*)>& fn) {
  constexpr size_t kChunk = size_t{64} << 10;
  const size_t per_chunk = kChunk / entry_size;
  auto buf = bytes::Buffer::allocate(per_chunk * entry_size);
  int64_t i = 0;
  while (i < entries) {
    const size_t n = static_cast<size_t>(std::min<int64_t>(entries - i, per_chunk));
    const size_t bytes = n * entry_size;
    if (file.read_at(buf.data(), bytes, i * static_cast<int64_t>(entry_size)) !=
        static_cast<ssize_t>(bytes)) {
      return false;
    }
    for (size_t k = 0; k < n; ++k, ++i) {
      if (!fn(i, buf.data() + k * entry_size)) return true;
    }
  }
  return true;
}

}  // namespace kaffa::storage
