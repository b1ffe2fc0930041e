// ProducerStateManager with transactions: transaction start/commit/abort, fencing by markers,
// coordinator epochs, NO_SEQUENCE batches, INVALID_TXN_STATE, the first unstable offset, snapshot
// v2 (and v1 still read), and the replay of markers into the aborted transaction index.
#include <gtest/gtest.h>

#include <fstream>

#include "record/builder.h"
#include "record/control.h"
#include "record/crc32c.h"
#include "storage/log.h"
#include "storage/producer_state.h"
#include "storage_testing.h"

namespace kaffa::storage {
namespace {

using testing::TempDir;
using Verdict = ProducerStateManager::Verdict;

record::BatchHeader data(int64_t pid, int16_t epoch, int32_t seq, int32_t records,
                         bool transactional = true) {
  record::BatchHeader h{};
  h.producer_id = pid;
  h.producer_epoch = epoch;
  h.base_sequence = seq;
  h.last_offset_delta = records - 1;
  h.max_timestamp = 1000;
  h.attributes = transactional ? record::kTransactionalBit : 0;
  return h;
}

record::BatchHeader control(int64_t pid, int16_t epoch) {
  record::BatchHeader h = data(pid, epoch, -1, 1);
  h.attributes = record::kTransactionalBit | record::kControlBit;
  return h;
}

const record::EndTxnMarker kCommit{record::ControlType::commit, 5};
const record::EndTxnMarker kAbort{record::ControlType::abort, 5};

TEST(ProducerStateTxn, TransactionalBatchesStartATransactionAMarkerEndsIt) {
  TempDir dir;
  ProducerStateManager s(dir.path());
  EXPECT_FALSE(s.first_unstable_offset());
  EXPECT_FALSE(s.update(data(7, 0, 0, 2), 10, 11));
  EXPECT_FALSE(s.update(data(7, 0, 2, 1), 14, 14));  // extends it
  EXPECT_EQ(s.find(7)->txn_first_offset, 10);
  EXPECT_EQ(s.first_unstable_offset(), 10);
  EXPECT_FALSE(s.update(data(8, 0, 0, 1), 12, 12));
  EXPECT_EQ(s.ongoing_transactions(), 2u);

  const auto done = s.update(control(7, 0), 15, 15, &kCommit);
  ASSERT_TRUE(done);
  EXPECT_EQ(*done, (CompletedTxn{7, 10, 15, false}));
  EXPECT_EQ(s.find(7)->txn_first_offset, -1);
  EXPECT_EQ(s.find(7)->coordinator_epoch, 5);
  // Completed but not yet below the high watermark: still unstable.
  EXPECT_EQ(s.first_unstable_offset(), 10);
  s.on_high_watermark(15);
  EXPECT_EQ(s.first_unstable_offset(), 10);
  s.on_high_watermark(16);
  EXPECT_EQ(s.first_unstable_offset(), 12);  // producer 8's

  const auto aborted = s.update(control(8, 0), 16, 16, &kAbort);
  ASSERT_TRUE(aborted);
  EXPECT_TRUE(aborted->aborted);
  ASSERT_EQ(s.aborted_index().entries().size(), 1u);
  EXPECT_EQ(s.aborted_index().entries()[0], (AbortedTxn{8, 12, 16, 17}));
  s.on_high_watermark(17);
  EXPECT_FALSE(s.first_unstable_offset());
  // A marker without a transaction completes nothing.
  EXPECT_FALSE(s.update(control(8, 0), 17, 17, &kAbort));
  EXPECT_EQ(s.aborted_index().entries().size(), 1u);
}

TEST(ProducerStateTxn, AbortIndexEntryCarriesTheLastStableOffsetOfOtherTransactions) {
  TempDir dir;
  ProducerStateManager s(dir.path());
  s.update(data(7, 0, 0, 1), 0, 0);
  s.update(data(8, 0, 0, 1), 1, 1);
  s.update(control(8, 0), 2, 2, &kAbort);
  EXPECT_EQ(s.aborted_index().entries()[0], (AbortedTxn{8, 1, 2, 0}));  // 7's is undecided
}

TEST(ProducerStateTxn, MarkerWithAHigherEpochFencesTheProducer) {
  TempDir dir;
  ProducerStateManager s(dir.path());
  s.update(data(7, 3, 0, 2), 0, 1);
  EXPECT_EQ(s.check(control(7, 4), &kAbort).verdict, Verdict::append);
  ASSERT_TRUE(s.update(control(7, 4), 2, 2, &kAbort));
  EXPECT_EQ(s.find(7)->epoch, 4);
  EXPECT_TRUE(s.find(7)->batches.empty());
  // The zombie at epoch 3 is refused; the same epoch with no batch remembered takes any sequence.
  EXPECT_EQ(s.check(data(7, 3, 2, 1)).verdict, Verdict::stale_epoch);
  EXPECT_EQ(s.check(data(7, 4, 17, 1)).verdict, Verdict::append);
}

TEST(ProducerStateTxn, StaleMarkerEpochAndOldCoordinatorAreRefused) {
  TempDir dir;
  ProducerStateManager s(dir.path());
  s.update(data(7, 3, 0, 1), 0, 0);
  EXPECT_EQ(s.check(control(7, 2), &kCommit).verdict, Verdict::stale_epoch);
  s.update(control(7, 3), 1, 1, &kCommit);  // coordinator epoch 5
  const record::EndTxnMarker old{record::ControlType::commit, 4};
  const auto c = s.check(control(7, 3), &old);
  EXPECT_EQ(c.verdict, Verdict::coordinator_fenced);
  EXPECT_NE(c.message.find("coordinator epoch"), std::string::npos);
  const record::EndTxnMarker same{record::ControlType::abort, 5};
  EXPECT_EQ(s.check(control(7, 3), &same).verdict, Verdict::append);
}

TEST(ProducerStateTxn, NoSequenceBatchesSkipSequencesButJoinTheTransaction) {
  TempDir dir;
  ProducerStateManager s(dir.path());
  s.update(data(7, 1, 0, 3), 0, 2);
  // Group coordinator's write (TxnOffsetCommit): base sequence -1.
  EXPECT_EQ(s.check(data(7, 1, -1, 1)).verdict, Verdict::append);
  EXPECT_EQ(s.check(data(7, 0, -1, 1)).verdict, Verdict::stale_epoch);
  s.update(data(7, 1, -1, 1), 3, 3);
  EXPECT_EQ(s.find(7)->batches.size(), 1u);  // not remembered as a sequence batch
  EXPECT_EQ(s.find(7)->txn_first_offset, 0);
  EXPECT_EQ(s.check(data(7, 1, 3, 1)).verdict, Verdict::append);  // sequences go on
  // A producer known only from NO_SEQUENCE batches.
  s.update(data(9, 0, -1, 1), 4, 4);
  EXPECT_EQ(s.find(9)->txn_first_offset, 4);
  EXPECT_TRUE(s.find(9)->batches.empty());
  EXPECT_EQ(s.check(data(9, 0, 42, 1)).verdict, Verdict::append);
}

TEST(ProducerStateTxn, NonTransactionalBatchDuringATransactionIsInvalidTxnState) {
  TempDir dir;
  ProducerStateManager s(dir.path());
  s.update(data(7, 0, 0, 1), 0, 0);
  const auto c = s.check(data(7, 0, 1, 1, /*transactional=*/false));
  EXPECT_EQ(c.verdict, Verdict::invalid_txn_state);
  s.update(control(7, 0), 1, 1, &kCommit);
  EXPECT_EQ(s.check(data(7, 0, 1, 1, false)).verdict, Verdict::append);
}

TEST(ProducerStateTxn, ProducersWithOngoingTransactionsDoNotExpire) {
  TempDir dir;
  ProducerStateManager s(dir.path());
  s.update(data(7, 0, 0, 1), 0, 0);
  s.update(data(8, 0, 0, 1, false), 1, 1);
  EXPECT_EQ(s.remove_expired(1'000'000, 10), 1u);
  EXPECT_NE(s.find(7), nullptr);
  s.evict_below(5);
  EXPECT_NE(s.find(7), nullptr);
}

TEST(ProducerStateTxn, SnapshotV2KeepsOngoingTransactions) {
  TempDir dir;
  auto log = testing::open_log_with(dir.path() / "t-0", LogConfig{}, 0);
  ProducerStateManager s(log->dir());
  s.update(data(7, 2, 0, 1), 0, 0);
  s.update(data(8, 0, -1, 1), 1, 1);  // no batch remembered
  s.update(data(9, 1, 0, 1), 2, 2);
  s.update(control(9, 1), 3, 3, &kCommit);
  std::string error;
  ASSERT_TRUE(s.take_snapshot(0, false, &error)) << error;
  std::ifstream f(log->dir() / "00000000000000000000.snapshot", std::ios::binary);
  char version[2];
  f.read(version, 2);
  EXPECT_EQ(version[1], 2);

  ProducerStateManager loaded(log->dir());
  ASSERT_TRUE(loaded.load(*log, &error)) << error;
  EXPECT_EQ(loaded.first_unstable_offset(), 0);
  EXPECT_EQ(loaded.ongoing_transactions(), 2u);
  EXPECT_EQ(loaded.find(8)->txn_first_offset, 1);
  EXPECT_TRUE(loaded.find(8)->batches.empty());
  EXPECT_EQ(loaded.find(9)->coordinator_epoch, 5);
  EXPECT_EQ(loaded.find(9)->last_offset, 3);
  EXPECT_EQ(loaded.check(data(7, 2, 0, 1)).verdict, Verdict::duplicate);
  const record::EndTxnMarker old{record::ControlType::commit, 4};
  EXPECT_EQ(loaded.check(control(9, 1), &old).verdict, Verdict::coordinator_fenced);
}

// A version 1 snapshot (before transactions), written byte by byte.
TEST(ProducerStateTxn, SnapshotV1IsStillRead) {
  TempDir dir;
  auto log = testing::open_log_with(dir.path() / "t-0", LogConfig{}, 0);
  std::string body;
  auto be = [&body](uint64_t v, int n) {
    for (int i = n - 1; i >= 0; --i) body.push_back(static_cast<char>((v >> (8 * i)) & 0xff));
  };
  be(1, 4);                         // producers
  be(7, 8);                         // producer id
  be(3, 2);                         // epoch
  be(1000, 8);                      // last timestamp
  be(1, 1);                         // batches
  be(0, 4), be(4, 4);               // sequences 0..4
  be(0, 8), be(4, 8), be(1000, 8);  // offsets 0..4, max timestamp
  std::string file;
  file.push_back(0);
  file.push_back(1);  // version 1
  const uint32_t crc = record::crc32c(body.data(), body.size());
  for (int i = 3; i >= 0; --i) file.push_back(static_cast<char>((crc >> (8 * i)) & 0xff));
  file += body;
  std::ofstream(log->dir() / "00000000000000000000.snapshot", std::ios::binary) << file;

  ProducerStateManager loaded(log->dir());
  std::string error;
  ASSERT_TRUE(loaded.load(*log, &error)) << error;
  ASSERT_NE(loaded.find(7), nullptr);
  EXPECT_EQ(loaded.find(7)->epoch, 3);
  EXPECT_EQ(loaded.find(7)->last_offset, 4);
  EXPECT_EQ(loaded.find(7)->txn_first_offset, -1);
  EXPECT_EQ(loaded.check(data(7, 3, 0, 5, false)).verdict, Verdict::duplicate);
  EXPECT_EQ(loaded.check(data(7, 3, 6, 1, false)).verdict, Verdict::out_of_order);
}

// Appends a transactional batch of `n` records (or a marker) to the log.
int64_t append_txn(Log& log, int64_t pid, int32_t seq, int n) {
  std::vector<record::BuildRecord> recs(n, {std::string("k"), std::string("v"), {}, 1000});
  record::BuildOptions o;
  o.producer_id = pid;
  o.producer_epoch = 0;
  o.base_sequence = seq;
  o.transactional = true;
  std::string b = record::build_batch(recs, o);
  const auto r = testing::append(log, b);
  EXPECT_TRUE(r.ok) << r.error;
  return r.base_offset;
}

int64_t append_marker(Log& log, int64_t pid, const record::EndTxnMarker& m) {
  const auto r = testing::append(log, record::build_end_txn_marker(pid, 0, m, 1000));
  EXPECT_TRUE(r.ok) << r.error;
  return r.base_offset;
}

TEST(ProducerStateTxn, ReplayAppliesMarkersAndRebuildsTheAbortedIndex) {
  TempDir dir;
  auto log = testing::open_log_with(dir.path() / "t-0", LogConfig{}, 0);
  append_txn(*log, 7, 0, 2);        // 0-1, aborted
  append_txn(*log, 8, 0, 1);        // 2, committed
  append_marker(*log, 7, kAbort);   // 3
  append_marker(*log, 8, kCommit);  // 4
  append_txn(*log, 9, 0, 1);        // 5, ongoing
  ProducerStateManager s(log->dir());
  std::string error;
  ASSERT_TRUE(s.load(*log, &error)) << error;
  EXPECT_EQ(s.ongoing_transactions(), 1u);
  s.on_high_watermark(log->log_end_offset());
  EXPECT_EQ(s.first_unstable_offset(), 5);
  ASSERT_EQ(s.aborted_index().entries().size(), 1u);
  EXPECT_EQ(s.aborted_index().entries()[0], (AbortedTxn{7, 0, 3, 2}));
  // A second load (a restart, or a truncation's reload) does not duplicate the entry.
  ProducerStateManager again(log->dir());
  ASSERT_TRUE(again.load(*log, &error)) << error;
  EXPECT_EQ(again.aborted_index().entries().size(), 1u);
  EXPECT_EQ(again.find(7)->coordinator_epoch, 5);
}

TEST(ProducerStateTxn, LoadFromASnapshotKeepsIndexEntriesBelowIt) {
  TempDir dir;
  auto log = testing::open_log_with(dir.path() / "t-0", LogConfig{}, 0);
  append_txn(*log, 7, 0, 1);       // 0
  append_marker(*log, 7, kAbort);  // 1
  ProducerStateManager s(log->dir());
  std::string error;
  ASSERT_TRUE(s.load(*log, &error)) << error;
  ASSERT_TRUE(s.take_snapshot(log->log_end_offset(), false, &error)) << error;
  append_txn(*log, 8, 0, 1);       // 2
  append_marker(*log, 8, kAbort);  // 3
  ASSERT_TRUE(s.load(*log, &error)) << error;
  EXPECT_EQ(s.replayed_from(), 2);
  ASSERT_EQ(s.aborted_index().entries().size(), 2u);
  EXPECT_EQ(s.aborted_index().entries()[0].producer_id, 7);  // from the file
  EXPECT_EQ(s.aborted_index().entries()[1].producer_id, 8);  // from the replay
}

}  // namespace
}  // namespace kaffa::storage
