// Partition on a real log and a real flusher; the "event loop" is a queue drained by the test.
#include "cluster/partition.h"

#include <gtest/gtest.h>

#include "partition_testing.h"
#include "record/builder.h"
#include "storage_dir.h"

namespace kaffa::cluster {
namespace {

struct Fixture {
  testing::TempDir dir;
  storage::Flusher flusher;
  Loop loop;
  std::unique_ptr<Partition> p;

  explicit Fixture(PartitionConfig cfg = {}) {
    std::string error;
    auto log = storage::Log::open(dir.path() / "t-0", cfg.log, 0, &error);
    EXPECT_TRUE(log) << error;
    p = std::make_unique<Partition>("t", 0, 0, std::move(log), cfg, flusher,
                                    [this](size_t, std::function<void()> fn) { loop.post(fn); });
  }
  Partition::AppendOutcome append(int n) {
    std::string b = batch(n);
    return p->append(reinterpret_cast<uint8_t*>(b.data()), b.size(), 5000);
  }
};

TEST(Partition, AppendAssignsOffsetsAndAdvancesHighWatermark) {
  Fixture f;
  auto a = f.append(3);
  ASSERT_EQ(a.error, protocol::ErrorCode::none);
  EXPECT_EQ(a.base_offset, 0);
  EXPECT_EQ(a.last_offset, 2);
  auto b = f.append(2);
  EXPECT_EQ(b.base_offset, 3);
  EXPECT_EQ(f.p->high_watermark(), 5);
  EXPECT_EQ(f.p->high_watermark_snapshot(), 5);
  auto r = f.p->read(3, 1 << 20, true);
  EXPECT_EQ(r.error, protocol::ErrorCode::none);
  EXPECT_GT(r.bytes, 0);
  EXPECT_EQ(f.p->read(6, 1 << 20, true).error, protocol::ErrorCode::offset_out_of_range);
}

TEST(Partition, CorruptBatchIsRejectedAndNothingStored) {
  Fixture f;
  std::string b = batch(2);
  b[b.size() - 1] ^= 1;
  auto a = f.p->append(reinterpret_cast<uint8_t*>(b.data()), b.size(), 5000);
  EXPECT_EQ(a.error, protocol::ErrorCode::corrupt_message);
  EXPECT_EQ(f.p->log_end_offset(), 0);
}

TEST(Partition, CompressionTypeReencodesAndChecksTheSizeAgain) {
  PartitionConfig cfg;
  cfg.compression = record::Compression::none;
  cfg.max_message_bytes = 2000;
  Fixture f(cfg);
  // 10 KB of zeros gzip to far less than the limit; uncompressed they are far above it.
  std::string b = record::build_batch({{std::nullopt, std::string(10000, '\0'), {}, 1000}},
                                      record::Compression::gzip);
  ASSERT_LT(b.size(), 2000u);
  auto a = f.p->append(reinterpret_cast<uint8_t*>(b.data()), b.size(), 5000);
  EXPECT_EQ(a.error, protocol::ErrorCode::message_too_large);
  EXPECT_EQ(f.p->log_end_offset(), 0);
  // A small one is stored uncompressed.
  b = record::build_batch({{std::nullopt, std::string(100, 'v'), {}, 1000}},
                          record::Compression::gzip);
  a = f.p->append(reinterpret_cast<uint8_t*>(b.data()), b.size(), 5000);
  ASSERT_EQ(a.error, protocol::ErrorCode::none);
  auto r = f.p->read(0, 1 << 20, true);
  ASSERT_EQ(r.error, protocol::ErrorCode::none);
  EXPECT_EQ(f.p->log_end_offset(), 1);
}

TEST(Partition, DurabilityWaitersShareFlushes) {
  Fixture f;
  int durable = 0;
  for (int i = 0; i < 20; ++i) {
    auto a = f.append(1);
    f.p->when_durable(a.last_offset + 1, [&](bool ok) {
      EXPECT_TRUE(ok);
      ++durable;
    });
  }
  ASSERT_TRUE(f.loop.run_until([&] { return durable == 20; }));
  EXPECT_EQ(f.p->recovery_point_snapshot(), 20);
  // One ticket in flight at a time: 20 waiters took far fewer than 20 syncs.
  EXPECT_LE(f.flusher.syncs(), 2u);
}

TEST(Partition, FlushMessagesTriggersFlushWithoutWaiters) {
  PartitionConfig cfg;
  cfg.flush_messages = 3;
  Fixture f(cfg);
  f.append(1);
  f.append(1);
  EXPECT_EQ(f.flusher.syncs(), 0u);
  f.append(1);
  ASSERT_TRUE(f.loop.run_until([&] { return f.p->recovery_point_snapshot() == 3; }));
}

class CountingWaiter : public FetchWaiter {
 public:
  void fire() override { ++fired; }
  int fired = 0;
};

TEST(Partition, ParkedFetchWakesOnAppendPastItsOffset) {
  Fixture f;
  auto w = std::make_shared<CountingWaiter>();
  f.p->add_waiter(0, w);
  EXPECT_EQ(w->fired, 0);
  f.append(1);
  EXPECT_EQ(w->fired, 1);
  f.append(1);
  EXPECT_EQ(w->fired, 1);  // a registration fires once
  f.p->add_waiter(1, w);   // already below the high watermark: fires at once
  EXPECT_EQ(w->fired, 2);
}

std::string idempotent_batch(int64_t pid, int16_t epoch, int32_t seq, int n) {
  std::vector<record::BuildRecord> recs;
  for (int i = 0; i < n; ++i) recs.push_back({std::string("k"), std::string("v"), {}, 1000 + i});
  record::BuildOptions opts;
  opts.producer_id = pid;
  opts.producer_epoch = epoch;
  opts.base_sequence = seq;
  return record::build_batch(recs, opts);
}

Partition::AppendOutcome append_copy(Partition& p, std::string b) {
  return p.append(reinterpret_cast<uint8_t*>(b.data()), b.size(), 5000);
}

std::unique_ptr<Partition> reopen(Fixture& f) {
  std::string error;
  auto log = storage::Log::open(f.dir.path() / "t-0", PartitionConfig{}.log, 0, &error);
  EXPECT_TRUE(log) << error;
  return std::make_unique<Partition>("t", 0, 0, std::move(log), PartitionConfig{}, f.flusher,
                                     [&f](size_t, std::function<void()> fn) { f.loop.post(fn); });
}

TEST(Partition, IdempotentRetryIsAnsweredWithItsOriginalOffsets) {
  Fixture f;
  ASSERT_EQ(append_copy(*f.p, idempotent_batch(5, 0, 0, 3)).base_offset, 0);
  const auto second = append_copy(*f.p, idempotent_batch(5, 0, 3, 2));
  ASSERT_EQ(second.base_offset, 3);
  const auto retry = append_copy(*f.p, idempotent_batch(5, 0, 3, 2));
  EXPECT_EQ(retry.error, protocol::ErrorCode::none);
  EXPECT_TRUE(retry.duplicate);
  EXPECT_EQ(retry.base_offset, 3);
  EXPECT_EQ(retry.last_offset, 4);
  EXPECT_EQ(f.p->log_end_offset(), 5);  // nothing written twice

  const auto gap = append_copy(*f.p, idempotent_batch(5, 0, 9, 1));
  EXPECT_EQ(gap.error, protocol::ErrorCode::out_of_order_sequence_number);
  const auto fenced = append_copy(*f.p, idempotent_batch(5, 1, 5, 1));
  EXPECT_EQ(fenced.error, protocol::ErrorCode::out_of_order_sequence_number);
  EXPECT_EQ(f.p->log_end_offset(), 5);
}

TEST(Partition, StaleEpochAndSeveralBatchesAreRefused) {
  Fixture f;
  ASSERT_EQ(append_copy(*f.p, idempotent_batch(5, 2, 0, 1)).error, protocol::ErrorCode::none);
  EXPECT_EQ(append_copy(*f.p, idempotent_batch(5, 1, 1, 1)).error,
            protocol::ErrorCode::invalid_producer_epoch);
  const auto two = append_copy(*f.p, idempotent_batch(6, 0, 0, 1) + idempotent_batch(6, 0, 1, 1));
  EXPECT_EQ(two.error, protocol::ErrorCode::invalid_record);
  EXPECT_EQ(f.p->log_end_offset(), 1);
}

TEST(Partition, ProducerStateSurvivesCloseAndCrash) {
  Fixture f;
  ASSERT_EQ(append_copy(*f.p, idempotent_batch(5, 0, 0, 2)).base_offset, 0);
  std::string error;
  ASSERT_TRUE(f.p->close(&error)) << error;
  f.p = reopen(f);  // clean: from the close snapshot
  ASSERT_EQ(append_copy(*f.p, idempotent_batch(5, 0, 2, 2)).base_offset, 2);
  f.p.reset();      // a crash: no close, no snapshot of the second batch
  f.p = reopen(f);  // replays the log after the snapshot
  const auto retry = append_copy(*f.p, idempotent_batch(5, 0, 2, 2));
  EXPECT_TRUE(retry.duplicate);
  EXPECT_EQ(retry.base_offset, 2);
  const auto first = append_copy(*f.p, idempotent_batch(5, 0, 0, 2));
  EXPECT_TRUE(first.duplicate);
  EXPECT_EQ(first.base_offset, 0);
  EXPECT_EQ(append_copy(*f.p, idempotent_batch(5, 0, 4, 1)).base_offset, 4);
}

}  // namespace
}  // namespace kaffa::cluster
