// ReplicaManager: applies each metadata image to the partitions of this broker (Kafka's
// ReplicaManager.applyDelta) — opens or creates the logs of partitions assigned here, removes
// those no longer assigned (topic deleted, reassigned), makes each partition leader or follower
// when its leader, leader epoch or (for a leader) ISR changed, and starts or stops following in
// the ReplicaFetcher. Only in cluster mode (metadata.store set); a single node never builds one.
//
// Transitions run on the partition's owner loop (posted, in image order: one loop runs posts in
// order), then the leadership listener (the group coordinator follows __consumer_offsets).
// A partition that cannot be opened yet (its directory is still being removed after a deletion
// of a topic of the same name) is retried when that removal ends.
//
// Threading: apply() from the metadata thread (never concurrently; a retry after a removal takes
// the same lock); on_leadership before the first apply; shutdown from any thread.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "cluster/metadata_image.h"
#include "cluster/partition_manager.h"
#include "cluster/replica_fetcher.h"

namespace kaffa::cluster {

struct ReplicaManagerSettings {
  int64_t replica_lag_time_max_ms = 30000;  // replica.lag.time.max.ms
  ReplicaFetcherSettings fetcher;           // replica.fetch.*, num.replica.fetchers (self set here)
};

// A broker id's inter-broker endpoint; nullopt when unknown (not registered). When empty, the
// ReplicaManager looks it up in the image being applied (the broker's inter_broker_listener).
using ResolveBroker = std::function<std::optional<BrokerEndpoint>(int32_t broker_id)>;

class ReplicaManager {
 public:
  ReplicaManager(int32_t node_id, PartitionManager& partitions, Post post,
                 ReplicaManagerSettings settings, AlterPartition alter, ResolveBroker resolve = {});
  ~ReplicaManager();  // shutdown()

  // Metadata thread: `current` is the newest image, `previous` the one applied before (null the
  // first time; not needed: the manager remembers what it applied).
  void apply(ImagePtr previous, ImagePtr current);

  // Called on the partition's owner loop after each transition of a partition hosted here.
  using LeadershipListener =
      std::function<void(const std::string& topic, int32_t index, bool leader, int32_t epoch)>;
  void on_leadership(LeadershipListener fn) { listener_ = std::move(fn); }

  // This broker lost its metadata-store session (the controller will move its leaderships): every
  // partition it leads steps down at once (a follower of no one: producers and consumers get
  // NOT_LEADER_OR_FOLLOWER and look elsewhere, acks=all waiters fail), and the next image
  // naming it leader makes it leader again.
  void fence();

  // Offline replicas go to `fn` (set before the first apply; called on the thread that found
  // them, outside the manager's lock) as (topic id, partition), for the
  // controller (EtcdMetadata::report_offline_replicas): those take_offline() names, and those
  // assigned here whose log may be in a log directory offline since the start
  // (PartitionManager::unavailable), found by apply. Later images leave them as they are.
  using OfflineReplicas = std::function<void(std::vector<std::pair<protocol::Uuid, int32_t>>)>;
  void on_offline_replicas(OfflineReplicas fn) { offline_listener_ = std::move(fn); }
  // Any thread: these partitions' log directory failed (PartitionManager::on_log_dir_failure).
  // They stop fetching, the leadership listener hears that each is led no more (a coordinator
  // resigns), and those assigned here are reported offline (above).
  void take_offline(const std::vector<std::shared_ptr<Partition>>& offline);

  // Stops the fetcher threads. Idempotent; apply() does nothing afterwards.
  void shutdown();

  ReplicaFetcher& fetcher() { return fetcher_; }
  const ReplicaFetcher& fetcher() const { return fetcher_; }
  // ISR shrinks and expansions of the partitions this broker leads (any thread, for /metrics).
  const Partition::IsrChangeCounters& isr_changes() const { return *isr_changes_; }

 private:
  struct Applied {
    PartitionState state;
    protocol::Uuid topic_id;
    const Partition* partition = nullptr;
    std::optional<BrokerEndpoint> leader_endpoint;  // followers: where the fetcher connects
  };
  using Key = std::pair<std::string, int32_t>;

  // Under mu_: applies `image`; returns the partitions to remove (outside the lock).
  std::vector<Key> apply_locked(const ImagePtr& image);
  void remove(std::vector<Key> gone);
  void transition(const std::shared_ptr<Partition>& p, const PartitionState& s, bool role_change);
  // Followers: (re)starts fetching from the leader's endpoint when it is new or moved.
  void follow(const std::shared_ptr<Partition>& p, const PartitionState& s, Applied& applied,
              bool restart, const MetadataImage& image);
  std::optional<BrokerEndpoint> endpoint_of(int32_t broker, const MetadataImage& image) const;

  const int32_t self_;
  PartitionManager& partitions_;
  Post post_;
  const ReplicaManagerSettings settings_;
  AlterPartition alter_;
  ResolveBroker resolve_;
  LeadershipListener listener_;
  ReplicaFetcher fetcher_;
  const std::shared_ptr<Partition::IsrChangeCounters> isr_changes_ =
      std::make_shared<Partition::IsrChangeCounters>();

  std::mutex mu_;
  bool stopped_ = false;
  ImagePtr latest_;
  std::map<Key, Applied> applied_;
  std::set<Key> offline_;  // take_offline(), or unavailable: left alone by apply
  std::vector<std::pair<protocol::Uuid, int32_t>> unavailable_;  // offline, to report
  OfflineReplicas offline_listener_;
  void report_unavailable();  // outside mu_
};

}  // namespace kaffa::cluster
