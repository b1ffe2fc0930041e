// GroupCoordinator: Kafka's classic group coordinator for a single node. Every group id maps to
// one partition of the internal compacted topic __consumer_offsets (as Kafka: abs(Java hashCode
// of the id) mod offsets.topic.num.partitions); each partition has its CoordinatorShard on the
// partition's owner loop, holding that partition's groups and committed offsets.
//
// Threading: the router itself is immutable after start() and safe from any thread; all group
// and offset state lives in the shards (coordinator_shard.h).
#pragma once

#include <functional>
#include <memory>
#include <string_view>
#include <vector>

#include "cluster/partition_manager.h"
#include "coordinator/coordinator_shard.h"
#include "coordinator/group_config.h"

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

  const GroupConfig& config() const { return config_; }
  int32_t partition_for(std::string_view group_id) const;

  // Runs fn on the loop of the group's shard, with that shard, or with nullptr while the shard
  // is still loading (answer COORDINATOR_LOAD_IN_PROGRESS then).
  void with_shard(std::string_view group_id, std::function<void(CoordinatorShard*)> fn);
  // Runs fn on every shard's own loop (nullptr for a shard still loading) — so calls for
  // different shards may run concurrently on different loops: guard what they share — then
  // done() on the loop of the last one to finish.
  void for_each_shard(std::function<void(CoordinatorShard*)> fn, std::function<void()> done);
  // Any thread: every shard has replayed its offsets partition (readiness).
  bool all_loaded() const;

 private:
  void arm_expiry(size_t index);

  const GroupConfig config_;
  cluster::PartitionManager& partitions_;
  Post post_;
  Schedule schedule_;
  std::vector<std::unique_ptr<CoordinatorShard>> shards_;
};

}  // namespace kaffa::coordinator
