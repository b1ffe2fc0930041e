// MarkerWriter: writes a finished transaction's markers — one control batch (COMMIT or ABORT,
// record/control.h) per partition the transaction touched — at each partition's leader, and
// reports when every partition has one (Kafka's TransactionMarkerChannelManager). A marker counts
// once it is replicated (acks=all, Partition::when_replicated); a marker on a __consumer_offsets
// partition is then also handed to the group coordinator (the `offsets_done` hook), which makes
// the producer's pending transactional offsets visible or drops them.
//
// Retries: a partition whose leader cannot take the marker now (NOT_LEADER_OR_FOLLOWER, too few
// in-sync replicas, a storage error) is tried again every retry_backoff_ms until it does; a
// partition that no longer exists (its topic was deleted) counts as done, as in Kafka. A marker
// refused as stale (the producer was fenced by a newer epoch, or a newer coordinator wrote one)
// counts as done too: the newer writer owns the partition's transaction state.
//
// In a cluster a partition led by another broker gets its marker through WriteTxnMarkers
// (`remote`); a single node leads every partition it has.
//
// Threading: write() from any thread; done runs on some loop.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <set>

#include "cluster/partition_manager.h"
#include "txn/txn_metadata.h"

namespace kaffa::txn {

struct Marker {
  int64_t producer_id = -1;
  int16_t producer_epoch = -1;
  int32_t coordinator_epoch = 0;
  bool commit = false;
};

class MarkerWriter {
 public:
  using Post = std::function<void(size_t loop, std::function<void()> fn)>;
  using Schedule = std::function<void(size_t loop, int64_t delay_ms, std::function<void()> fn)>;
  // The group coordinator's completion of a __consumer_offsets partition's pending offsets; calls
  // done (any thread) when applied.
  using OffsetsDone = std::function<void(int32_t partition, int64_t producer_id, bool commit,
                                         std::function<void()> done)>;
  // Cluster: sends the marker for `tp` to its leader (WriteTxnMarkers); done(true) once written,
  // done(false) to retry later. Unset on a single node.
  using Remote = std::function<void(const Marker& m, const TopicPartition& tp,
                                    std::function<void(bool written)> done)>;

  MarkerWriter(cluster::PartitionManager& partitions, Post post, Schedule schedule,
               OffsetsDone offsets_done, int64_t retry_backoff_ms = 100)
      : partitions_(partitions),
        post_(std::move(post)),
        schedule_(std::move(schedule)),
        offsets_done_(std::move(offsets_done)),
        retry_backoff_ms_(retry_backoff_ms) {}
  void set_remote(Remote remote) { remote_ = std::move(remote); }

  void write(const Marker& m, const std::set<TopicPartition>& partitions,
             std::function<void()> done);

  // Appends `m` to a local partition this broker leads and waits for its replication; then, on a
  // __consumer_offsets partition, for the group coordinator. done(error) on the partition's loop:
  // NONE when written or stale (see above), else why it must be retried. Used by write() and by
  // the WriteTxnMarkers handler.
  void write_local(const Marker& m, const TopicPartition& tp,
                   std::function<void(protocol::ErrorCode)> done);

 private:
  struct Progress;
  void deliver(std::shared_ptr<Progress> progress, TopicPartition tp);

  cluster::PartitionManager& partitions_;
  Post post_;
  Schedule schedule_;
  OffsetsDone offsets_done_;
  const int64_t retry_backoff_ms_;
  Remote remote_;
};

}  // namespace kaffa::txn
