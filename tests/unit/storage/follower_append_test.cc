// Log::append_as_follower: a follower's log takes the leader's batches as they are (offsets,
// epochs, bytes), refuses what would break the log, and converges after a truncation to the
// leader's end of its epoch (KIP-101).
#include <gtest/gtest.h>

#include <limits>

#include "storage/log.h"
#include "storage_testing.h"

namespace kaffa::storage {
namespace {

using testing::append;
using testing::make_batch;
using testing::open_log_with;
using testing::parse_batches;
using testing::slice_bytes;
using testing::TempDir;
using Entries = std::vector<EpochEntry>;

constexpr int64_t kAll = std::numeric_limits<int64_t>::max();

LogConfig small_segments() {
  LogConfig cfg;
  cfg.segment_bytes = 500;
  return cfg;
}

// Every batch of `log` from `offset` on, as bytes (what a follower's fetch returns).
std::string fetch(const Log& log, int64_t offset) {
  const auto r = log.read(offset, kAll, kAll, true);
  EXPECT_FALSE(r.out_of_range);
  return slice_bytes(r.slices);
}

Log::AppendResult replicate(Log& follower, std::string bytes) {
  return follower.append_as_follower(reinterpret_cast<uint8_t*>(bytes.data()), bytes.size(), 0);
}

// A batch with a chosen base offset and epoch (CRC recomputed), as a compacted leader has them.
std::string batch_at(int64_t base_offset, int32_t epoch, int records = 1) {
  std::string b = make_batch({.records = records});
  testing::put_be(b, 0, static_cast<uint64_t>(base_offset), 8);
  testing::put_be(b, 12, static_cast<uint32_t>(epoch), 4);
  testing::put_be(b, 17, record::crc32c(b.data() + 21, b.size() - 21), 4);
  return b;
}

TEST(FollowerAppend, CopiesTheLeadersBatchesExactly) {
  TempDir leader_dir, follower_dir;
  auto leader = open_log_with(leader_dir.path(), small_segments(), 0);
  auto follower = open_log_with(follower_dir.path(), small_segments(), 0);
  for (int32_t epoch : {0, 0, 3, 3, 3, 5}) {
    ASSERT_TRUE(append(*leader, make_batch({.records = 3}), 0, epoch).ok);
  }
  // In two fetches, across the leader's segment rolls.
  const std::string first = fetch(*leader, 0).substr(0, 2 * make_batch({.records = 3}).size());
  ASSERT_TRUE(replicate(*follower, first).ok);
  EXPECT_EQ(follower->log_end_offset(), 6);
  const auto r = replicate(*follower, fetch(*leader, 6));
  ASSERT_TRUE(r.ok) << r.error;
  EXPECT_EQ(r.base_offset, 6);
  EXPECT_EQ(r.last_offset, 17);
  EXPECT_EQ(follower->log_end_offset(), leader->log_end_offset());
  EXPECT_EQ(fetch(*follower, 0), fetch(*leader, 0));  // byte for byte, epochs included
  EXPECT_EQ(follower->epoch_entries(), (Entries{{0, 0}, {3, 6}, {5, 15}}));
  EXPECT_EQ(follower->epoch_entries(), leader->epoch_entries());
}

TEST(FollowerAppend, GapsFromCompactionAreKept) {
  TempDir dir;
  auto log = open_log_with(dir.path(), small_segments(), 0);
  ASSERT_TRUE(replicate(*log, batch_at(0, 1, 2) + batch_at(10, 1) + batch_at(11, 2, 2)).ok);
  EXPECT_EQ(log->log_end_offset(), 13);
  const auto batches = parse_batches(fetch(*log, 5));  // 5 is in the gap: the next batch
  ASSERT_EQ(batches.size(), 2u);
  EXPECT_EQ(batches[0].base_offset, 10);
  EXPECT_EQ(log->epoch_entries(), (Entries{{1, 0}, {2, 11}}));
}

TEST(FollowerAppend, RefusesOffsetsBelowTheLogEndAndBadCrcsWithoutWriting) {
  TempDir dir;
  auto log = open_log_with(dir.path(), small_segments(), 0);
  ASSERT_TRUE(replicate(*log, batch_at(0, 0, 4)).ok);
  const std::string before = fetch(*log, 0);
  EXPECT_FALSE(replicate(*log, batch_at(3, 0)).ok);                   // overlaps
  EXPECT_FALSE(replicate(*log, batch_at(4, 0) + batch_at(4, 0)).ok);  // not increasing
  std::string bad = batch_at(5, 0, 2);
  bad.back() ^= 1;
  const auto r = replicate(*log, batch_at(4, 0) + bad);  // one good, one corrupt: neither
  EXPECT_FALSE(r.ok);
  EXPECT_NE(r.error.find("CRC"), std::string::npos) << r.error;
  EXPECT_EQ(log->log_end_offset(), 4);
  EXPECT_EQ(fetch(*log, 0), before);
}

TEST(FollowerAppend, RefusesABatchWhoseLastOffsetWouldPass2To63) {
  TempDir dir;
  auto log = open_log_with(dir.path(), small_segments(), 0);
  ASSERT_TRUE(replicate(*log, batch_at(0, 0)).ok);
  // Its last offset wraps to a negative one: a later batch from offset 5 would pass as increasing.
  const auto r = replicate(*log, batch_at(kAll, 0, 2) + batch_at(5, 0));
  EXPECT_FALSE(r.ok);
  EXPECT_NE(r.error.find("2^63"), std::string::npos) << r.error;
  EXPECT_EQ(log->log_end_offset(), 1);
}

TEST(FollowerAppend, TruncationToTheLeadersEpochEndConverges) {
  TempDir leader_dir, follower_dir;
  auto leader = open_log_with(leader_dir.path(), small_segments(), 0);
  auto follower = open_log_with(follower_dir.path(), small_segments(), 0);
  // Both had offsets 0..3 in epoch 1; the old leader (now follower) also wrote 4..7 that no one
  // replicated; the new leader wrote 4..5 in epoch 2.
  ASSERT_TRUE(append(*leader, make_batch({.records = 4}), 0, 1).ok);
  ASSERT_TRUE(replicate(*follower, fetch(*leader, 0)).ok);
  ASSERT_TRUE(append(*follower, make_batch({.records = 4}), 0, 1).ok);
  ASSERT_TRUE(append(*leader, make_batch({.records = 2}), 0, 2).ok);
  // OffsetForLeaderEpoch(1) on the new leader: epoch 1 ends where epoch 2 starts.
  const auto [epoch, end] = leader->end_offset_for_epoch(*follower->latest_epoch());
  EXPECT_EQ(epoch, 1);
  EXPECT_EQ(end, 4);
  ASSERT_TRUE(follower->truncate_to(end, nullptr));
  ASSERT_TRUE(replicate(*follower, fetch(*leader, end)).ok);
  EXPECT_EQ(fetch(*follower, 0), fetch(*leader, 0));
  EXPECT_EQ(follower->epoch_entries(), (Entries{{1, 0}, {2, 4}}));
}

}  // namespace
}  // namespace kaffa::storage
