#include "bytes/buffer_pool.h"

#include <gtest/gtest.h>

#include <cstring>
#include <stdexcept>
#include <thread>
#include <utility>

namespace kaffa::bytes {
namespace {

bool page_aligned(const void* p) {
  return reinterpret_cast<uintptr_t>(p) % 4096 == 0;
}

// Each test starts with an empty cache and the default limit on the calling thread.
class BufferPoolTest : public ::testing::Test {
 protected:
  void SetUp() override {
    set_thread_cache_limit(kDefaultThreadCacheLimit);
    trim_thread_cache();
  }
  void TearDown() override {
    set_thread_cache_limit(kDefaultThreadCacheLimit);
    trim_thread_cache();
  }
};

TEST_F(BufferPoolTest, EveryBufferIsPageAligned) {
  for (size_t n : {size_t{1}, size_t{17}, size_t{4096}, size_t{4097}, size_t{65536},
                   size_t{1} << 20, (size_t{1} << 20) + 1, size_t{3} << 20}) {
    Buffer b = Buffer::allocate(n);
    ASSERT_NE(b.data(), nullptr) << n;
    EXPECT_TRUE(page_aligned(b.data())) << n;
    EXPECT_GE(b.capacity(), n);
    EXPECT_EQ(b.capacity() % 4096, 0u);
    EXPECT_EQ(b.size(), 0u);
  }
}

TEST_F(BufferPoolTest, PooledCapacityIsRoundedToPowerOfTwoClass) {
  EXPECT_EQ(Buffer::allocate(1).capacity(), 4096u);
  EXPECT_EQ(Buffer::allocate(4097).capacity(), 8192u);
  EXPECT_EQ(Buffer::allocate(100000).capacity(), 131072u);
  EXPECT_EQ(Buffer::allocate(size_t{1} << 20).capacity(), size_t{1} << 20);
  // Above the largest class: whole pages, not a power of two.
  EXPECT_EQ(Buffer::allocate((size_t{1} << 20) + 1).capacity(), (size_t{1} << 20) + 4096);
}

TEST_F(BufferPoolTest, ReleasedMemoryIsReusedBySameClass) {
  const uint64_t reused = thread_pool_stats().reused_allocations;
  const void* first;
  {
    Buffer b = Buffer::allocate(5000);
    first = b.data();
  }
  EXPECT_EQ(thread_pool_stats().cached_bytes, 8192u);
  Buffer again = Buffer::allocate(8000);
  EXPECT_EQ(again.data(), first);
  EXPECT_EQ(thread_pool_stats().reused_allocations, reused + 1);
  EXPECT_EQ(thread_pool_stats().cached_bytes, 0u);
  // A different class does not take it.
  Buffer other = Buffer::allocate(4096);
  EXPECT_NE(other.data(), first);
}

TEST_F(BufferPoolTest, LargeBuffersAreNotPooled) {
  const uint64_t direct = thread_pool_stats().direct_allocations;
  { Buffer big = Buffer::allocate(size_t{2} << 20); }
  EXPECT_EQ(thread_pool_stats().direct_allocations, direct + 1);
  EXPECT_EQ(thread_pool_stats().cached_bytes, 0u);
}

TEST_F(BufferPoolTest, CacheIsBoundedByLimit) {
  set_thread_cache_limit(16384);
  {
    Buffer a = Buffer::allocate(8192);
    Buffer b = Buffer::allocate(8192);
    Buffer c = Buffer::allocate(8192);
  }
  EXPECT_EQ(thread_pool_stats().cached_bytes, 16384u);
  trim_thread_cache();
  EXPECT_EQ(thread_pool_stats().cached_bytes, 0u);
}

TEST_F(BufferPoolTest, SizeViewAndResize) {
  Buffer b = Buffer::allocate(10);
  b.resize(5);
  std::memcpy(b.data(), "hello", 5);
  EXPECT_EQ(b.size(), 5u);
  EXPECT_EQ(b.view(), "hello");
  EXPECT_THROW(b.resize(b.capacity() + 1), std::length_error);
}

TEST_F(BufferPoolTest, MoveTransfersOwnership) {
  Buffer a = Buffer::allocate(100);
  a.resize(3);
  uint8_t* p = a.data();
  Buffer b = std::move(a);
  EXPECT_EQ(b.data(), p);
  EXPECT_EQ(b.size(), 3u);
  EXPECT_EQ(a.data(), nullptr);  // NOLINT(bugprone-use-after-move): moved-from is empty
  EXPECT_EQ(a.capacity(), 0u);
  Buffer c = Buffer::allocate(100);
  c = std::move(b);  // c's old block goes back to the pool
  EXPECT_EQ(c.data(), p);
  EXPECT_EQ(thread_pool_stats().cached_bytes, 4096u);
}

TEST_F(BufferPoolTest, ZeroCapacityIsEmptyWithoutMemory) {
  Buffer b = Buffer::allocate(0);
  EXPECT_EQ(b.data(), nullptr);
  EXPECT_EQ(b.capacity(), 0u);
  EXPECT_TRUE(b.view().empty());
}

TEST_F(BufferPoolTest, BufferReleasedOnAnotherThreadGoesBackToItsHomePool) {
  Buffer b = Buffer::allocate(4096);
  std::thread t([moved = std::move(b)]() mutable {
    moved.release();
    EXPECT_EQ(thread_pool_stats().cached_bytes, 0u);  // not kept by the releasing thread
  });
  t.join();
  const auto before = thread_pool_stats();
  Buffer again = Buffer::allocate(4096);  // served from the returned block
  EXPECT_EQ(thread_pool_stats().reused_allocations, before.reused_allocations + 1);
  EXPECT_EQ(thread_pool_stats().fresh_allocations, before.fresh_allocations);
}

TEST_F(BufferPoolTest, ReleaseAfterTheHomeThreadExitedFreesTheMemory) {
  Buffer b;
  std::thread t([&b] { b = Buffer::allocate(65536); });
  t.join();  // the home pool is gone
  EXPECT_EQ(b.capacity(), 65536u);
  b.release();  // freed (LeakSanitizer would report it otherwise), not cached here
  EXPECT_EQ(thread_pool_stats().cached_bytes, 0u);
}

TEST_F(BufferPoolTest, ReturnsAreBoundedByTheCacheLimit) {
  set_thread_cache_limit(8192);
  std::vector<Buffer> bufs;
  for (int i = 0; i < 4; ++i) bufs.push_back(Buffer::allocate(4096));
  std::thread t([moved = std::move(bufs)]() mutable { moved.clear(); });
  t.join();
  for (int i = 0; i < 4; ++i) bufs.push_back(Buffer::allocate(4096));
  EXPECT_EQ(thread_pool_stats().cached_bytes, 0u);
  bufs.clear();
  EXPECT_EQ(thread_pool_stats().cached_bytes, 8192u);  // two returned, two freed on the way
}

}  // namespace
}  // namespace kaffa::bytes
