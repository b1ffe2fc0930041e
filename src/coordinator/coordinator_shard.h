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

  GroupManager& groups() { return *groups_; }
  OffsetStore& offsets() { return *offsets_; }

  // On this loop, once at start-up: replays the partition, then marks the shard loaded.
  void load();
  // Periodic offset expiry (offsets.retention.minutes), on this loop.
  void expire_offsets();

 private:
  void load_from(int64_t offset, int64_t end, int64_t records);

  const int32_t index_;
  std::shared_ptr<cluster::Partition> partition_;
  const GroupConfig config_;
  Schedule schedule_;
  std::atomic<bool> loaded_{false};
  std::unique_ptr<OffsetStore> offsets_;
  std::unique_ptr<GroupManager> groups_;
};

}  // namespace kaffa::coordinator
