// TxnCoordinator: Kafka's transaction coordinator. A transactional id maps to one partition of the
// internal topic __transaction_state (abs(Java hashCode of the id) mod
// transaction.state.log.num.partitions); the broker leading that partition coordinates the id
// through the partition's TxnShard (txn_shard.h). Shards are made and retired as
// coordinator::ShardRouter describes: all at once on a single node (the topic is created on first
// use), by leadership in a cluster.
//
// Threading: any thread for routing; shard work runs on the shards' loops.
#pragma once

#include <functional>
#include <memory>
#include <string_view>

#include "cluster/partition_manager.h"
#include "coordinator/shard_router.h"
#include "txn/markers.h"
#include "txn/txn_config.h"
#include "txn/txn_shard.h"

namespace kaffa::txn {

class TxnCoordinator {
 public:
  TxnCoordinator(TxnConfig config, cluster::PartitionManager& partitions, TxnServices services,
                 MarkerWriter::OffsetsDone offsets_done);
  ~TxnCoordinator();

  // As ShardRouter: a single node with the topic (start), without it yet (start_lazily: `create`
  // makes it on first use), or a cluster member (start_led, then on_leadership).
  void start(int32_t partitions);
  void start_lazily(int32_t partitions, std::function<bool()> create);
  void start_led(int32_t partitions);
  bool ensure_started() { return router_.ensure_started(); }
  void on_leadership(int32_t partition, bool leader) { router_.on_leadership(partition, leader); }
  bool all_loaded() const { return router_.all_loaded(); }

  const TxnConfig& config() const { return config_; }
  int32_t partitions() const { return router_.partitions(); }
  int32_t partition_for(std::string_view transactional_id) const;
  // Runs fn on the id's shard's loop with the shard, or with nullptr and the error to answer.
  void with_shard(std::string_view transactional_id,
                  std::function<void(TxnShard*, protocol::ErrorCode)> fn);
  // Runs fn on each current loaded shard's loop, then done() once all ran (any loop).
  void for_each_shard(std::function<void(TxnShard*)> fn, std::function<void()> done);
  MarkerWriter& markers() { return markers_; }

 private:
  void arm_timers(TxnShard* s);
  void arm(TxnShard* s, int64_t interval_ms, void (TxnShard::*pass)());

  const TxnConfig config_;
  TxnServices services_;
  MarkerWriter markers_;
  coordinator::ShardRouter<TxnShard> router_;
};

}  // namespace kaffa::txn
