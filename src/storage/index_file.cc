#include "storage/index_file.h"

#include <algorithm>
#include <cstring>
#include <utility>

#include "base/log.h"
#include "bytes/buffer_pool.h"

namespace kaffa::storage {

namespace {
constexpr size_t kPage = 4096;
constexpr size_t kMaxEntrySize = 16;
}  // namespace

IndexFile::IndexFile(std::shared_ptr<SegmentFile> file, size_t entry_size, int64_t entries,
                     bool keep_warm_tail)
    : path_(file->path()),
      file_(std::move(file)),
      entry_size_(entry_size),
      entries_(entries),
      written_(entries),
      warm_(keep_warm_tail) {
  if (warm_) {
    load_tail();
    file_.reset();
  }
}

IndexFile::IndexFile(IndexFile&& other) noexcept {
  *this = std::move(other);
}

IndexFile& IndexFile::operator=(IndexFile&& other) noexcept {
  if (this == &other) return *this;
  std::string error;
  if (!write_pending(&error)) log::warn("index entries not written: {}", error);
  path_ = std::move(other.path_);
  file_ = std::move(other.file_);
  entry_size_ = other.entry_size_;
  entries_ = std::exchange(other.entries_, 0);
  written_ = std::exchange(other.written_, 0);
  warm_ = other.warm_;
  tail_first_ = std::exchange(other.tail_first_, 0);
  tail_ = std::move(other.tail_);
  other.tail_.clear();
  return *this;
}

IndexFile::~IndexFile() {
  std::string error;
  if (!write_pending(&error)) log::warn("index entries not written: {}", error);
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

bool IndexFile::write_pending(std::string* error) {
  if (written_ == entries_) return true;
  auto file = writable(error);
  const size_t from = static_cast<size_t>(written_ - tail_first_) * entry_size_;
  if (!file || !file->write_at(tail_.data() + from, tail_.size() - from,
                               written_ * static_cast<int64_t>(entry_size_), error)) {
    tail_.resize(from);  // the pending entries are dropped: the index stays sparser
    entries_ = written_;
    return false;
  }
  written_ = entries_;
  return true;
}

std::shared_ptr<SegmentFile> IndexFile::written_file(std::string* error) {
  if (!write_pending(error)) return nullptr;
  return writable(error);
}

std::shared_ptr<SegmentFile> IndexFile::writable(std::string* error) const {
  return file_ ? file_ : SegmentFile::open(path_, SegmentFile::Mode::read_write, error);
}

std::shared_ptr<const SegmentFile> IndexFile::reader() const {
  if (file_) return file_;
  return SegmentFile::open(path_, SegmentFile::Mode::read_only, nullptr);
}

bool IndexFile::read_from_file(const SegmentFile& file, int64_t i, uint8_t* out) const {
  return file.read_at(out, entry_size_, i * static_cast<int64_t>(entry_size_)) ==
         static_cast<ssize_t>(entry_size_);
}

bool IndexFile::read_entry(int64_t i, uint8_t* out) const {
  if (i < 0 || i >= entries_) return false;
  if (warm_ && i >= tail_first_) {
    std::memcpy(out, tail_.data() + static_cast<size_t>(i - tail_first_) * entry_size_,
                entry_size_);
    return true;
  }
  const auto file = reader();
  return file && read_from_file(*file, i, out);
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
  if (hi == 0) return -1;
  const auto file = reader();  // entries below the warm tail are all in the file
  if (!file) return -1;
  const int64_t page_entries = static_cast<int64_t>(kPage / entry_size_);
  while (hi - lo > page_entries) {
    const int64_t mid = lo + (hi - lo) / 2;
    uint8_t e[kMaxEntrySize];
    if (!read_from_file(*file, mid, e)) return -1;
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
    if (file->read_at(page, bytes, first * static_cast<int64_t>(entry_size_)) !=
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
  if (!warm_) {
    if (!file_->write_at(entry, entry_size_, entries_ * static_cast<int64_t>(entry_size_), error)) {
      return false;
    }
    written_ = ++entries_;
    return true;
  }
  tail_.insert(tail_.end(), entry, entry + entry_size_);
  ++entries_;
  if (tail_.size() <= kWarmTailMaxBytes) return true;
  if (!write_pending(error)) return false;
  const size_t drop = (tail_.size() - kWarmTailBytes) / entry_size_;
  tail_.erase(tail_.begin(), tail_.begin() + static_cast<ptrdiff_t>(drop * entry_size_));
  tail_first_ += static_cast<int64_t>(drop);
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
