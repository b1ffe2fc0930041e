// GroupCoordinator: Kafka's classic group coordinator. Every group id maps to one partition of
// the internal compacted topic __consumer_offsets (as Kafka: abs(Java hashCode of the id) mod
// offsets.topic.num.partitions); each partition has its CoordinatorShard on the partition's owner
// loop, holding that partition's groups and committed offsets.
//
// A single node leads every offsets partition: start() makes all shards at once, or
// start_lazily() on the first group request when the offsets topic has to be created (Kafka
// creates __consumer_offsets on first use, not with the broker). In a cluster a
// broker coordinates the groups of the offsets partitions it leads: start_led() makes none, and
// on_leadership() makes a shard (which loads the partition) when this broker becomes leader and
// retires it when it stops leading — requests then answer NOT_COORDINATOR and clients look the
// coordinator up again. A retired shard is kept (its timers may still fire) but never used.
//
// Shards are made, routed to and retired by coordinator::ShardRouter (shard_router.h), which the
// transaction coordinator shares.
//
// Threading: the router is safe from any thread (each partition's current shard is an atomic
// pointer); all group and offset state lives in the shards (coordinator_shard.h), and a
// partition's shards are made and retired on its owner loop.
#pragma once

#include <functional>
#include <memory>
#include <string_view>

#include "cluster/partition_manager.h"
#include "coordinator/coordinator_shard.h"
#include "coordinator/group_config.h"
#include "coordinator/shard_router.h"

namespace kaffa::coordinator {

inline constexpr const char* kOffsetsTopic = "__consumer_offsets";

// Java's String.hashCode of the UTF-16 form of a UTF-8 string.
int32_t java_string_hash(std::string_view s);

class GroupCoordinator {
 public:
  using Post = std::function<void(size_t loop, std::function<void()> fn)>;

  GroupCoordinator(GroupConfig config, cluster::PartitionManager& partitions, Post post,
                   Schedule schedule);
  ~GroupCoordinator();

  // Start-up, before serving: creates a shard for each partition of the offsets topic (which
  // must exist) and posts its load() to its loop. Also arms the periodic offset expiry.
  void start();
  // Start-up in a cluster: no shard until on_leadership().
  void start_led();
  // Start-up of a single node whose offsets topic does not exist yet: as Kafka, the topic is
  // made on first use. The first group request or FindCoordinator runs ensure_started(), which
  // calls `create` (it makes the topic; false on failure) and then does what start() does.
  void start_lazily(std::function<bool()> create);
  // Any thread: true once the shards exist (at once unless start_lazily() deferred them);
  // false if `create` failed (the next call tries again).
  bool ensure_started();
  // On the owner loop of offsets partition `partition`: this broker became its leader (a shard
  // is made and loads it) or stopped leading it (the shard retires).
  void on_leadership(int32_t partition, bool leader);

  const GroupConfig& config() const { return config_; }
  int32_t partition_for(std::string_view group_id) const;

  // Runs fn on the loop of the group's shard with that shard and NONE, or with nullptr and the
  // error to answer: COORDINATOR_LOAD_IN_PROGRESS while it loads, NOT_COORDINATOR when this
  // broker does not lead the group's partition (in a cluster).
  void with_shard(std::string_view group_id,
                  std::function<void(CoordinatorShard*, protocol::ErrorCode)> fn);
  // Runs fn on every current shard's own loop (nullptr for a shard still loading) — so calls
  // for different shards may run concurrently on different loops: guard what they share — then
  // done() on the loop of the last one to finish. Partitions this broker does not lead are
  // skipped.
  void for_each_shard(std::function<void(CoordinatorShard*)> fn, std::function<void()> done);
  // Any thread: every current shard has replayed its offsets partition (readiness).
  bool all_loaded() const;

  // Any thread, for the transaction coordinator: the commit (commit = true) or abort marker of
  // producer_id has been appended to offsets partition `offsets_partition` and replicated. On the
  // shard's loop the producer's pending transactional offsets there become committed (each
  // unless a later record set its partition's offset) or are dropped; then done() runs on that
  // loop. When no loaded shard of this broker leads the partition, done() runs at once (a shard
  // that loads later replays the marker from the log). The caller must wait for done() before
  // the producer may start its next transaction (Kafka's marker write completes the same way),
  // so that a late completion cannot touch the offsets of a later transaction.
  void complete_transaction(int32_t offsets_partition, int64_t producer_id, bool commit,
                            std::function<void()> done);

 private:
  void arm_expiry(CoordinatorShard* s);

  const GroupConfig config_;
  Schedule schedule_;
  ShardRouter<CoordinatorShard> router_;
};

}  // namespace kaffa::coordinator
