// Page-aligned I/O buffers recycled through a per-thread pool.
//
// Why: on these machines kernel copies into a buffer that is not 32-byte aligned run 5-6x slower,
// and first-touching fresh memory costs ~20x more than reusing warm memory (see
// docs/PERFORMANCE.md). Every socket and file buffer therefore comes from here.
//
// Size classes are powers of two from 4 KiB to 1 MiB; a request is rounded up to its class.
// Larger buffers are allocated directly (still 4096-aligned, rounded up to whole pages) and freed
// on release. Each thread owns one pool: allocate() takes from the calling thread's free list,
// and destroying a Buffer returns its memory to the pool of the thread that allocated it (its
// home): directly on that thread, through a mutex-guarded return list from any other thread
// (collected by the home thread when its free list of that class runs dry). So memory does not
// drift from the threads that read requests to the threads that finish them, where it would be
// freed while the readers keep touching fresh memory. A free list (and a return list) holds at
// most thread_cache_limit() bytes; beyond that, released memory goes back to the system, as it
// does when the home thread has exited.
//
// Threading: a Buffer is an ordinary move-only value; it may be moved between threads. The pool
// functions below act on the calling thread's pool only, except set_thread_cache_limit().
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string_view>

namespace kaffa::bytes {

inline constexpr size_t kBufferAlignment = 4096;
inline constexpr size_t kMinPooledCapacity = size_t{4} << 10;  // 4 KiB
inline constexpr size_t kMaxPooledCapacity = size_t{1} << 20;  // 1 MiB
inline constexpr size_t kDefaultThreadCacheLimit = size_t{64} << 20;

// Owner of one aligned block. A default-constructed or moved-from Buffer is empty (no memory).
// The contents of a new buffer are unspecified (reused memory is not cleared).
class Buffer {
 public:
  Buffer() = default;
  Buffer(Buffer&& other) noexcept;
  Buffer& operator=(Buffer&& other) noexcept;
  Buffer(const Buffer&) = delete;
  Buffer& operator=(const Buffer&) = delete;
  ~Buffer() { release(); }

  // A buffer with capacity() >= capacity and size() == 0. capacity 0 gives an empty Buffer
  // without memory. Throws std::bad_alloc when memory is exhausted.
  static Buffer allocate(size_t capacity);

  uint8_t* data() { return data_; }
  const uint8_t* data() const { return data_; }
  size_t size() const { return size_; }
  size_t capacity() const { return capacity_; }
  bool empty() const { return size_ == 0; }
  // Sets the number of valid bytes. Throws std::length_error if n > capacity().
  void resize(size_t n);
  std::string_view view() const { return {reinterpret_cast<const char*>(data_), size_}; }
  // Returns the memory to the calling thread's pool now; the Buffer becomes empty.
  void release();

 private:
  Buffer(uint8_t* data, size_t capacity) : data_(data), capacity_(capacity) {}

 public:
  struct Home;  // the allocating thread's return list (buffer_pool.cc)

 private:
  uint8_t* data_ = nullptr;
  size_t size_ = 0;
  size_t capacity_ = 0;
  std::shared_ptr<Home> home_;  // null for unpooled blocks
};

// Counters of the calling thread's pool.
struct PoolStats {
  size_t cached_bytes = 0;          // memory currently held in the free lists
  uint64_t fresh_allocations = 0;   // pooled-class blocks obtained from the system
  uint64_t reused_allocations = 0;  // allocations served from a free list
  uint64_t direct_allocations = 0;  // blocks above kMaxPooledCapacity (never pooled)
};
PoolStats thread_pool_stats();

// Upper bound, in bytes, on each thread's free list. Applies to every thread from its next
// release on (a lower limit does not evict already cached memory until trim_thread_cache()).
void set_thread_cache_limit(size_t bytes);
size_t thread_cache_limit();

// Frees every block cached by the calling thread's pool.
void trim_thread_cache();

}  // namespace kaffa::bytes
