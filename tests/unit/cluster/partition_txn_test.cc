// Partition with transactions on a real log: transactional appends and markers, the last stable
// offset, read_committed reads (bounds and aborted transactions), parked read_committed fetches,
// truncation, recovery after close and after a crash, a follower's replicated markers, and the
// log cleaner keeping a committed value that a later aborted transaction overwrote.
#include <gtest/gtest.h>
#include <unistd.h>

#include "cluster/partition.h"
#include "partition_testing.h"
#include "record/builder.h"
#include "record/control.h"
#include "record/records.h"
#include "storage/log_cleaner.h"
#include "storage_dir.h"

namespace kaffa::cluster {
namespace {

using protocol::ErrorCode;
using Isolation = Partition::Isolation;
constexpr auto kCommitted = Isolation::read_committed;

class CountingWaiter : public FetchWaiter {
 public:
  void fire() override { ++fired; }
  int fired = 0;
};

std::string txn_batch(int64_t pid, int16_t epoch, int32_t seq, std::vector<std::string> values,
                      std::string key = "k", int64_t base_offset = 0) {
  std::vector<record::BuildRecord> recs;
  for (auto& v : values) recs.push_back({key, std::move(v), {}, 1000});
  record::BuildOptions o;
  o.base_offset = base_offset;
  o.producer_id = pid;
  o.producer_epoch = epoch;
  o.base_sequence = seq;
  o.transactional = true;
  return record::build_batch(recs, o);
}

struct Fixture {
  testing::TempDir dir;
  storage::Flusher flusher;
  Loop loop;
  PartitionConfig cfg;
  std::unique_ptr<Partition> p;

  explicit Fixture(PartitionConfig c = {}) : cfg(std::move(c)) { open(); }
  ~Fixture() { flusher.stop(); }
  void open() {
    std::string error;
    auto log = storage::Log::open(dir.path() / "t-0", cfg.log, 0, &error);
    ASSERT_TRUE(log) << error;
    p = std::make_unique<Partition>("t", 0, 0, std::move(log), cfg, flusher,
                                    [this](size_t, std::function<void()> fn) { loop.post(fn); });
  }
  Partition::AppendOutcome put(std::string b) {
    return p->append(reinterpret_cast<uint8_t*>(b.data()), b.size(), 5000);
  }
  int64_t txn(int64_t pid, int32_t seq, int n = 1, std::string key = "k", std::string value = "v") {
    const auto a = put(txn_batch(pid, 0, seq, std::vector<std::string>(n, value), key));
    EXPECT_EQ(a.error, ErrorCode::none) << a.message;
    return a.base_offset;
  }
  int64_t plain(int n = 1) {
    const auto a = put(batch(n));
    EXPECT_EQ(a.error, ErrorCode::none) << a.message;
    return a.base_offset;
  }
  int64_t marker(int64_t pid, bool commit, int16_t epoch = 0, int32_t coordinator_epoch = 1) {
    const auto a = p->append_marker(pid, epoch, coordinator_epoch, commit, 5000);
    EXPECT_EQ(a.error, ErrorCode::none) << a.message;
    EXPECT_EQ(a.base_offset, a.last_offset);
    return a.base_offset;
  }
};

std::vector<std::pair<int64_t, int64_t>> aborted(const Partition::ReadOutcome& r) {
  std::vector<std::pair<int64_t, int64_t>> out;
  for (const auto& a : r.aborted) out.emplace_back(a.producer_id, a.first_offset);
  return out;
}

// Every batch header of what a read returned.
std::vector<record::BatchHeader> headers(const Partition::ReadOutcome& r) {
  std::vector<record::BatchHeader> out;
  for (const auto& f : r.records.files) {
    std::string bytes(f.length, '\0');
    EXPECT_EQ(::pread(f.fd, bytes.data(), f.length, f.offset), static_cast<ssize_t>(f.length));
    for (size_t pos = 0; pos < bytes.size();) {
      record::BatchHeader h;
      record::parse_header(reinterpret_cast<const uint8_t*>(bytes.data()) + pos, bytes.size() - pos,
                           h);
      out.push_back(h);
      pos += h.total_size();
    }
  }
  return out;
}

TEST(PartitionTxn, LastStableOffsetFollowsTransactionsOnASingleNode) {
  Fixture f;
  EXPECT_EQ(f.p->last_stable_offset(), 0);
  EXPECT_EQ(f.txn(7, 0, 2), 0);  // 0-1
  EXPECT_EQ(f.p->high_watermark(), 2);
  EXPECT_EQ(f.p->last_stable_offset(), 0);
  EXPECT_EQ(f.plain(), 2);
  EXPECT_EQ(f.txn(8, 0), 3);
  EXPECT_EQ(f.p->last_stable_offset(), 0);
  EXPECT_EQ(f.marker(7, true), 4);
  EXPECT_EQ(f.p->last_stable_offset(), 3);  // producer 8's transaction is undecided
  EXPECT_EQ(f.p->last_stable_offset_snapshot(), 3);
  EXPECT_EQ(f.marker(8, false), 5);
  EXPECT_EQ(f.p->last_stable_offset(), 6);
  EXPECT_EQ(f.p->last_stable_offset_snapshot(), f.p->high_watermark());
  const auto& index = f.p->producers().aborted_index().entries();
  ASSERT_EQ(index.size(), 1u);
  EXPECT_EQ(index[0], (storage::AbortedTxn{8, 3, 5, 6}));
}

TEST(PartitionTxn, MarkersAreCheckedAgainstTheProducerState) {
  Fixture f;
  ASSERT_EQ(f.put(txn_batch(7, 2, 0, {"v"})).error, ErrorCode::none);
  auto stale = f.p->append_marker(7, 1, 1, true, 5000);
  EXPECT_EQ(stale.error, ErrorCode::invalid_producer_epoch);
  EXPECT_EQ(f.marker(7, false, 3, 4), 1);  // the coordinator fences epoch 2 with 3
  auto fenced = f.p->append_marker(7, 3, 3, true, 5000);
  EXPECT_EQ(fenced.error, ErrorCode::transaction_coordinator_fenced);
  EXPECT_EQ(f.put(txn_batch(7, 2, 1, {"zombie"})).error, ErrorCode::invalid_producer_epoch);
  // A non-transactional write during a transaction.
  f.txn(9, 0);
  std::vector<record::BuildRecord> recs{{std::string("k"), std::string("v"), {}, 1000}};
  const auto plain = f.put(record::build_batch(recs, record::Compression::none, 0, 9, 0, 1));
  EXPECT_EQ(plain.error, ErrorCode::invalid_txn_state);
  EXPECT_EQ(f.p->log_end_offset(), 3);
}

// KIP-890: with a guard required, a transactional batch of a producer with no transaction ongoing
// is appended only with the guard of its verification; the guard dies with the next marker (a
// verification answered after an abort cannot open a transaction) and the first append.
TEST(PartitionTxn, UnverifiedTransactionalBatchesAreRefused) {
  Fixture f;
  auto put = [&](std::string b, std::optional<uint64_t> guard) {
    return f.p->append(reinterpret_cast<uint8_t*>(b.data()), b.size(), 5000, false,
                       Partition::AppendOrigin::client, guard);
  };
  auto begin = [&](int32_t seq) {
    const std::string b = txn_batch(9, 0, seq, {"v"});
    return f.p->begin_txn_verification(reinterpret_cast<const uint8_t*>(b.data()), b.size(), 1);
  };
  // Not transactional: nothing to verify, and appended with no guard.
  const std::string plain_batch = batch(1);
  EXPECT_EQ(f.p->begin_txn_verification(reinterpret_cast<const uint8_t*>(plain_batch.data()),
                                        plain_batch.size(), 1)
                .guard,
            0u);
  EXPECT_EQ(put(plain_batch, uint64_t{0}).error, ErrorCode::none);

  EXPECT_EQ(put(txn_batch(9, 0, 0, {"v"}), uint64_t{0}).error, ErrorCode::invalid_txn_state);
  const auto v = begin(0);
  EXPECT_EQ(v.producer_id, 9);
  EXPECT_EQ(v.producer_epoch, 0);
  ASSERT_NE(v.guard, 0u);
  EXPECT_EQ(begin(0).guard, v.guard);  // a second request shares the verification in flight
  EXPECT_EQ(put(txn_batch(9, 0, 0, {"v"}), v.guard + 1).error, ErrorCode::invalid_txn_state);
  EXPECT_EQ(f.p->log_end_offset(), 1);
  EXPECT_EQ(put(txn_batch(9, 0, 0, {"v"}), v.guard).error, ErrorCode::none);
  // Ongoing now: no verification, and no guard needed.
  EXPECT_EQ(begin(1).guard, 0u);
  EXPECT_EQ(put(txn_batch(9, 0, 1, {"v"}), uint64_t{0}).error, ErrorCode::none);
  f.marker(9, false);

  // A verification started, then the transaction ended by a marker before its answer came back:
  // the stale guard opens nothing.
  const auto stale = begin(2);
  ASSERT_NE(stale.guard, 0u);
  EXPECT_NE(stale.guard, v.guard);
  f.p->append_marker(9, 0, 1, false, 5000);
  EXPECT_EQ(put(txn_batch(9, 0, 2, {"late"}), stale.guard).error, ErrorCode::invalid_txn_state);
  EXPECT_EQ(f.p->log_end_offset(), 5);
  EXPECT_EQ(f.p->last_stable_offset(), 5);
  // Without a guard required (verification off) the same batch opens a transaction.
  EXPECT_EQ(put(txn_batch(9, 0, 2, {"late"}), std::nullopt).error, ErrorCode::none);
  EXPECT_EQ(f.p->last_stable_offset(), 5);
}

// Kafka's lowest-sequence rule: while sequence 0 is being verified, a batch with sequence 1 that
// happens to be answered first is refused as out of order (the client retries it), so that it
// cannot be written ahead of 0.
TEST(PartitionTxn, AHigherSequenceWaitsForTheOneBeingVerified) {
  Fixture f;
  auto begin = [&](int32_t seq) {
    const std::string b = txn_batch(9, 0, seq, {"v"});
    return f.p->begin_txn_verification(reinterpret_cast<const uint8_t*>(b.data()), b.size(), 1)
        .guard;
  };
  auto put = [&](int32_t seq, uint64_t guard) {
    std::string b = txn_batch(9, 0, seq, {"v"});
    return f.p->append(reinterpret_cast<uint8_t*>(b.data()), b.size(), 5000, false,
                       Partition::AppendOrigin::client, guard);
  };
  const uint64_t guard = begin(1);
  EXPECT_EQ(begin(0), guard);  // the lower sequence becomes the one to wait for
  EXPECT_EQ(put(1, guard).error, ErrorCode::out_of_order_sequence_number);
  EXPECT_EQ(f.p->log_end_offset(), 0);
  EXPECT_EQ(put(0, guard).error, ErrorCode::none);
  EXPECT_EQ(put(1, 0).error, ErrorCode::none);  // in the transaction now
}

TEST(PartitionTxn, ReadCommittedStopsAtTheLastStableOffsetAndListsAborts) {
  Fixture f;
  f.txn(7, 0, 2);      // 0-1, aborted below
  f.marker(7, false);  // 2
  f.txn(8, 0);         // 3, ongoing
  f.plain();           // 4
  ASSERT_EQ(f.p->last_stable_offset(), 3);

  auto uncommitted = f.p->read(0, 1 << 20, true);
  EXPECT_EQ(uncommitted.last_stable_offset, 3);
  EXPECT_EQ(headers(uncommitted).size(), 4u);
  EXPECT_TRUE(uncommitted.aborted.empty());

  auto committed = f.p->read(0, 1 << 20, true, false, kCommitted);
  ASSERT_EQ(committed.error, ErrorCode::none);
  EXPECT_EQ(committed.high_watermark, 5);
  EXPECT_EQ(committed.last_stable_offset, 3);
  const auto hs = headers(committed);
  ASSERT_EQ(hs.size(), 2u);  // the aborted batch and its marker
  EXPECT_EQ(hs.back().base_offset, 2);
  EXPECT_EQ(aborted(committed), (std::vector<std::pair<int64_t, int64_t>>{{7, 0}}));

  // At the LSO: nothing to read, no error, no aborts.
  auto at_lso = f.p->read(3, 1 << 20, true, false, kCommitted);
  EXPECT_EQ(at_lso.error, ErrorCode::none);
  EXPECT_EQ(at_lso.bytes, 0);
  EXPECT_TRUE(at_lso.aborted.empty());
  // Between the LSO and the high watermark: nothing either (not OFFSET_OUT_OF_RANGE).
  auto above_lso = f.p->read(4, 1 << 20, true, false, kCommitted);
  EXPECT_EQ(above_lso.error, ErrorCode::none);
  EXPECT_EQ(above_lso.bytes, 0);
  EXPECT_EQ(f.p->read(6, 1 << 20, true, false, kCommitted).error, ErrorCode::offset_out_of_range);
}

TEST(PartitionTxn, AbortedListIsBoundedByTheDataRead) {
  Fixture f;
  f.txn(7, 0);         // 0
  f.marker(7, false);  // 1
  f.txn(8, 0);         // 2
  f.marker(8, false);  // 3
  // One batch only (max_bytes 1, min_one_batch): the upper bound is offset 1.
  auto one = f.p->read(0, 1, true, false, kCommitted);
  ASSERT_EQ(headers(one).size(), 1u);
  EXPECT_EQ(aborted(one), (std::vector<std::pair<int64_t, int64_t>>{{7, 0}}));
  auto all = f.p->read(0, 1 << 20, true, false, kCommitted);
  EXPECT_EQ(aborted(all), (std::vector<std::pair<int64_t, int64_t>>{{7, 0}, {8, 2}}));
  auto later = f.p->read(2, 1 << 20, true, false, kCommitted);
  EXPECT_EQ(aborted(later), (std::vector<std::pair<int64_t, int64_t>>{{8, 2}}));
}

TEST(PartitionTxn, ParkedReadCommittedFetchWakesWhenTheLastStableOffsetPasses) {
  Fixture f;
  f.txn(7, 0);  // 0
  auto committed = std::make_shared<CountingWaiter>();
  auto uncommitted = std::make_shared<CountingWaiter>();
  f.p->add_waiter(0, committed, false, kCommitted);
  f.p->add_waiter(1, uncommitted);
  f.plain();  // 1: the high watermark moves, the LSO does not
  EXPECT_EQ(uncommitted->fired, 1);
  EXPECT_EQ(committed->fired, 0);
  f.marker(7, true);
  EXPECT_EQ(committed->fired, 1);
}

TEST(PartitionTxn, TruncationForgetsAbortsAndMarkersAboveIt) {
  Fixture f;
  f.txn(7, 0);         // 0
  f.marker(7, false);  // 1
  f.plain();           // 2
  ASSERT_EQ(f.p->producers().aborted_index().entries().size(), 1u);
  ASSERT_TRUE(f.p->truncate_to(1));
  EXPECT_TRUE(f.p->producers().aborted_index().entries().empty());
  EXPECT_EQ(f.p->last_stable_offset(), 0);  // the transaction is undecided again
  EXPECT_EQ(f.marker(7, true), 1);
  EXPECT_EQ(f.p->last_stable_offset(), 2);
  EXPECT_TRUE(f.p->producers().aborted_index().entries().empty());
}

// Recovery after a clean close and after a crash keeps ongoing transactions (the LSO) and the
// aborted index, with rolls (snapshots) between the abort and the end of the log.
TEST(PartitionTxn, RecoveryKeepsTransactionsAndAborts) {
  for (const bool crash : {false, true}) {
    SCOPED_TRACE(crash ? "crash" : "close");
    PartitionConfig cfg;
    cfg.log.segment_bytes = 300;
    Fixture f(cfg);
    f.txn(7, 0);         // 0
    f.marker(7, false);  // 1
    f.txn(8, 0);         // 2, ongoing
    for (int i = 0; i < 8; ++i) f.plain();
    ASSERT_GT(f.p->producers().replayed_from(), -1);
    const int64_t end = f.p->log_end_offset();
    ASSERT_EQ(f.p->last_stable_offset(), 2);
    if (crash) {
      f.p.reset();  // no close: as a crash leaves the files (minus the page cache)
    } else {
      std::string error;
      ASSERT_TRUE(f.p->close(&error)) << error;
      f.p.reset();
    }
    f.open();
    EXPECT_EQ(f.p->log_end_offset(), end);
    EXPECT_EQ(f.p->last_stable_offset(), 2);
    EXPECT_EQ(f.p->producers().ongoing_transactions(), 1u);
    auto r = f.p->read(0, 1 << 20, true, false, kCommitted);
    EXPECT_EQ(aborted(r), (std::vector<std::pair<int64_t, int64_t>>{{7, 0}}));
    f.marker(8, true);
    EXPECT_EQ(f.p->last_stable_offset(), f.p->log_end_offset());
  }
}

TEST(PartitionTxn, FollowerReplicatesMarkersLikeTheLeader) {
  Fixture f;
  PartitionState s;
  s.replicas = {1, 2};
  s.isr = {1, 2};
  s.leader = 2;
  s.leader_epoch = 1;
  s.partition_epoch = 1;
  f.p->make_follower(s);
  EXPECT_EQ(f.p->append_marker(7, 0, 1, true, 5000).error, ErrorCode::not_leader_or_follower);
  std::string data = txn_batch(7, 0, 0, {"a", "b"}, "k", 0) + txn_batch(8, 0, 0, {"c"}, "k", 2);
  auto m = record::build_end_txn_marker(7, 0, {record::ControlType::abort, 1}, 1000);
  auto* mp = reinterpret_cast<uint8_t*>(m.data());
  record::set_base_offset(mp, 3);
  data += m;
  auto a =
      f.p->append_replicated(reinterpret_cast<uint8_t*>(data.data()), data.size(), 4, 0, 1, 5000);
  ASSERT_EQ(a.error, ErrorCode::none) << a.message;
  EXPECT_EQ(f.p->high_watermark(), 4);
  EXPECT_EQ(f.p->last_stable_offset(), 2);  // producer 8's transaction is open
  ASSERT_EQ(f.p->producers().aborted_index().entries().size(), 1u);
  EXPECT_EQ(f.p->producers().aborted_index().entries()[0], (storage::AbortedTxn{7, 0, 3, 2}));
  // A consumer reading from this follower (KIP-392) with read_committed.
  auto r = f.p->read(0, 1 << 20, true, true, kCommitted);
  ASSERT_EQ(r.error, ErrorCode::none);
  EXPECT_EQ(headers(r).size(), 1u);
  EXPECT_EQ(aborted(r), (std::vector<std::pair<int64_t, int64_t>>{{7, 0}}));
}

// On a LogAppendTime topic a marker gets the append time too, as Kafka's validator gives it every
// batch.
TEST(PartitionTxn, MarkersGetTheLogAppendTime) {
  PartitionConfig cfg;
  cfg.timestamp_type = record::TimestampType::log_append_time;
  Fixture f(cfg);
  f.txn(7, 0);
  const auto a = f.p->append_marker(7, 0, 1, true, 7777);
  ASSERT_EQ(a.error, ErrorCode::none) << a.message;
  EXPECT_EQ(a.log_append_time, 7777);
  const auto hs = headers(f.p->read(0, 1 << 20, true));
  ASSERT_EQ(hs.size(), 2u);
  EXPECT_TRUE(hs[1].is_control());
  EXPECT_EQ(hs[1].timestamp_type(), record::TimestampType::log_append_time);
  EXPECT_EQ(hs[1].max_timestamp, 7777);
}

// A compacted topic with small segments.
PartitionConfig compacted() {
  PartitionConfig cfg;
  cfg.compact = true;
  cfg.cleanup_delete = false;
  cfg.log.segment_bytes = 400;
  return cfg;
}

// One log cleaner round over the whole log at now_ms, installed (as CleanerManager does).
void clean(Fixture& f, int64_t now_ms, int64_t delete_retention_ms = 86400000) {
  auto snap = f.p->cleaning_snapshot();
  ASSERT_TRUE(snap);
  storage::CleanerTopicConfig eager;
  eager.min_cleanable_dirty_ratio = 0;
  eager.delete_retention_ms = delete_retention_ms;
  const auto range = storage::dirty_range(snap->view, -1, snap->high_watermark, now_ms, eager);
  storage::OffsetMap map(1 << 20, 1000);
  std::atomic<bool> stop{false};
  const auto out = storage::clean_log(snap->view, range, eager, now_ms, map, stop);
  ASSERT_EQ(out.status, storage::CleanOutcome::Status::cleaned) << out.error;
  std::string error;
  ASSERT_EQ(f.p->install_cleaned(out.cleaned, &error), storage::SwapOutcome::swapped) << error;
}

// Non-transactional records of other keys, enough to roll the segments of these tests.
void fill(Fixture& f, const std::string& prefix, int n = 12) {
  for (int i = 0; i < n; ++i) {
    std::vector<record::BuildRecord> recs{{prefix + std::to_string(i), std::string("v"), {}, 1000}};
    ASSERT_EQ(f.put(record::build_batch(recs, record::Compression::none)).error, ErrorCode::none);
  }
}

struct MarkerSeen {
  int64_t offset;
  int32_t records;  // 0: the marker record went, the batch stays for its producer
  int64_t horizon;  // the delete horizon a cleaning stamped, -1 when none
  bool operator==(const MarkerSeen&) const = default;
  friend std::ostream& operator<<(std::ostream& os, const MarkerSeen& m) {
    return os << "{offset " << m.offset << ", records " << m.records << ", horizon " << m.horizon
              << "}";
  }
};

std::vector<MarkerSeen> markers(Fixture& f) {
  std::vector<MarkerSeen> out;
  for (const auto& h : headers(f.p->read(0, 1 << 20, true))) {
    if (!h.is_control()) continue;
    out.push_back({h.base_offset, h.records_count, h.has_delete_horizon() ? h.base_timestamp : -1});
  }
  return out;
}

// Without the aborted ranges the cleaner would map the aborted record (the later one) and drop
// the committed value.
TEST(PartitionTxn, CleanerKeepsTheCommittedValueOverALaterAbortedWrite) {
  Fixture f(compacted());
  f.txn(7, 0, 1, "x", "committed");  // 0
  f.marker(7, true);                 // 1
  f.txn(8, 0, 1, "x", "aborted");    // 2
  f.marker(8, false);                // 3
  fill(f, "y");
  ASSERT_EQ(f.p->cleaning_snapshot()->view.aborted.size(), 1u);
  clean(f, 1'000'000);

  std::vector<std::string> values;  // of key "x", in offset order
  int control_batches = 0;
  const auto r = f.p->read(0, 1 << 20, true);
  for (const auto& range_ : r.records.files) {
    std::string bytes(range_.length, '\0');
    ASSERT_EQ(::pread(range_.fd, bytes.data(), range_.length, range_.offset),
              static_cast<ssize_t>(range_.length));
    std::string scratch;
    for (size_t pos = 0; pos < bytes.size();) {
      const auto* p = reinterpret_cast<const uint8_t*>(bytes.data()) + pos;
      record::BatchHeader h;
      record::parse_header(p, bytes.size() - pos, h);
      if (h.is_control()) {
        ++control_batches;
      } else {
        record::for_each_record(p, h.total_size(), scratch, [&](const record::Record& rec) {
          if (rec.key == "x") values.emplace_back(*rec.value);
        });
      }
      pos += h.total_size();
    }
  }
  EXPECT_EQ(values, std::vector<std::string>{"committed"});
  EXPECT_EQ(control_batches,
            2);  // both stay: this cleaning passed the records of both transactions
}

// Kafka's rule: a marker goes once no record batch of its transaction is left before it. The
// first cleaning that finds it so stamps a delete horizon (now + delete.retention.ms), and a
// cleaning after the horizon removes its record; the batch stays, empty, while it is its
// producer's last. An aborted transaction's entry leaves the aborted index with its marker.
TEST(PartitionTxn, CleanerRemovesMarkersOnceTheirTransactionsAreGone) {
  Fixture f(compacted());
  f.txn(8, 0, 1, "x", "aborted");  // 0
  f.marker(8, false);              // 1
  f.txn(7, 0, 1, "y", "old");      // 2: overwritten below, so the cleaning removes its batch
  f.marker(7, true);               // 3
  f.txn(9, 0, 1, "z", "kept");     // 4: the latest value of z
  f.marker(9, true);               // 5
  fill(f, "w");
  std::vector<record::BuildRecord> y{{"y", std::string("new"), {}, 1000}};
  ASSERT_EQ(f.put(record::build_batch(y, record::Compression::none)).error, ErrorCode::none);
  fill(f, "v");
  ASSERT_EQ(f.p->producers().aborted_index().entries().size(), 1u);

  // This cleaning removes the aborted record and y's old one, and passes both transactions'
  // batches on its way: every marker stays as it was.
  clean(f, 1'000'000, 5000);
  EXPECT_EQ(markers(f), (std::vector<MarkerSeen>{{1, 1, -1}, {3, 1, -1}, {5, 1, -1}}));
  // The next one finds the first two transactions empty and stamps their markers.
  clean(f, 1'000'000, 5000);
  EXPECT_EQ(markers(f),
            (std::vector<MarkerSeen>{{1, 1, 1'005'000}, {3, 1, 1'005'000}, {5, 1, -1}}));
  // Before the horizon nothing changes; at it the two markers' records go.
  clean(f, 1'004'999, 5000);
  EXPECT_EQ(markers(f),
            (std::vector<MarkerSeen>{{1, 1, 1'005'000}, {3, 1, 1'005'000}, {5, 1, -1}}));
  EXPECT_EQ(f.p->producers().aborted_index().entries().size(), 1u);
  clean(f, 1'005'000, 5000);
  EXPECT_EQ(markers(f),
            (std::vector<MarkerSeen>{{1, 0, 1'005'000}, {3, 0, 1'005'000}, {5, 1, -1}}));
  EXPECT_TRUE(f.p->producers().aborted_index().entries().empty());
  EXPECT_TRUE(f.p->read(0, 1 << 20, true, false, kCommitted).aborted.empty());

  // The producers' batches stay for their state; after a restart no transaction is open.
  std::string error;
  ASSERT_TRUE(f.p->close(&error)) << error;
  f.p.reset();
  f.open();
  EXPECT_EQ(f.p->producers().ongoing_transactions(), 0u);
  EXPECT_EQ(f.p->last_stable_offset(), f.p->log_end_offset());
  EXPECT_TRUE(f.p->producers().aborted_index().entries().empty());
  ASSERT_NE(f.p->producers().find(8), nullptr);
  // A batch left empty goes once it is no longer its producer's last.
  f.txn(8, 1, 1, "u", "again");
  f.marker(8, true);
  fill(f, "t");
  clean(f, 1'005'000, 5000);
  const auto left = markers(f);
  ASSERT_FALSE(left.empty());
  EXPECT_NE(left.front().offset, 1);
}

}  // namespace
}  // namespace kaffa::cluster
