#include "bytes/buffer_pool.h"

#include <array>
#include <atomic>
#include <bit>
#include <cstdlib>
#include <memory>
#include <mutex>
#include <new>
#include <stdexcept>
#include <vector>

namespace kaffa::bytes {
namespace {

constexpr int kMinShift = std::countr_zero(kMinPooledCapacity);
constexpr int kClassCount = std::countr_zero(kMaxPooledCapacity) - kMinShift + 1;

std::atomic<size_t> g_cache_limit{kDefaultThreadCacheLimit};

// Index of the size class that holds `capacity` (which is <= kMaxPooledCapacity).
int class_of(size_t capacity) {
  if (capacity <= kMinPooledCapacity) return 0;
  return std::bit_width(capacity - 1) - kMinShift;
}

size_t class_capacity(int cls) {
  return kMinPooledCapacity << cls;
}

uint8_t* system_alloc(size_t bytes) {
  void* p = std::aligned_alloc(kBufferAlignment, bytes);
  if (p == nullptr) throw std::bad_alloc();
  return static_cast<uint8_t*>(p);
}

}  // namespace

// Where buffers released on other threads come back to their home thread's pool. Shared with
// those buffers (a shared_ptr each) so that a release after the home thread has exited is safe.
struct Buffer::Home {
  std::mutex mu;
  std::vector<std::pair<uint8_t*, int>> returned;  // (block, class)
  size_t bytes = 0;
  bool closed = false;  // the home thread's cache is gone: free instead
};

namespace {

// One per thread; touched only by its thread, except its Home (under the Home's mutex).
class ThreadCache {
 public:
  ThreadCache() : home_(std::make_shared<Buffer::Home>()) {}
  ~ThreadCache() {
    trim();
    {
      std::lock_guard lock(home_->mu);
      home_->closed = true;
      for (auto& [p, cls] : home_->returned) std::free(p);
      home_->returned.clear();
      home_->bytes = 0;
    }
    destroyed = true;
  }

  uint8_t* take(int cls) {
    auto& list = free_[cls];
    if (list.empty()) collect_returned();
    if (list.empty()) {
      ++stats_.fresh_allocations;
      return system_alloc(class_capacity(cls));
    }
    uint8_t* p = list.back();
    list.pop_back();
    stats_.cached_bytes -= class_capacity(cls);
    ++stats_.reused_allocations;
    return p;
  }

  void give(uint8_t* p, int cls) {
    size_t bytes = class_capacity(cls);
    if (stats_.cached_bytes + bytes > g_cache_limit.load(std::memory_order_relaxed)) {
      std::free(p);
      return;
    }
    try {
      free_[cls].push_back(p);
    } catch (const std::bad_alloc&) {
      std::free(p);
      return;
    }
    stats_.cached_bytes += bytes;
  }

  // A block of another thread's pool released here goes back there (or is freed when that pool
  // is full or gone), so that memory does not drift to the threads that release it.
  static void give_home(Buffer::Home& home, uint8_t* p, int cls) {
    const size_t bytes = class_capacity(cls);
    {
      std::lock_guard lock(home.mu);
      if (!home.closed && home.bytes + bytes <= g_cache_limit.load(std::memory_order_relaxed)) {
        try {
          home.returned.emplace_back(p, cls);
          home.bytes += bytes;
          return;
        } catch (const std::bad_alloc&) {
        }
      }
    }
    std::free(p);
  }

  void trim() {
    collect_returned();
    for (auto& list : free_) {
      for (uint8_t* p : list) std::free(p);
      list.clear();
      list.shrink_to_fit();
    }
    stats_.cached_bytes = 0;
  }

  PoolStats& stats() { return stats_; }
  const std::shared_ptr<Buffer::Home>& home() const { return home_; }

  // Set once the thread's cache is gone (thread exit); later releases free directly.
  static thread_local bool destroyed;

 private:
  void collect_returned() {
    std::vector<std::pair<uint8_t*, int>> back;
    {
      std::lock_guard lock(home_->mu);
      if (home_->returned.empty()) return;
      back.swap(home_->returned);
      home_->bytes = 0;
    }
    for (auto& [p, cls] : back) give(p, cls);
  }

  std::array<std::vector<uint8_t*>, kClassCount> free_;
  PoolStats stats_;
  std::shared_ptr<Buffer::Home> home_;
};

thread_local bool ThreadCache::destroyed = false;

ThreadCache* cache() {
  if (ThreadCache::destroyed) return nullptr;
  thread_local ThreadCache instance;
  return &instance;
}

}  // namespace

Buffer::Buffer(Buffer&& other) noexcept
    : data_(other.data_),
      size_(other.size_),
      capacity_(other.capacity_),
      home_(std::move(other.home_)) {
  other.data_ = nullptr;
  other.size_ = other.capacity_ = 0;
}

Buffer& Buffer::operator=(Buffer&& other) noexcept {
  if (this != &other) {
    release();
    data_ = other.data_;
    size_ = other.size_;
    capacity_ = other.capacity_;
    home_ = std::move(other.home_);
    other.data_ = nullptr;
    other.size_ = other.capacity_ = 0;
  }
  return *this;
}

Buffer Buffer::allocate(size_t capacity) {
  if (capacity == 0) return Buffer();
  if (capacity > kMaxPooledCapacity) {
    size_t rounded = (capacity + kBufferAlignment - 1) / kBufferAlignment * kBufferAlignment;
    if (rounded < capacity) throw std::bad_alloc();
    if (ThreadCache* c = cache()) ++c->stats().direct_allocations;
    return Buffer(system_alloc(rounded), rounded);
  }
  int cls = class_of(capacity);
  if (ThreadCache* c = cache()) {
    Buffer b(c->take(cls), class_capacity(cls));
    b.home_ = c->home();
    return b;
  }
  return Buffer(system_alloc(class_capacity(cls)), class_capacity(cls));
}

void Buffer::resize(size_t n) {
  if (n > capacity_) throw std::length_error("kaffa::bytes::Buffer::resize beyond capacity");
  size_ = n;
}

void Buffer::release() {
  if (data_ == nullptr) return;
  ThreadCache* c = capacity_ <= kMaxPooledCapacity ? cache() : nullptr;
  if (c != nullptr && home_ == c->home()) {
    c->give(data_, class_of(capacity_));
  } else if (home_ != nullptr) {
    ThreadCache::give_home(*home_, data_, class_of(capacity_));
  } else {
    std::free(data_);
  }
  home_.reset();
  data_ = nullptr;
  size_ = capacity_ = 0;
}

PoolStats thread_pool_stats() {
  ThreadCache* c = cache();
  return c != nullptr ? c->stats() : PoolStats{};
}

void set_thread_cache_limit(size_t bytes) {
  g_cache_limit.store(bytes, std::memory_order_relaxed);
}

size_t thread_cache_limit() {
  return g_cache_limit.load(std::memory_order_relaxed);
}

void trim_thread_cache() {
  if (ThreadCache* c = cache()) c->trim();
}

}  // namespace kaffa::bytes
