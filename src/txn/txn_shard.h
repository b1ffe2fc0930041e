// TxnShard: the transaction coordinator's state machine for one __transaction_state partition —
// the transactional ids that hash to it (rules in txn_rules.h) and their durable records.
//
// Flow of a transaction (Kafka's two-phase commit): InitProducerId gives the id a producer id and
// epoch (Empty); AddPartitionsToTxn / AddOffsetsToTxn make it Ongoing with its partitions; EndTxn
// writes PrepareCommit or PrepareAbort and answers; then the markers are written to every
// partition (markers.h) and CompleteCommit / CompleteAbort is written. A transaction that
// outlives its timeout is aborted by the shard (abort_timed_out(), every
// transaction.abort.timed.out.transaction.cleanup.interval.ms) with the epoch bumped, which fences
// its producer; idle ids expire after transactional.id.expiration.ms (a tombstone).
//
// Durability: every change is one record written acks=all (on a single node: fsync'ed) before it
// is applied in memory and answered. At most one change per id is in flight: a request for an id
// with a write or a producer-id allocation pending gets CONCURRENT_TRANSACTIONS (clients retry).
// load() replays the partition up to its log end before the shard serves; transactions found in
// Prepare* get their markers written again (markers are idempotent for the reader: a second
// marker of a finished transaction completes nothing).
//
// Threading: a shard lives on its partition's owner loop (loop()); every member runs there, and
// asynchronous completions are posted back to it. Callbacks after retirement (the broker stopped
// leading the partition) find `retired_` set and stop.
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include "cluster/partition.h"
#include "protocol/error_codes.h"
#include "txn/markers.h"
#include "txn/txn_config.h"
#include "txn/txn_metadata.h"
#include "txn/txn_rules.h"

namespace kaffa::txn {

// What shards share, owned by the TxnCoordinator.
struct TxnServices {
  // A new producer id: done(id) or done(nullopt, why), on any thread.
  std::function<void(std::function<void(std::optional<int64_t>, std::string)>)> next_producer_id;
  MarkerWriter::Post post;
  MarkerWriter::Schedule schedule;
  MarkerWriter* markers = nullptr;
};

class TxnShard {
 public:
  TxnShard(int32_t index, std::shared_ptr<cluster::Partition> partition, const TxnConfig& config,
           TxnServices& services);
  ~TxnShard();

  int32_t index() const { return index_; }
  size_t loop() const { return partition_->shard(); }                      // any thread
  bool loaded() const { return loaded_.load(std::memory_order_acquire); }  // any thread
  // The leader epoch of the partition when this shard was made: the markers' coordinator epoch.
  int32_t coordinator_epoch() const { return coordinator_epoch_; }

  using IdDone = std::function<void(protocol::ErrorCode, int64_t producer_id, int16_t epoch)>;
  using Done = std::function<void(protocol::ErrorCode)>;
  void init_producer_id(const std::string& id, int32_t timeout_ms, int64_t producer_id,
                        int16_t producer_epoch, IdDone done);
  void add_partitions(const std::string& id, int64_t producer_id, int16_t producer_epoch,
                      std::vector<TopicPartition> partitions, Done done);
  void end_txn(const std::string& id, int64_t producer_id, int16_t producer_epoch, bool commit,
               Done done);

  // DescribeTransactions / ListTransactions: the id's metadata (nullptr if unknown), and all.
  const TxnMetadata* find(const std::string& id) const;
  const std::unordered_map<std::string, TxnMetadata>& all() const { return txns_; }

  void load();             // once, before serving
  void abort_timed_out();  // periodic
  void expire_ids();       // periodic
  // The broker stopped leading the partition: in-flight writes answer NOT_COORDINATOR and the
  // markers of this shard's transactions stop (the next leader's shard resumes them).
  void retire() { *retired_ = true; }

 private:
  void load_from(int64_t offset, int64_t end);
  // Writes `next` as id's record; applies it and calls done(NONE) once durable, else done(error).
  void persist(const std::string& id, std::optional<TxnMetadata> next, Done done);
  // Prepare* → markers → Complete*.
  void write_markers(const std::string& id);
  void complete(const std::string& id);
  // Runs fn on this loop later unless retired.
  void later(int64_t delay_ms, std::function<void()> fn);
  int64_t now_ms() const;

  const int32_t index_;
  std::shared_ptr<cluster::Partition> partition_;
  const TxnConfig config_;
  TxnServices& services_;
  const int32_t coordinator_epoch_;
  std::atomic<bool> loaded_{false};
  std::shared_ptr<bool> retired_ = std::make_shared<bool>(false);
  std::unordered_map<std::string, TxnMetadata> txns_;
  std::unordered_set<std::string> pending_;  // ids with a write or an id allocation in flight
};

}  // namespace kaffa::txn
