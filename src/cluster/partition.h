// Partition: one topic partition led by this broker — its log, high watermark, leader epoch,
// durability waiters and parked fetches.
//
// Threading: a Partition belongs to one event loop, its `shard()`; every member runs there except
// the few marked "any thread", which read atomic snapshots. Handlers reach the owner by posting to
// that loop (Broker::post). No lock on the produce or fetch path.
//
// State: log start offset and log end offset come from the log; the high watermark is a separate
// value (on a single node it follows the log end offset after each append; with replication it
// will follow the in-sync replicas); the leader epoch is 0 until the cluster milestone; the log
// records where each epoch starts (storage::LeaderEpochCache, leader-epoch-checkpoint).
//
// Idempotent producers: append() checks each producer's epoch and sequence against
// storage::ProducerStateManager (rules there); a retried batch already in the log is answered with
// its original offsets and not written again. The state is rebuilt from snapshots and the log
// when the Partition is constructed, snapshotted at every segment roll and at close, and expires
// after producer.id.expiration.ms.
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

  const std::string& topic() const { return topic_; }     // any thread
  int32_t index() const { return index_; }                // any thread
  size_t shard() const { return shard_; }                 // any thread
  int32_t leader_epoch() const { return leader_epoch_; }  // any thread (fixed for now)
  // Snapshots, any thread.
  int64_t high_watermark_snapshot() const { return hw_.load(std::memory_order_acquire); }
  int64_t recovery_point_snapshot() const { return recovery_.load(std::memory_order_acquire); }
  int64_t log_start_snapshot() const { return log_start_.load(std::memory_order_acquire); }
  // For metrics, any thread: bytes of all segments (as of the last append, roll, flush or
  // deletion), and bytes appended / returned to fetches since this Partition was opened.
  int64_t size_snapshot() const { return size_.load(std::memory_order_relaxed); }
  int64_t bytes_in_snapshot() const { return bytes_in_.load(std::memory_order_relaxed); }
  int64_t bytes_out_snapshot() const { return bytes_out_.load(std::memory_order_relaxed); }
  void count_bytes_out(int64_t n) const { bytes_out_.fetch_add(n, std::memory_order_relaxed); }

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
  // Validates (record/validate.h) and appends `n` bytes of batches in place (base offsets are
  // patched into the caller's buffer, which must stay alive during the call).
  AppendOutcome append(uint8_t* data, size_t n, int64_t now_ms);

  // Calls done(ok) on the owner loop once every offset below end_offset is on disk.
  void when_durable(int64_t end_offset, std::function<void(bool ok)> done);

  struct ReadOutcome {
    protocol::ErrorCode error = protocol::ErrorCode::none;
    int64_t high_watermark = -1;
    int64_t log_start_offset = -1;
    protocol::Records records;  // file ranges of whole batches
    int64_t bytes = 0;
  };
  // Reads committed data (below the high watermark) from `offset`.
  ReadOutcome read(int64_t offset, int64_t max_bytes, bool min_one_batch) const;

  // Parks a fetch until the high watermark passes `offset` (fires at once if it already has).
  void add_waiter(int64_t offset, std::weak_ptr<FetchWaiter> waiter);

  int64_t log_start_offset() const { return log_->log_start_offset(); }
  int64_t log_end_offset() const { return log_->log_end_offset(); }
  int64_t high_watermark() const { return high_watermark_; }
  // ListOffsets by timestamp (offset, timestamp), among committed offsets.
  std::optional<std::pair<int64_t, int64_t>> offset_for_timestamp(int64_t ts) const;
  std::pair<int64_t, int64_t> max_timestamp() const;

  // Owner loop, at periodic ticks: flush when flush.ms has passed since the last flush.
  void on_tick(int64_t now_ms);
  // Owner loop: the topic's configs changed (AlterConfigs); topic_changes.cc.
  void set_config(PartitionConfig config);

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
  // Owner loop: idempotent producers this partition tracks.
  const storage::ProducerStateManager& producers() const { return producers_; }

  // partition_cleaning.cc, owner loop: the log cleaner's hand-off (cluster/cleaner_manager.h).
  // nullopt when closed or not compacted (cleanup.policy without compact).
  struct CleaningSnapshot {
    storage::CleaningView view;
    int64_t high_watermark = 0;
    storage::CleanerTopicConfig config;
  };
  std::optional<CleaningSnapshot> cleaning_snapshot() const;
  storage::SwapOutcome install_cleaned(const storage::CleanedSegments& cleaned, std::string* error);

 private:
  void start_flush();
  void on_flushed(int64_t end_offset, bool ok);
  void publish();
  // Checks an idempotent batch before its append; false with *out filled when it must not be
  // written (a duplicate answered with its original offsets, or a refusal).
  bool check_producer(const uint8_t* data, size_t n, AppendOutcome* out) const;
  void snapshot_producers();  // at the log end, without fsync

  const std::string topic_;
  const int32_t index_;
  const size_t shard_;
  const int32_t leader_epoch_ = 0;
  std::unique_ptr<storage::Log> log_;
  PartitionConfig config_;
  storage::Flusher& flusher_;
  Post post_;

  int64_t high_watermark_ = 0;
  bool closed_ = false;
  bool flush_in_flight_ = false;
  bool io_failed_ = false;
  int64_t last_flush_ms_ = 0;
  int64_t last_expiry_check_ms_ = 0;
  storage::ProducerStateManager producers_;
  std::multimap<int64_t, std::function<void(bool)>> durability_waiters_;  // by end offset
  std::vector<std::pair<int64_t, std::weak_ptr<FetchWaiter>>> fetch_waiters_;

  std::atomic<int64_t> hw_{0};
  std::atomic<int64_t> recovery_{0};
  std::atomic<int64_t> log_start_{0};
  std::atomic<int64_t> size_{0};
  std::atomic<int64_t> bytes_in_{0};
  mutable std::atomic<int64_t> bytes_out_{0};
  // Shared with flush callbacks so a late callback after destruction is harmless.
  std::shared_ptr<bool> alive_ = std::make_shared<bool>(true);
};

}  // namespace kaffa::cluster
