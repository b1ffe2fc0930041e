// Partition roles on a real log and flusher: a leader's high watermark from simulated follower
// fetches, acks=all completion, ISR shrink and expansion through a recording AlterPartition, and
// a follower's appends and truncation.
#include <gtest/gtest.h>

#include "cluster/partition.h"
#include "cluster/replica_fetcher.h"
#include "partition_testing.h"
#include "record/batch.h"
#include "storage_dir.h"

namespace kaffa::cluster {
namespace {

using protocol::ErrorCode;

// Records proposals; the test answers them (as the metadata store would) with answer().
struct FakeStore {
  std::vector<PartitionState> proposed;
  std::vector<AlterPartitionDone> pending;
  AlterPartition hook() {
    return [this](const std::string&, int32_t, const PartitionState& s, AlterPartitionDone done) {
      proposed.push_back(s);
      pending.push_back(std::move(done));
    };
  }
  void accept() {
    PartitionState s = proposed.back();
    s.partition_epoch += 1;
    s.store_version += 1;
    auto done = std::move(pending.back());
    pending.clear();
    done(ErrorCode::none, s);
  }
};

class CountingWaiter : public FetchWaiter {
 public:
  void fire() override { ++fired; }
  int fired = 0;
};

PartitionState state(int32_t leader, int32_t epoch, std::vector<int32_t> isr) {
  PartitionState s;
  s.replicas = {1, 2, 3};
  s.isr = std::move(isr);
  s.leader = leader;
  s.leader_epoch = epoch;
  s.partition_epoch = 1;
  s.store_version = 1;
  return s;
}

struct Fixture {
  testing::TempDir dir;
  storage::Flusher flusher;
  Loop loop;
  FakeStore store;
  std::shared_ptr<Partition::IsrChangeCounters> isr_changes =
      std::make_shared<Partition::IsrChangeCounters>();
  std::unique_ptr<Partition> p;

  explicit Fixture(int32_t min_isr = 2) {
    PartitionConfig cfg;
    cfg.min_insync_replicas = min_isr;
    std::string error;
    auto log = storage::Log::open(dir.path() / "t-0", cfg.log, 0, &error);
    EXPECT_TRUE(log) << error;
    p = std::make_unique<Partition>("t", 0, 0, std::move(log), cfg, flusher,
                                    [this](size_t, std::function<void()> fn) { loop.post(fn); });
    p->set_replication({100, store.hook(), isr_changes});
  }
  ~Fixture() { flusher.stop(); }  // a flush still in flight posts to the loop
  Partition::AppendOutcome append(int n, bool acks_all = true) {
    std::string b = batch(n);
    return p->append(reinterpret_cast<uint8_t*>(b.data()), b.size(), 5000, acks_all);
  }
  // A follower's fetch; returns the bytes it got.
  int64_t fetch(int32_t replica, int64_t offset, int64_t now_ms = 1000) {
    auto r = p->read_for_follower(replica, offset, 1 << 20, true, now_ms);
    EXPECT_EQ(r.error, ErrorCode::none);
    return r.bytes;
  }
  // Drains posted work (AlterPartition answers, flushes) until `done` or a timeout.
  template <class Pred>
  bool settle(Pred done) {
    return loop.run_until(done);
  }
};

TEST(PartitionReplication, LeaderHighWatermarkIsTheSlowestInSyncReplica) {
  Fixture f;
  f.p->make_leader(state(1, 1, {1, 2, 3}), 1, 1000);
  ASSERT_TRUE(f.p->is_leader());
  EXPECT_EQ(f.p->leader_epoch(), 1);
  ASSERT_EQ(f.append(3).base_offset, 0);
  EXPECT_EQ(f.p->high_watermark(), 0);  // no follower has it yet
  EXPECT_GT(f.fetch(2, 0), 0);          // replica 2 reads the batch (up to the log end)
  f.fetch(2, 3);                        // and has it now
  EXPECT_EQ(f.p->high_watermark(), 0);  // replica 3 has not fetched: it holds the watermark
  f.fetch(3, 2);
  EXPECT_EQ(f.p->high_watermark(), 2);
  f.fetch(3, 3);
  EXPECT_EQ(f.p->high_watermark(), 3);
  EXPECT_EQ(f.p->high_watermark_snapshot(), 3);
  // Consumers read only below the watermark; followers up to the log end.
  f.append(2);
  EXPECT_EQ(f.p->read(3, 1 << 20, true).bytes, 0);
  EXPECT_GT(f.fetch(2, 3), 0);
}

TEST(PartitionReplication, AcksAllCompletesWhenTheIsrHasTheBatchWithoutALocalSync) {
  Fixture f;
  f.p->make_leader(state(1, 0, {1, 2, 3}), 1, 1000);
  const auto a = f.append(2);
  ASSERT_EQ(a.error, ErrorCode::none);
  std::optional<ErrorCode> result;
  f.p->when_replicated(a.last_offset + 1, [&](ErrorCode e) { result = e; });
  f.fetch(2, 2);
  EXPECT_FALSE(result.has_value());
  f.fetch(3, 2);
  // At once, as in Kafka: the other replicas' copies make it durable, not an fsync.
  ASSERT_TRUE(result.has_value()) << "acks=all waited for more than the ISR";
  EXPECT_EQ(*result, ErrorCode::none);
  EXPECT_EQ(f.p->recovery_point_snapshot(), 0);
}

TEST(PartitionReplication, AcksAllWithTheLeaderAloneInTheIsrWaitsForTheLocalSync) {
  Fixture f(1);
  f.p->make_leader(state(1, 0, {1}), 1, 1000);
  const auto a = f.append(2);
  ASSERT_EQ(a.error, ErrorCode::none);
  EXPECT_EQ(f.p->high_watermark(), 2);  // an ISR of one: replicated as soon as appended
  std::optional<ErrorCode> result;
  f.p->when_replicated(a.last_offset + 1, [&](ErrorCode e) { result = e; });
  EXPECT_FALSE(result.has_value()) << "no other copy exists, yet acks=all did not wait for a sync";
  ASSERT_TRUE(f.settle([&] { return result.has_value(); }));
  EXPECT_EQ(*result, ErrorCode::none);
  EXPECT_GE(f.p->recovery_point_snapshot(), 2);
}

TEST(PartitionReplication, AcksAllWaitsForTheLocalSyncOnceTheIsrShrankToTheLeader) {
  Fixture f(1);
  f.p->make_leader(state(1, 0, {1, 2}), 1, 1000);
  const auto a = f.append(1);
  std::optional<ErrorCode> result;
  f.p->when_replicated(a.last_offset + 1, [&](ErrorCode e) { result = e; });
  f.p->on_tick(1500);  // replica 2 never fetched: the ISR shrinks to the leader
  ASSERT_EQ(f.store.proposed.size(), 1u);
  f.store.accept();
  ASSERT_TRUE(f.settle([&] { return result.has_value(); }));
  EXPECT_EQ(*result, ErrorCode::none);
  EXPECT_GE(f.p->recovery_point_snapshot(), 1) << "acked with the leader's copy alone, unsynced";
}

TEST(PartitionReplication, AcksAllIsRefusedBelowMinInsyncReplicas) {
  Fixture f(2);
  f.p->make_leader(state(1, 0, {1}), 1, 1000);
  EXPECT_EQ(f.p->append_refusal(true), ErrorCode::not_enough_replicas);  // said beforehand
  EXPECT_EQ(f.p->append_refusal(false), ErrorCode::none);
  const auto refused = f.append(1, true);
  EXPECT_EQ(refused.error, ErrorCode::not_enough_replicas);
  EXPECT_EQ(f.p->log_end_offset(), 0);  // nothing written
  const auto acks_one = f.append(1, false);
  EXPECT_EQ(acks_one.error, ErrorCode::none);
  EXPECT_EQ(f.p->high_watermark(), 1);  // an ISR of one: the watermark follows the log end
  f.p->make_leader(state(1, 0, {1, 2}), 1, 1000);  // the ISR grew back (same epoch)
  EXPECT_EQ(f.p->append_refusal(true), ErrorCode::none);
  f.p->make_follower(state(2, 1, {1, 2}));
  EXPECT_EQ(f.p->append_refusal(false), ErrorCode::not_leader_or_follower);
}

TEST(PartitionReplication, LaggingFollowerLeavesTheIsrAndTheWatermarkMoves) {
  Fixture f(2);
  f.p->make_leader(state(1, 0, {1, 2, 3}), 1, 1000);
  const auto a = f.append(2);
  std::optional<ErrorCode> result;
  f.p->when_replicated(a.last_offset + 1, [&](ErrorCode e) { result = e; });
  f.fetch(2, 2, 1050);
  f.p->on_tick(1080);  // within replica.lag.time.max.ms (100)
  EXPECT_TRUE(f.store.proposed.empty());
  f.p->on_tick(1200);  // replica 3 silent for 200 ms; replica 2 is at the log end
  ASSERT_EQ(f.store.proposed.size(), 1u);
  EXPECT_EQ(f.store.proposed[0].isr, (std::vector<int32_t>{1, 2}));
  EXPECT_EQ(f.store.proposed[0].leader_epoch, 0);
  f.p->on_tick(1300);  // one proposal in flight at a time
  EXPECT_EQ(f.store.proposed.size(), 1u);
  f.store.accept();
  ASSERT_TRUE(f.settle([&] { return result.has_value(); }));
  EXPECT_EQ(*result, ErrorCode::none);  // ISR {1,2} still meets min.insync.replicas
  EXPECT_EQ(f.p->high_watermark(), 2);
  EXPECT_EQ(f.p->state().isr, (std::vector<int32_t>{1, 2}));
  EXPECT_EQ(f.p->state().partition_epoch, 2);
  // What /metrics reports: one shrink, an ISR of 2 out of 3 replicas.
  EXPECT_EQ(f.isr_changes->shrinks.load(), 1);
  EXPECT_EQ(f.isr_changes->expands.load(), 0);
  EXPECT_EQ(f.p->isr_snapshot(), 2);
  EXPECT_EQ(f.p->replicas_snapshot(), 3);
  EXPECT_EQ(f.p->min_isr_snapshot(), 2);
}

TEST(PartitionReplication, IsrFallingBelowMinInsyncFailsTheWaiterAfterAppend) {
  Fixture f(2);
  f.p->make_leader(state(1, 0, {1, 2}), 1, 1000);
  const auto a = f.append(1);
  ASSERT_EQ(a.error, ErrorCode::none);
  std::optional<ErrorCode> result;
  f.p->when_replicated(a.last_offset + 1, [&](ErrorCode e) { result = e; });
  f.p->on_tick(1500);  // replica 2 never fetched
  ASSERT_EQ(f.store.proposed.size(), 1u);
  f.store.accept();
  ASSERT_TRUE(f.settle([&] { return result.has_value(); }));
  EXPECT_EQ(*result, ErrorCode::not_enough_replicas_after_append);
  EXPECT_EQ(f.append(1).error, ErrorCode::not_enough_replicas);
}

TEST(PartitionReplication, CaughtUpFollowerRejoinsTheIsr) {
  Fixture f(1);
  f.p->make_leader(state(1, 0, {1, 2}), 1, 1000);
  f.append(3);
  f.fetch(2, 3);
  EXPECT_EQ(f.p->high_watermark(), 3);
  f.fetch(3, 1);  // behind the watermark: stays out
  EXPECT_TRUE(f.store.proposed.empty());
  f.fetch(3, 3);
  ASSERT_EQ(f.store.proposed.size(), 1u);
  EXPECT_EQ(f.store.proposed[0].isr, (std::vector<int32_t>{1, 2, 3}));
  // While the expansion is pending the joining replica already counts for the watermark.
  f.append(1);
  f.fetch(2, 4);
  EXPECT_EQ(f.p->high_watermark(), 3);
  f.store.accept();
  ASSERT_TRUE(f.settle([&] { return f.p->state().isr.size() == 3; }));
  f.fetch(3, 4);
  EXPECT_EQ(f.p->high_watermark(), 4);
  EXPECT_EQ(f.isr_changes->expands.load(), 1);
  EXPECT_EQ(f.isr_changes->shrinks.load(), 0);
  EXPECT_EQ(f.p->isr_snapshot(), 3);
}

TEST(PartitionReplication, RefusedIsrChangeFallsBackToTheCommittedIsr) {
  Fixture f(1);
  f.p->make_leader(state(1, 0, {1, 2}), 1, 1000);
  f.append(1);
  f.fetch(2, 1);
  f.fetch(3, 1);
  ASSERT_EQ(f.store.proposed.size(), 1u);
  auto done = std::move(f.store.pending.back());
  f.store.pending.clear();
  done(ErrorCode::invalid_update_version, {});
  bool drained = false;
  f.loop.post([&] { drained = true; });  // after the answer's hand-off to the owner loop
  ASSERT_TRUE(f.settle([&] { return drained; }));
  EXPECT_EQ(f.p->state().isr, (std::vector<int32_t>{1, 2}));
  EXPECT_TRUE(f.store.pending.empty());
  f.fetch(3, 1);  // no new proposal before the next tick
  EXPECT_EQ(f.store.proposed.size(), 1u);
  f.p->on_tick(1100);
  f.fetch(3, 1, 1100);  // still caught up: proposed again
  ASSERT_EQ(f.store.proposed.size(), 2u);
  EXPECT_EQ(f.store.proposed[1].isr, (std::vector<int32_t>{1, 2, 3}));
}

TEST(PartitionReplication, LosingLeadershipFailsWaitersAndRefusesClients) {
  Fixture f;
  f.p->make_leader(state(1, 0, {1, 2}), 1, 1000);
  const auto a = f.append(1);
  std::optional<ErrorCode> result;
  f.p->when_replicated(a.last_offset + 1, [&](ErrorCode e) { result = e; });
  f.p->make_follower(state(2, 1, {1, 2}));
  ASSERT_TRUE(result.has_value());
  EXPECT_EQ(*result, ErrorCode::not_leader_or_follower);
  EXPECT_FALSE(f.p->is_leader());
  EXPECT_EQ(f.p->leader_epoch(), 1);
  EXPECT_EQ(f.append(1, false).error, ErrorCode::not_leader_or_follower);
  EXPECT_EQ(f.p->read(0, 1 << 20, true).error, ErrorCode::not_leader_or_follower);
  EXPECT_EQ(f.p->read_for_follower(3, 0, 1 << 20, true, 1000).error,
            ErrorCode::not_leader_or_follower);
}

TEST(PartitionReplication, GoingOfflineFailsWaitersAndRefusesClientsAndFollowers) {
  Fixture f;
  f.p->make_leader(state(1, 0, {1, 2}), 1, 1000);
  const auto a = f.append(1);
  std::optional<ErrorCode> result;
  f.p->when_replicated(a.last_offset + 1, [&](ErrorCode e) { result = e; });
  f.p->take_offline();  // its log directory failed
  ASSERT_TRUE(result.has_value()) << "an acks=all produce kept waiting on an offline leader";
  EXPECT_EQ(*result, ErrorCode::kafka_storage_error);
  EXPECT_TRUE(f.p->offline());
  EXPECT_EQ(f.append(1, false).error, ErrorCode::kafka_storage_error);
  EXPECT_EQ(f.p->read(0, 1 << 20, true).error, ErrorCode::kafka_storage_error);
  // A follower's fetch moves nothing: no watermark, no ISR change from an offline log.
  EXPECT_EQ(f.p->read_for_follower(2, 1, 1 << 20, true, 1000).error,
            ErrorCode::kafka_storage_error);
  EXPECT_EQ(f.p->high_watermark_snapshot(), 0);
}

TEST(PartitionReplication, ParkedFetchesWakeOnLogEndForFollowersAndWatermarkForConsumers) {
  Fixture f(1);
  f.p->make_leader(state(1, 0, {1, 2}), 1, 1000);
  auto follower = std::make_shared<CountingWaiter>();
  auto consumer = std::make_shared<CountingWaiter>();
  f.p->add_replica_waiter(0, follower);
  f.p->add_waiter(0, consumer);
  f.append(1);
  EXPECT_EQ(follower->fired, 1);  // the log end moved
  EXPECT_EQ(consumer->fired, 0);  // the watermark did not (replica 2 has not fetched)
  f.fetch(2, 1);
  EXPECT_EQ(consumer->fired, 1);
  EXPECT_EQ(f.p->high_watermark(), 1);
}

// A batch as the leader of `epoch` stored it at `base`.
std::string leader_batch(int64_t base, int32_t epoch, int n, int64_t pid = -1) {
  std::vector<record::BuildRecord> recs;
  for (int i = 0; i < n; ++i) recs.push_back({std::string("k"), std::string("v"), {}, 1000 + i});
  record::BuildOptions opts;
  if (pid >= 0) {
    opts.producer_id = pid;
    opts.producer_epoch = 0;
    opts.base_sequence = 0;
  }
  std::string b = record::build_batch(recs, opts);
  record::set_base_offset(reinterpret_cast<uint8_t*>(b.data()), base);
  record::set_partition_leader_epoch(reinterpret_cast<uint8_t*>(b.data()), epoch);
  return b;
}

TEST(PartitionReplication, AFollowerServesConsumersUpToItsHighWatermarkWhenAllowed) {
  Fixture f;
  f.p->make_follower(state(2, 1, {1, 2}));
  auto waiter = std::make_shared<CountingWaiter>();
  f.p->add_waiter(0, waiter, true);  // parked: nothing committed yet
  EXPECT_EQ(waiter->fired, 0);
  std::string b = leader_batch(0, 0, 3) + leader_batch(3, 1, 2);
  ASSERT_EQ(
      f.p->append_replicated(reinterpret_cast<uint8_t*>(b.data()), b.size(), 4, 0, 1, 5000).error,
      ErrorCode::none);
  EXPECT_EQ(waiter->fired, 1) << "the high watermark passed it";
  EXPECT_EQ(f.p->read(0, 1 << 20, true).error, ErrorCode::not_leader_or_follower)
      << "only consumers that may read from followers (Fetch v11+)";
  auto r = f.p->read(0, 1 << 20, true, true);
  ASSERT_EQ(r.error, ErrorCode::none);
  EXPECT_EQ(r.high_watermark, 4);
  EXPECT_GT(r.bytes, 0);
  r = f.p->read(4, 1 << 20, true, true);  // above the watermark, below the log end
  EXPECT_EQ(r.error, ErrorCode::none);
  EXPECT_EQ(r.bytes, 0);
  EXPECT_EQ(f.p->read(6, 1 << 20, true, true).error, ErrorCode::offset_out_of_range);
}

TEST(PartitionReplication, FollowerAppendsAndTruncatesConsistently) {
  Fixture f;
  f.p->make_follower(state(2, 1, {1, 2}));
  std::string b = leader_batch(0, 0, 3) + leader_batch(3, 1, 2, 7);
  auto r = f.p->append_replicated(reinterpret_cast<uint8_t*>(b.data()), b.size(), 4, 0, 1, 5000);
  ASSERT_EQ(r.error, ErrorCode::none);
  EXPECT_EQ(f.p->log_end_offset(), 5);
  EXPECT_EQ(f.p->high_watermark(), 4);  // the leader's
  EXPECT_EQ(f.p->latest_epoch(), 1);
  EXPECT_EQ(f.p->end_offset_for_epoch(0), (std::pair<int32_t, int64_t>{0, 3}));
  ASSERT_NE(f.p->producers().find(7), nullptr);

  // A leader of another epoch meanwhile: the fetched data is refused.
  std::string late = leader_batch(5, 1, 1);
  EXPECT_EQ(
      f.p->append_replicated(reinterpret_cast<uint8_t*>(late.data()), late.size(), 5, 0, 0, 5000)
          .error,
      ErrorCode::fenced_leader_epoch);

  ASSERT_TRUE(f.p->truncate_to(3));
  EXPECT_EQ(f.p->log_end_offset(), 3);
  EXPECT_EQ(f.p->high_watermark(), 3);
  EXPECT_EQ(f.p->latest_epoch(), 0);             // epoch 1 started at 3: gone with its batch
  EXPECT_EQ(f.p->producers().find(7), nullptr);  // its only batch was cut

  std::string again = leader_batch(3, 2, 1);
  EXPECT_EQ(
      f.p->append_replicated(reinterpret_cast<uint8_t*>(again.data()), again.size(), 9, 0, 1, 5000)
          .error,
      ErrorCode::none);
  EXPECT_EQ(f.p->latest_epoch(), 2);
  EXPECT_EQ(f.p->high_watermark(), 4);  // capped at the log end

  ASSERT_TRUE(f.p->truncate_fully_and_start_at(10));
  EXPECT_EQ(f.p->log_start_offset(), 10);
  EXPECT_EQ(f.p->log_end_offset(), 10);
}

// Follows broker 2 in epoch 1 and appends its two records (offsets 0-1) with the leader's
// high watermark `leader_hw`.
ErrorCode follow_two_records(Fixture& f, int64_t leader_hw) {
  f.p->make_follower(state(2, 1, {1, 2}));
  std::string b = leader_batch(0, 1, 2);
  return f.p
      ->append_replicated(reinterpret_cast<uint8_t*>(b.data()), b.size(), leader_hw, 0, 1, 5000)
      .error;
}

TEST(PartitionReplication, FollowerBecomingLeaderStartsANewEpochAtItsLogEnd) {
  Fixture f(1);
  ASSERT_EQ(follow_two_records(f, 1), ErrorCode::none);
  f.p->make_leader(state(1, 2, {1}), 1, 2000);
  EXPECT_EQ(f.p->end_offset_for_epoch(1), (std::pair<int32_t, int64_t>{1, 2}));
  EXPECT_EQ(f.p->end_offset_for_epoch(2), (std::pair<int32_t, int64_t>{2, 2}));
  EXPECT_EQ(f.p->high_watermark(), 2);  // an ISR of one
  EXPECT_EQ(f.append(1).base_offset, 2);
}

TEST(PartitionReplication, FollowerLagIsTheLeadersWatermarkAheadOfTheLogEnd) {
  Fixture f(1);
  ASSERT_EQ(follow_two_records(f, 10), ErrorCode::none);
  EXPECT_EQ(f.p->follower_lag_snapshot(), 8);  // the leader's watermark 10, log end 2
  f.p->follow_leader(2, 0);                    // an empty answer: caught up
  EXPECT_EQ(f.p->follower_lag_snapshot(), 0);
  f.p->follow_leader(7, 0);
  EXPECT_EQ(f.p->follower_lag_snapshot(), 5);
  f.p->make_leader(state(1, 2, {1}), 1, 2000);
  EXPECT_EQ(f.p->follower_lag_snapshot(), 0);  // a leader lags no one
}

// The follower's log: epochs 0 at 0, 3 at 5 (a deposed leader's tail), log end 10.
void fill_diverged_follower(Fixture& f) {
  f.p->make_follower(state(2, 4, {1, 2}));
  std::string b = leader_batch(0, 0, 5) + leader_batch(5, 3, 5);
  ASSERT_EQ(
      f.p->append_replicated(reinterpret_cast<uint8_t*>(b.data()), b.size(), 5, 0, 4, 5000).error,
      ErrorCode::none);
}

TEST(TruncationStep, LeaderAnsweringAnOlderEpochMakesTheFollowerStepBack) {
  Fixture f;
  fill_diverged_follower(f);
  // The leader's history is [0@0, 2@7]: asked about epoch 3 it answers (2, its log end 12).
  auto s = truncation_step(*f.p, 4, 2, 12);
  EXPECT_FALSE(s.done);
  EXPECT_EQ(s.ask_epoch, 0);  // our largest epoch at or below 2
  EXPECT_EQ(s.log_end, 5);    // cut to where epoch 0 ended here
  // Asked about epoch 0, the leader answers where it ended there: 7 (beyond our log end).
  s = truncation_step(*f.p, 4, 0, 7);
  EXPECT_TRUE(s.done);
  EXPECT_EQ(s.log_end, 5);
  EXPECT_EQ(f.p->latest_epoch(), 0);
}

TEST(TruncationStep, SameEpochCutsAtTheLeadersEndAndUnknownAtTheWatermark) {
  Fixture f;
  fill_diverged_follower(f);
  auto s = truncation_step(*f.p, 4, 3, 8);  // the leader has epoch 3 up to 8
  EXPECT_TRUE(s.done);
  EXPECT_EQ(s.log_end, 5);  // whole batches: the batch 5-9 holds 8, so it goes
  Fixture g;
  fill_diverged_follower(g);
  s = truncation_step(*g.p, 4, -1, -1);  // the leader knows nothing of our epoch
  EXPECT_TRUE(s.done);
  EXPECT_EQ(g.p->log_end_offset(), 5);                // the high watermark
  EXPECT_TRUE(truncation_step(*g.p, 5, 0, 0).stale);  // not the epoch followed any more
}

}  // namespace
}  // namespace kaffa::cluster
