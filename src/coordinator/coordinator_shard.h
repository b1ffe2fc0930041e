// CoordinatorShard: the state machine of one __consumer_offsets partition — the classic groups
// whose id hashes to it (group_manager.h) and their committed offsets (offset_store.h).
//
// Threading: a shard lives on the event loop that owns its offsets partition (loop()); every
// member, and everything in its GroupManager and OffsetStore, runs there only. Handlers reach it
// through GroupCoordinator::with_shard(), which posts to that loop. No locks.
//
// Durability (the coordinator-runtime model): a change is written as records to the offsets
// partition through write(); the caller applies it to memory and answers the client only in the
// `done` callback, i.e. once the records are on disk (and, in a cluster, on every in-sync
// replica: Kafka's acks=all). At start-up load() replays the partition
// (offset commits and group metadata, tombstones deleting) before the shard serves: until then
// loaded() is false and handlers answer COORDINATOR_LOAD_IN_PROGRESS.
//
// Transactions: TxnOffsetCommit writes its offsets as one transactional batch of the producer
// (write_batch() with a TxnProducer); once durable they are pending for that producer id in the
// OffsetStore. The transaction side calls complete_transaction() once the producer's commit or
// abort marker is in this partition and replicated. At replay a transactional batch's offsets are
// pending for its producer id and a control batch (the marker) commits or aborts them.
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "cluster/partition.h"
#include "coordinator/group_config.h"
#include "protocol/error_codes.h"

namespace kaffa::coordinator {

class GroupManager;
class OffsetStore;

// Runs fn on loop `loop` after delay_ms; dropped (not run) if the broker stops first.
using Schedule = std::function<void(size_t loop, int64_t delay_ms, std::function<void()> fn)>;

class CoordinatorShard {
 public:
  // One record of the offsets topic: key and value (nullopt: a tombstone) in Kafka's formats
  // (coordinator/records.h).
  struct Record {
    std::string key;
    std::optional<std::string> value;
  };

  CoordinatorShard(int32_t index, std::shared_ptr<cluster::Partition> partition,
                   const GroupConfig& config, Schedule schedule);
  ~CoordinatorShard();

  int32_t index() const { return index_; }             // the offsets partition number (any thread)
  size_t loop() const { return partition_->shard(); }  // any thread
  const GroupConfig& config() const { return config_; }
  bool loaded() const { return loaded_.load(std::memory_order_acquire); }  // any thread
  int64_t now_ms() const;  // wall clock, milliseconds since the epoch

  // Runs fn on this shard's loop after delay_ms (never before). Timers are not cancellable:
  // callbacks check that what they were armed for still holds (e.g. a generation number).
  void schedule(int64_t delay_ms, std::function<void()> fn);

  // Appends the records as one batch to the offsets partition and calls done on this loop: with
  // ErrorCode::none once they are durable, or with an error (COORDINATOR_NOT_AVAILABLE for a
  // storage failure, MESSAGE_TOO_LARGE / RECORD_LIST_TOO_LARGE if over the size limit).
  // Writes complete in the order they were issued. An empty list completes at once.
  void write(std::vector<Record> records, std::function<void(protocol::ErrorCode)> done);
  // On this loop: NONE when the partition would take a write now; NOT_COORDINATOR when this
  // broker no longer leads it, COORDINATOR_NOT_AVAILABLE when its ISR is below
  // min.insync.replicas (acks=all appends are refused before writing).
  protocol::ErrorCode write_refusal() const;

  // The producer of a transactional write (TxnOffsetCommit).
  struct TxnProducer {
    int64_t producer_id = -1;
    int16_t producer_epoch = -1;
    // With KIP-890 verification: the guard of begin_txn_verification(), which the append presents
    // (cluster::Partition::append's txn_guard); nullopt: not checked.
    std::optional<uint64_t> guard;
  };
  // KIP-890: the guard a transactional write of `producer` must present once the transaction
  // coordinator confirmed that this partition is in its transaction; 0 when nothing needs asking
  // (its transaction is ongoing here).
  uint64_t begin_txn_verification(const TxnProducer& producer) {
    return partition_
        ->begin_txn_verification(producer.producer_id, producer.producer_epoch, now_ms())
        .guard;
  }
  // As write(), and done also gets the offset of the batch's first record (record i of `records`
  // is at base_offset + i; -1 on error). With a producer the batch is transactional: it carries
  // the producer's id and epoch and no sequence (base sequence -1, Kafka's NO_SEQUENCE for
  // coordinator writes); an epoch older than the producer's last in this partition is refused
  // with INVALID_PRODUCER_EPOCH.
  using WriteDone = std::function<void(protocol::ErrorCode, int64_t base_offset)>;
  void write_batch(std::vector<Record> records, std::optional<TxnProducer> producer,
                   WriteDone done);
  // As write(), for a caller that changed memory first and must undo the change when the
  // partition refuses the batch outright (not its leader, too few in-sync replicas, over
  // max.message.bytes, a storage failure): that error, as a client should see it, is returned and
  // done is never called. NONE: the batch is in the log, and done follows once it is durable or
  // failed (it cannot be taken back then: the log has it).
  protocol::ErrorCode append(std::vector<Record> records,
                             std::function<void(protocol::ErrorCode)> done);

  // On this loop: the commit (commit = true) or abort marker of producer_id is in this partition
  // and replicated (GroupCoordinator::complete_transaction).
  void complete_transaction(int64_t producer_id, bool commit);

  GroupManager& groups() { return *groups_; }
  OffsetStore& offsets() { return *offsets_; }

  // On this loop, once at start-up: replays the partition, then marks the shard loaded.
  void load();
  // Periodic offset expiry (offsets.retention.minutes), on this loop.
  void expire_offsets();

 private:
  void load_from(int64_t offset, int64_t end, int64_t records);
  // One batch of the partition at replay (`batch` holds the whole batch).
  void replay_batch(const uint8_t* batch, size_t size, std::string& scratch, int64_t& records);
  // Appends the batch: NONE, and done is taken (called once durable or failed); else the error,
  // and done is left to the caller.
  protocol::ErrorCode try_append(std::vector<Record> records, std::optional<TxnProducer> producer,
                                 WriteDone& done);

  const int32_t index_;
  std::shared_ptr<cluster::Partition> partition_;
  const GroupConfig config_;
  Schedule schedule_;
  std::atomic<bool> loaded_{false};
  std::unique_ptr<OffsetStore> offsets_;
  std::unique_ptr<GroupManager> groups_;
};

}  // namespace kaffa::coordinator
