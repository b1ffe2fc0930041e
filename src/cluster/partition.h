// Partition: one topic partition hosted by this broker — its log, high watermark, leader epoch,
// role (leader or follower), durability and replication waiters and parked fetches.
//
// Threading: a Partition belongs to one event loop, its `shard()`; every member runs there except
// the few marked "any thread", which read atomic snapshots. Handlers reach the owner by posting to
// that loop (Broker::post). No lock on the produce or fetch path.
//
// State: log start offset and log end offset come from the log; the high watermark is a separate
// value; the log records where each leader epoch starts (storage::LeaderEpochCache,
// leader-epoch-checkpoint).
//
// Roles (partition_replication.cc). A new Partition is the only replica of a single node: leader
// in epoch 0, high watermark = log end after each append, acks=all = fsync. In a cluster the
// ReplicaManager switches it with make_leader / make_follower (from the metadata image):
//   leader   — takes produce; a cluster::ReplicaTracker follows the followers' fetches
//              (read_for_follower); high watermark = smallest log end in the ISR; acks=all
//              (when_replicated) completes when the high watermark passes the batch (and the
//              local flush covers it when the ISR is the leader alone); ISR shrink (ticks,
//              replica.lag.time.max.ms) and expansion (after a fetch) are proposed through the
//              AlterPartition hook, one at a time; while an expansion is in flight the watermark
//              already counts the joining replica (Kafka's "maximal ISR"), while a shrink is in
//              flight it still counts the leaving one.
//   follower — refuses produce and consumer reads (NOT_LEADER_OR_FOLLOWER); the ReplicaFetcher
//              appends what it fetched (append_replicated: offsets and epochs as the leader wrote
//              them) and truncates (truncate_to: log, epoch cache, producer state, watermark).
//
// Idempotent producers: append() checks each producer's epoch and sequence against
// storage::ProducerStateManager (rules there); a retried batch already in the log is answered with
// its original offsets and not written again. The state is rebuilt from snapshots and the log
// when the Partition is constructed, snapshotted at every segment roll and at close, and expires
// after producer.id.expiration.ms.
//
// Transactions: transactional batches from producers start or extend their transaction;
// append_marker() writes the COMMIT/ABORT marker the transaction coordinator asks for (a follower
// replicates it like any batch, and keeps the same state). Aborted transactions go to the
// partition's storage::TxnIndex. The last stable offset (LSO) is min(high watermark, first offset
// of the earliest transaction ongoing or whose marker is not yet below the high watermark); a
// read_committed read stops there and lists the aborted transactions its data overlaps (Kafka's
// rules), and its parked fetches wake when the LSO passes their offset. With KIP-890
// verification a client's transactional batch only starts a transaction with the guard of a
// verification the coordinator answered (begin_txn_verification, append's txn_guard).
//
// Durability: when_durable() queues a callback until a flush covers an offset. At most one
// FlushTicket is with the Flusher at a time; waiters arriving meanwhile share the next one
// (group commit). flush.messages and flush.ms trigger flushes without a waiter.
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "cluster/metadata_image.h"
#include "cluster/replica_tracker.h"
#include "cluster/topic_config.h"
#include "protocol/error_codes.h"
#include "protocol/wire.h"
#include "storage/flusher.h"
#include "storage/log.h"
#include "storage/producer_state.h"

namespace kaffa::cluster {

// Posts work to an event loop by index (the broker's server loops).
using Post = std::function<void(size_t shard, std::function<void()>)>;

// A parked fetch waiting for data. fire() is called at most once per registration, on the owner
// loop of the partition that got data; the waiter decides (atomically) whether it still matters.
class FetchWaiter {
 public:
  virtual ~FetchWaiter() = default;
  virtual void fire() = 0;
};

class Partition {
 public:
  Partition(std::string topic, int32_t index, size_t shard, std::unique_ptr<storage::Log> log,
            PartitionConfig config, storage::Flusher& flusher, Post post);
  ~Partition();

  const std::string& topic() const { return topic_; }  // any thread
  int32_t index() const { return index_; }             // any thread
  size_t shard() const { return shard_; }              // any thread
  int32_t leader_epoch() const { return leader_epoch_.load(std::memory_order_acquire); }  // any
  bool is_leader() const { return leader_.load(std::memory_order_acquire); }  // any thread
  // Snapshots, any thread.
  int64_t high_watermark_snapshot() const { return hw_.load(std::memory_order_acquire); }
  int64_t last_stable_offset_snapshot() const { return lso_.load(std::memory_order_acquire); }
  int64_t recovery_point_snapshot() const { return recovery_.load(std::memory_order_acquire); }
  int64_t log_start_snapshot() const { return log_start_.load(std::memory_order_acquire); }
  // For metrics, any thread: bytes of all segments (as of the last append, roll, flush or
  // deletion), and bytes appended / returned to fetches since this Partition was opened.
  int64_t size_snapshot() const { return size_.load(std::memory_order_relaxed); }
  int64_t bytes_in_snapshot() const { return bytes_in_.load(std::memory_order_relaxed); }
  int64_t bytes_out_snapshot() const { return bytes_out_.load(std::memory_order_relaxed); }
  // For metrics, any thread: replicas and in-sync replicas as last applied (1 and 1 on a single
  // node) and min.insync.replicas.
  int32_t replicas_snapshot() const { return replicas_n_.load(std::memory_order_relaxed); }
  int32_t isr_snapshot() const { return isr_n_.load(std::memory_order_relaxed); }
  int32_t min_isr_snapshot() const { return min_isr_.load(std::memory_order_relaxed); }
  // For metrics, any thread: as a follower, how far the leader's high watermark was ahead of this
  // log's end at the last fetch answer (Kafka's replica fetcher lag); 0 as leader.
  int64_t follower_lag_snapshot() const { return lag_.load(std::memory_order_relaxed); }
  void count_bytes_out(int64_t n) const { bytes_out_.fetch_add(n, std::memory_order_relaxed); }
  // KIP-73, any thread: whether this broker's replica is named in the topic's
  // leader.replication.throttled.replicas (as leader) or follower.replication.throttled.replicas
  // (as follower), so that the replication quotas bound its copying (replication_quota.h).
  bool leader_throttled() const { return leader_throttled_.load(std::memory_order_relaxed); }
  bool follower_throttled() const { return follower_throttled_.load(std::memory_order_relaxed); }

  struct AppendOutcome {
    protocol::ErrorCode error = protocol::ErrorCode::none;
    std::string message;
    int32_t record_index = -1;  // Produce v8+ record_errors
    int64_t base_offset = -1;
    int64_t last_offset = -1;
    int64_t log_append_time = -1;
    int64_t log_start_offset = -1;
    bool duplicate = false;  // an idempotent retry: nothing was written, offsets are the original's
  };
  // Who writes (Kafka's AppendOrigin). A coordinator of this broker (the group coordinator's
  // TxnOffsetCommit) writes transactional batches without a sequence (NO_SEQUENCE, -1): its
  // batches skip the sequence and duplicate checks, but a stale producer epoch is still refused
  // (INVALID_PRODUCER_EPOCH).
  enum class AppendOrigin : uint8_t { client, coordinator };
  // Owner loop: the error append() would refuse any batch with before writing (a follower, a
  // failed log, or acks=all with too few in-sync replicas); NONE when it would try.
  protocol::ErrorCode append_refusal(bool acks_all) const;
  // Validates (record/validate.h) and appends `n` bytes of batches in place (base offsets are
  // patched into the caller's buffer, which must stay alive during the call). A follower refuses
  // (NOT_LEADER_OR_FOLLOWER); a replicated leader refuses an acks=all append while its ISR is
  // smaller than min.insync.replicas (NOT_ENOUGH_REPLICAS), before writing anything.
  // With `txn_guard` (transaction.partition.verification.enable, KIP-890) a transactional data
  // batch of a producer with no transaction ongoing here must present the guard of a verification
  // the transaction coordinator answered (begin_txn_verification), else INVALID_TXN_STATE and
  // nothing is written.
  AppendOutcome append(uint8_t* data, size_t n, int64_t now_ms, bool acks_all = false,
                       AppendOrigin origin = AppendOrigin::client,
                       std::optional<uint64_t> txn_guard = std::nullopt);

  // KIP-890 verification (storage/producer_state.h): what a client's batches at [data, data + n)
  // need checked by the transaction coordinator before append(). guard 0: nothing (not
  // transactional, its producer's transaction is ongoing here, or not the leader).
  struct TxnVerification {
    int64_t producer_id = -1;
    int16_t producer_epoch = -1;
    uint64_t guard = 0;
  };
  TxnVerification begin_txn_verification(const uint8_t* data, size_t n, int64_t now_ms);
  // The same for a transactional batch the broker writes itself for the producer (the group
  // coordinator's TxnOffsetCommit).
  TxnVerification begin_txn_verification(int64_t producer_id, int16_t producer_epoch,
                                         int64_t now_ms, int32_t sequence = -1);

  // The transaction coordinator's WriteTxnMarkers, for one partition: appends one control batch
  // (transactional, base sequence -1, one COMMIT or ABORT record carrying coordinator_epoch,
  // record/control.h) for the producer, after the producer state's checks: an older producer
  // epoch is INVALID_PRODUCER_EPOCH, an older coordinator epoch TRANSACTION_COORDINATOR_FENCED.
  // Leader only (NOT_LEADER_OR_FOLLOWER). base_offset = last_offset = the marker's offset; the
  // caller waits for when_replicated(last_offset + 1, ...) before answering.
  AppendOutcome append_marker(int64_t producer_id, int16_t producer_epoch,
                              int32_t coordinator_epoch, bool commit, int64_t now_ms);

  // Calls done(ok) on the owner loop once every offset below end_offset is on disk.
  void when_durable(int64_t end_offset, std::function<void(bool ok)> done);
  // acks=all: done(NONE) on the owner loop once every offset below end_offset is replicated (the
  // high watermark passed it). As in Kafka, the copies on the other in-sync replicas make it
  // durable, not an fsync; but when the leader is the only in-sync replica (a single node, RF=1,
  // or an ISR shrunk to the leader) no other copy exists, and the local flush must cover it too.
  // NOT_ENOUGH_REPLICAS_AFTER_APPEND when the ISR was below min.insync.replicas then;
  // NOT_LEADER_OR_FOLLOWER when leadership was lost first; KAFKA_STORAGE_ERROR on a failed sync.
  using ReplicatedDone = std::function<void(protocol::ErrorCode)>;
  void when_replicated(int64_t end_offset, ReplicatedDone done);

  struct ReadOutcome {
    protocol::ErrorCode error = protocol::ErrorCode::none;
    int64_t high_watermark = -1;
    int64_t last_stable_offset = -1;
    int64_t log_start_offset = -1;
    protocol::Records records;  // file ranges of whole batches
    int64_t bytes = 0;
    // read_committed only: the aborted transactions whose records the data may hold (last offset
    // >= the read offset, first offset below the offset after the last batch read, or below the
    // LSO when nothing was read).
    std::vector<storage::AbortedTxn> aborted;
  };
  // Kafka's isolation levels (Fetch, ListOffsets).
  enum class Isolation { read_uncommitted, read_committed };
  // Reads committed data (below the high watermark; with read_committed below the last stable
  // offset, with the aborted transactions listed) from `offset`. NOT_LEADER_OR_FOLLOWER on a
  // follower, unless `follower_ok` (a consumer fetching from the closest replica, KIP-392): a
  // follower then serves what its high watermark (the leader's, as of its last fetch) or LSO
  // covers, and an offset between that and its log end reads nothing (not OFFSET_OUT_OF_RANGE).
  ReadOutcome read(int64_t offset, int64_t max_bytes, bool min_one_batch, bool follower_ok = false,
                   Isolation isolation = Isolation::read_uncommitted) const;
  // Reads up to the log end, committed or not (Kafka's FetchLogEnd isolation): what a new leader's
  // group coordinator replays — as leader its log is the truth the followers converge to.
  // NOT_LEADER_OR_FOLLOWER on a follower.
  ReadOutcome read_to_log_end(int64_t offset, int64_t max_bytes, bool min_one_batch) const;

  // Parks a fetch until the high watermark (read_committed: the last stable offset) passes
  // `offset` (fires at once if it already has).
  void add_waiter(int64_t offset, std::weak_ptr<FetchWaiter> waiter, bool follower_ok = false,
                  Isolation isolation = Isolation::read_uncommitted);

  // ---- Replication (partition_replication.cc); owner loop unless said otherwise. ----
  // ISR changes applied while this broker led the partition (Kafka's IsrShrinksPerSec and
  // IsrExpandsPerSec), summed over the partitions sharing it; any thread.
  struct IsrChangeCounters {
    std::atomic<int64_t> shrinks{0};
    std::atomic<int64_t> expands{0};
  };
  struct ReplicationSettings {
    int64_t replica_lag_time_max_ms = 30000;         // replica.lag.time.max.ms
    AlterPartition alter;                            // ISR changes (may be empty: none proposed)
    std::shared_ptr<IsrChangeCounters> isr_changes;  // may be null: not counted
    int32_t self = -1;                               // node.id
  };
  // Before the first make_leader / make_follower (or between transitions).
  void set_replication(ReplicationSettings settings);
  // Leads `s` (s.leader == self): records the epoch's start at the log end, fresh follower
  // tracking (a new epoch) or only the new ISR (same epoch, newer partition_epoch); the high
  // watermark stays; parked consumer fetches and acks=all waiters are kept.
  void make_leader(const PartitionState& s, int32_t self, int64_t now_ms);
  // Follows `s`: no more produce or consumer reads; acks=all waiters get
  // NOT_LEADER_OR_FOLLOWER, parked fetches wake (and read that error); HW <= log end.
  void make_follower(const PartitionState& s);
  bool replicated() const { return replicated_; }         // a role was given (cluster mode)
  const PartitionState& state() const { return state_; }  // the state last applied
  int32_t min_insync_replicas() const { return config_.min_insync_replicas; }
  // Whether `replica` is in the ISR as last applied (a single node's only replica always is).
  bool in_isr(int32_t replica) const;

  // Leader side of a follower's fetch: reads up to the log end from `offset`, records the
  // follower's position (ReplicaTracker::on_fetch), advances the high watermark (waking consumer
  // fetches and acks=all waiters) and proposes an ISR expansion when the follower caught up.
  // NOT_LEADER_OR_FOLLOWER on a follower or for a non-replica, OFFSET_OUT_OF_RANGE outside
  // [log start, log end]. On a single node it is an ordinary read().
  ReadOutcome read_for_follower(int32_t replica, int64_t offset, int64_t max_bytes,
                                bool min_one_batch, int64_t now_ms);
  // Parks a follower's fetch until the log end passes `offset` (or the role changes).
  void add_replica_waiter(int64_t offset, std::weak_ptr<FetchWaiter> waiter);

  // Follower: appends batches fetched from the leader of `leader_epoch` (Log::append_as_follower:
  // offsets and epochs kept, producer state updated), then follow_leader(). Refused
  // (FENCED_LEADER_EPOCH) when this partition leads or follows another epoch meanwhile.
  AppendOutcome append_replicated(uint8_t* data, size_t n, int64_t leader_high_watermark,
                                  int64_t leader_log_start_offset, int32_t leader_epoch,
                                  int64_t now_ms);
  // Follower: takes the leader's high watermark (capped at the log end) and raises the log start
  // offset to the leader's (DeleteRecords, retention) when that is within this log.
  void follow_leader(int64_t leader_high_watermark, int64_t leader_log_start_offset);
  // Removes offsets >= offset (whole batches, Log::truncate_to), keeping the epoch cache,
  // producer state and high watermark consistent with the shorter log. False on an I/O error.
  bool truncate_to(int64_t offset);
  // Empties the log and restarts it at `offset` (above the log end: the leader's log start moved
  // past everything this replica has; Kafka's truncateFullyAndStartAt).
  bool truncate_fully_and_start_at(int64_t offset);
  std::optional<int32_t> latest_epoch() const { return log_->latest_epoch(); }
  // Before the partition is used (cluster mode, PartitionManager::open_replica): the
  // checkpointed high watermark instead of the log end (capped there).
  void restore_high_watermark(int64_t hw);

  int64_t log_start_offset() const { return log_->log_start_offset(); }
  int64_t log_end_offset() const { return log_->log_end_offset(); }
  int64_t high_watermark() const { return high_watermark_; }
  // min(high watermark, first unstable offset of the producer state); see above.
  int64_t last_stable_offset() const { return last_stable_offset_; }
  // ListOffsets by timestamp (offset, timestamp), among committed offsets (read_committed: below
  // the last stable offset).
  std::optional<std::pair<int64_t, int64_t>> offset_for_timestamp(
      int64_t ts, Isolation isolation = Isolation::read_uncommitted) const;
  std::pair<int64_t, int64_t> max_timestamp() const;
  // OffsetForLeaderEpoch: (epoch, end offset) of `epoch` in this log (storage::LeaderEpochCache).
  std::pair<int32_t, int64_t> end_offset_for_epoch(int32_t epoch) const {
    return log_->end_offset_for_epoch(epoch);
  }

  // ---- Log directory failure (Kafka's LogDirFailureChannel) ----
  // An I/O error on this log (append, roll, flush, truncation, reopen) takes the partition
  // offline and is reported to `failed` (set once, before the partition is used; the
  // PartitionManager takes the whole log directory offline). Offline: produce, fetch and
  // replication answer KAFKA_STORAGE_ERROR, waiting acks=all produces fail, until a restart.
  using StorageFailure = std::function<void(const std::string& why)>;
  void on_storage_failure(StorageFailure failed) { storage_failed_ = std::move(failed); }
  // Owner loop: this log's directory failed (an I/O error elsewhere in it); offline as above.
  void take_offline() { go_offline(false, {}); }
  bool offline() const { return offline_.load(std::memory_order_acquire); }  // any thread

  // Owner loop, at periodic ticks: flush when flush.ms has passed since the last flush.
  void on_tick(int64_t now_ms);
  // Owner loop: the topic's configs or the broker's defaults changed; topic_changes.cc.
  void set_config(PartitionConfig config);
  const PartitionConfig& config() const { return config_; }  // owner loop

  // partition_retention.cc. Owner loop: DeleteRecords (Kafka's Partition.deleteRecordsOnLeader).
  // offset -1 means the high watermark; a negative offset or one above the high watermark is
  // OFFSET_OUT_OF_RANGE; a topic without cleanup.policy delete is POLICY_VIOLATION. Otherwise the
  // log start offset becomes max(itself, offset), whole segments below it are deleted at once,
  // and low_watermark is the new log start offset.
  struct DeleteRecordsOutcome {
    protocol::ErrorCode error = protocol::ErrorCode::none;
    int64_t low_watermark = -1;
  };
  DeleteRecordsOutcome delete_records(int64_t offset);
  // Owner loop, every log.retention.check.interval.ms: retention.ms / retention.bytes
  // (storage::Log::enforce_retention), for cleanup.policy containing delete only.
  void enforce_retention(int64_t now_ms);
  // Closes the log (fsync of everything). Only when no loop runs any more (shutdown) or on the
  // owner loop. Afterwards every call is an error answer.
  bool close(std::string* error);
  const std::filesystem::path& dir() const { return log_->dir(); }
  // Owner loop: idempotent and transactional producers this partition tracks (and its aborted
  // transactions, producers().aborted_index()).
  const storage::ProducerStateManager& producers() const { return producers_; }

  // ---- Moving the log to another log directory (partition_move.cc; AlterReplicaLogDirs, Kafka's
  // future replica). Owner loop unless said otherwise. ----
  // Starts copying into `future`, a log in the destination directory (an earlier future log is
  // dropped): a new empty one, or one kept from before a restart, which is first cut where it
  // stops agreeing with this log (storage::agreed_end; all of it if they share no epoch). The
  // copy keeps offsets and epochs (Log::append_as_follower) and follows this log: truncations are
  // applied to it too, a log start moved past its end restarts it. Cleaning pauses meanwhile
  // (cleaning_snapshot() is nullopt), as Kafka's abortAndPauseCleaning. False with *error if the
  // cut failed (nothing is attached).
  bool attach_future(std::unique_ptr<storage::Log> future, uint64_t move_id, std::string* error);
  // The move in progress (0: none; the id given to attach_future).
  uint64_t move_id() const { return future_ ? move_id_ : 0; }
  // Drops the future log (its directory is the caller's to remove).
  void drop_future();
  enum class MoveStep { copying, caught_up, failed };
  // Copies batches of up to about max_bytes to the future log; caught_up when it ends where this
  // log ends (appends run on this loop, so it still does when the caller swaps in the same task).
  // Hands the future log's writes to the Flusher every few MiB, so that the swap syncs little.
  MoveStep copy_to_future(int64_t max_bytes, int64_t now_ms, int64_t* copied, std::string* error);
  // The caught-up future log takes this log's place under `final_dir` (its destination's name);
  // this log's directory is renamed to `doomed`, for the caller to remove. Crash-safe order: the
  // future log, its epochs, log start, producer snapshot and aborted transaction index are synced
  // in full; then this directory is renamed away (synced); then the future one is renamed into
  // place (synced). A start that finds a future directory without a current log takes it as the
  // log. False with *error, and this log unchanged, when a step before the second rename failed
  // (*committed false); *committed true: the log is in `final_dir` but could not be reopened, and
  // the partition refuses writes (io_failed) until a restart.
  bool swap_in_future(const std::filesystem::path& final_dir, const std::filesystem::path& doomed,
                      bool* committed, std::string* error);
  // Any thread: the future log's size in bytes (-1: no move) and how far its end is behind.
  int64_t future_size_snapshot() const { return future_size_.load(std::memory_order_relaxed); }
  int64_t future_lag_snapshot() const { return future_lag_.load(std::memory_order_relaxed); }
  // Any thread: what of the future log is durable (its recovery point; -1: no move), for the
  // destination directory's recovery checkpoint. close() syncs the future log and keeps this, so
  // that a move continued after a clean stop rescans nothing.
  int64_t future_recovery_point_snapshot() const {
    return future_recovery_point_.load(std::memory_order_relaxed);
  }

  // partition_cleaning.cc, owner loop: the log cleaner's hand-off (cluster/cleaner_manager.h).
  // nullopt when closed or not compacted (cleanup.policy without compact).
  struct CleaningSnapshot {
    storage::CleaningView view;  // with the partition's aborted transactions
    int64_t high_watermark = 0;  // the cleaner's bound: the last stable offset (<= the HW)
    storage::CleanerTopicConfig config;
  };
  std::optional<CleaningSnapshot> cleaning_snapshot() const;
  storage::SwapOutcome install_cleaned(const storage::CleanedSegments& cleaned, std::string* error);

 private:
  void start_flush();
  // Offline for good (io_failed_); durability waiters fail; `report`: to storage_failed_.
  void go_offline(bool report, const std::string& why);
  // A flush ticket of `log` to the Flusher; its answer comes back on the owner loop as
  // (this->*done)(generation, end_offset, ok) unless the partition is gone. `generation` lets the
  // answer tell whether the log it flushed is still the one meant (log_swaps_, move_id_).
  using FlushDone = void (Partition::*)(uint64_t generation, int64_t end_offset, bool ok);
  void submit_flush(storage::Log& log, uint64_t generation, FlushDone done);
  // `swaps`: log_swaps_ when the ticket was taken.
  void on_flushed(uint64_t swaps, int64_t end_offset, bool ok);
  // partition_move.cc
  void publish_future();
  void flush_future();  // a ticket of the future log to the Flusher, one at a time
  void on_future_flushed(uint64_t move_id, int64_t end_offset, bool ok);
  // The future log's copy of this log's file that is not derived from the log (partition.metadata).
  bool copy_metadata_to(const std::filesystem::path& dir, std::string* error) const;
  void publish();
  // A leader's read of [offset, end) (read, read_to_log_end).
  ReadOutcome read_up_to(int64_t end, int64_t offset, int64_t max_bytes, bool min_one_batch,
                         Isolation isolation = Isolation::read_uncommitted) const;
  // Reads whole batches below max_offset into out (file ranges), or sets out.error; with
  // read_committed also the aborted transactions (Kafka's bounds, see ReadOutcome).
  void read_log(int64_t offset, int64_t max_bytes, int64_t max_offset, bool min_one_batch,
                ReadOutcome& out, Isolation isolation = Isolation::read_uncommitted) const;
  // A leader able to write; else false with the error in *out.
  bool writable(AppendOutcome* out) const;
  // The write shared by append() and append_marker(): batches validated and checked.
  // With message.timestamp.type=LogAppendTime, gives every batch of data the append time (markers
  // too, as Kafka's validator does).
  void stamp_log_append_time(uint8_t* data, size_t n, int64_t now_ms, AppendOutcome* out) const;
  AppendOutcome write_checked(uint8_t* data, size_t n, int64_t now_ms,
                              const record::EndTxnMarker* marker, AppendOutcome out);
  // Producer state of batches appended at [data, data + n) (leader or follower).
  void update_producers(const uint8_t* data, size_t n, const record::EndTxnMarker* marker);
  // Recomputes the last stable offset after a change of the high watermark or producer state.
  void update_last_stable_offset();
  using Waiters = std::vector<std::pair<int64_t, std::weak_ptr<FetchWaiter>>>;
  static void wake_waiters(Waiters& waiters, int64_t below);
  // Wakes parked consumer fetches below the high watermark (read_committed: the LSO).
  void wake_fetch_waiters();
  void wake_all_fetch_waiters();  // role change, close: they read again (and get the error)
  // partition_replication.cc
  void wake_replica_waiters(bool all);
  void set_high_watermark(int64_t hw);  // raises it; wakes fetches, completes acks=all waiters
  void complete_replication_waiters();
  void durable_then(int64_t end_offset, ReplicatedDone done);
  // The ISR has end_offset: done now, or after the local flush when the leader is its only member.
  void replicated_then(int64_t end_offset, ReplicatedDone done);
  void apply_leader_state(const PartitionState& s);
  void maybe_expand_isr(int32_t fetching);
  void maybe_shrink_isr(int64_t now_ms);
  void propose_isr(std::vector<int32_t> isr, bool expanding);
  void after_truncation();
  // Checks an idempotent batch (or a marker) before its append; false with *out filled when it
  // must not be written (a duplicate answered with its original offsets, or a refusal).
  bool check_producer(const uint8_t* data, size_t n, AppendOutcome* out,
                      const record::EndTxnMarker* marker = nullptr) const;
  // The KIP-890 check of append(): false with *out filled when the batch needs a verification
  // it does not present (INVALID_TXN_STATE), or has a higher sequence than one still being
  // verified (OUT_OF_ORDER_SEQUENCE_NUMBER).
  bool txn_verified(const uint8_t* data, size_t n, uint64_t guard, AppendOutcome* out) const;
  void snapshot_producers();   // at the log end, without fsync
  void publish_throttles();    // leader_throttled_, follower_throttled_ from config_ and self_
  bool isr_too_small() const;  // replicated, ISR below min.insync.replicas

  const std::string topic_;
  const int32_t index_;
  const size_t shard_;
  std::atomic<int32_t> leader_epoch_{0};
  std::atomic<bool> leader_{true};
  std::unique_ptr<storage::Log> log_;
  PartitionConfig config_;
  storage::Flusher& flusher_;
  Post post_;

  int64_t high_watermark_ = 0;
  int64_t last_stable_offset_ = 0;
  bool closed_ = false;
  bool flush_in_flight_ = false;
  bool io_failed_ = false;            // offline: the log or its directory had an I/O error
  std::atomic<bool> offline_{false};  // io_failed_ for other threads
  StorageFailure storage_failed_;
  int64_t last_flush_ms_ = 0;
  int64_t last_expiry_check_ms_ = 0;
  storage::ProducerStateManager producers_;
  std::multimap<int64_t, std::function<void(bool)>> durability_waiters_;  // by end offset
  Waiters fetch_waiters_;
  Waiters committed_waiters_;  // read_committed fetches, woken by the LSO

  // Replication (partition_replication.cc).
  ReplicationSettings replication_;
  bool replicated_ = false;
  PartitionState state_;
  int32_t self_ = -1;
  std::unique_ptr<ReplicaTracker> tracker_;  // leader in a cluster only
  int64_t epoch_start_offset_ = 0;           // the log end when this leader's epoch began
  bool alter_in_flight_ = false;
  bool alter_backoff_ = false;    // a proposal was refused: the next one waits for a tick
  uint64_t role_generation_ = 0;  // bumped at every role change (late AlterPartition answers)
  std::multimap<int64_t, ReplicatedDone> replication_waiters_;  // by end offset
  Waiters replica_waiters_;

  // Moving to another log directory (partition_move.cc).
  std::unique_ptr<storage::Log> future_;
  uint64_t move_id_ = 0;
  bool future_failed_ = false;  // a truncation or flush of the future log failed
  bool future_flush_in_flight_ = false;
  int64_t future_unflushed_bytes_ = 0;  // copied since the last future flush ticket
  std::string move_buffer_;             // batches read for the copy, reused
  uint64_t log_swaps_ = 0;              // logs swapped in: flush answers of the old one are ignored
  std::atomic<int64_t> future_size_{-1};
  std::atomic<int64_t> future_lag_{0};
  std::atomic<int64_t> future_recovery_point_{-1};

  std::atomic<int64_t> hw_{0};
  std::atomic<int64_t> lso_{0};
  std::atomic<int64_t> recovery_{0};
  std::atomic<int64_t> log_start_{0};
  std::atomic<int64_t> size_{0};
  std::atomic<int32_t> replicas_n_{1};
  std::atomic<int32_t> isr_n_{1};
  std::atomic<int32_t> min_isr_{1};
  std::atomic<int64_t> lag_{0};
  std::atomic<bool> leader_throttled_{false};
  std::atomic<bool> follower_throttled_{false};
  std::atomic<int64_t> bytes_in_{0};
  mutable std::atomic<int64_t> bytes_out_{0};
  // Shared with flush callbacks so a late callback after destruction is harmless.
  std::shared_ptr<bool> alive_ = std::make_shared<bool>(true);
};

}  // namespace kaffa::cluster
