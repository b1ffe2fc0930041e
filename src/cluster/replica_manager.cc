#include "cluster/replica_manager.h"

#include <algorithm>
#include <chrono>
#include <set>
#include <vector>

#include "base/clock.h"
#include "base/log.h"

namespace kaffa::cluster {
namespace {

ReplicaFetcherSettings with_self(ReplicaFetcherSettings s, int32_t self) {
  s.self = self;
  return s;
}

bool contains(const std::vector<int32_t>& v, int32_t id) {
  return std::find(v.begin(), v.end(), id) != v.end();
}

}  // namespace

ReplicaManager::ReplicaManager(int32_t node_id, PartitionManager& partitions, Post post,
                               ReplicaManagerSettings settings, AlterPartition alter,
                               ResolveBroker resolve)
    : self_(node_id),
      partitions_(partitions),
      post_(post),
      settings_(settings),
      alter_(std::move(alter)),
      resolve_(std::move(resolve)),
      fetcher_(with_self(settings.fetcher, node_id), std::move(post)) {
  partitions_.enable_replication();
}

ReplicaManager::~ReplicaManager() {
  shutdown();
}

void ReplicaManager::shutdown() {
  {
    std::lock_guard lock(mu_);
    stopped_ = true;
  }
  fetcher_.shutdown();
}

void ReplicaManager::fence() {
  std::lock_guard lock(mu_);
  if (stopped_) return;
  for (auto& [key, a] : applied_) {
    if (a.state.leader != self_) continue;
    PartitionState stepped = a.state;
    stepped.leader = -1;
    a.state = stepped;  // a later image naming this broker leader is a role change again
    if (auto p = partitions_.get(key.first, key.second)) transition(p, stepped, true);
  }
}

void ReplicaManager::apply(ImagePtr /*previous*/, ImagePtr current) {
  if (!current) return;
  std::vector<Key> gone;
  {
    std::lock_guard lock(mu_);
    if (stopped_) return;
    latest_ = current;
    gone = apply_locked(current);
  }
  report_unavailable();
  remove(std::move(gone));
}

void ReplicaManager::report_unavailable() {
  std::vector<std::pair<protocol::Uuid, int32_t>> replicas;
  {
    std::lock_guard lock(mu_);
    replicas.swap(unavailable_);
  }
  if (!replicas.empty() && offline_listener_) offline_listener_(std::move(replicas));
}

void ReplicaManager::take_offline(const std::vector<std::shared_ptr<Partition>>& offline) {
  std::unique_lock lock(mu_);
  for (const auto& p : offline) {
    const Key key{p->topic(), p->index()};
    offline_.insert(key);
    fetcher_.unfollow(key.first, key.second);
    if (auto it = applied_.find(key); it != applied_.end()) {
      unavailable_.emplace_back(it->second.topic_id, key.second);
    }
    // A coordinator on this partition resigns: no leadership of it is applied here any more.
    if (listener_) {
      post_(p->shard(), [p, listener = listener_] {
        listener(p->topic(), p->index(), false, p->leader_epoch());
      });
    }
  }
  lock.unlock();
  report_unavailable();
}

void ReplicaManager::remove(std::vector<Key> gone) {
  if (gone.empty()) return;
  // Once removed, the newest image is applied again: a topic of the same name (a new topic id)
  // or a partition that could not be opened meanwhile gets its log now.
  partitions_.remove_partitions(gone, [this] {
    std::vector<Key> more;
    {
      std::lock_guard lock(mu_);
      if (stopped_ || !latest_) return;
      more = apply_locked(latest_);
    }
    report_unavailable();
    remove(std::move(more));
  });
}

std::optional<BrokerEndpoint> ReplicaManager::endpoint_of(int32_t broker,
                                                          const MetadataImage& image) const {
  if (resolve_) return resolve_(broker);
  const BrokerRegistration* b = image.broker(broker);
  if (b == nullptr) return std::nullopt;
  if (const BrokerEndpoint* e = b->endpoint(b->inter_broker_listener)) return *e;
  if (!b->endpoints.empty()) return b->endpoints.front();
  return std::nullopt;
}

std::vector<ReplicaManager::Key> ReplicaManager::apply_locked(const ImagePtr& image) {
  // Replicas new here are opened (recovered) in parallel first: all of them at start-up.
  std::vector<std::pair<const TopicInfo*, int32_t>> fresh;
  for (const auto& [name, topic] : image->topics) {
    for (size_t i = 0; i < topic.partitions.size(); ++i) {
      if (contains(topic.partitions[i].replicas, self_) &&
          applied_.count({name, static_cast<int32_t>(i)}) == 0) {
        fresh.emplace_back(&topic.info, static_cast<int32_t>(i));
      }
    }
  }
  if (fresh.size() > 1) partitions_.open_replicas(fresh);
  std::set<Key> assigned;
  for (const auto& [name, topic] : image->topics) {
    for (size_t i = 0; i < topic.partitions.size(); ++i) {
      const PartitionState& s = topic.partitions[i];
      if (!contains(s.replicas, self_)) continue;
      const Key key{name, static_cast<int32_t>(i)};
      auto prev = applied_.find(key);
      if (prev != applied_.end() && !(prev->second.topic_id == topic.info.id)) {
        continue;  // another topic of this name is still here: removed below, then retried
      }
      assigned.insert(key);
      if (offline_.count(key) != 0) continue;  // its log directory failed
      std::string error;
      auto p = partitions_.open_replica(topic.info, key.second, &error);
      if (!p && partitions_.unavailable(name, key.second)) {
        offline_.insert(key);
        unavailable_.emplace_back(topic.info.id, key.second);
        continue;
      }
      if (!p) {
        log::warn("cannot open replica {}-{} yet: {}", name, key.second, error);
        continue;
      }
      const bool fresh = prev == applied_.end() || prev->second.partition != p.get();
      const PartitionState* last = fresh ? nullptr : &prev->second.state;
      const bool role_change =
          last == nullptr || last->leader != s.leader || last->leader_epoch != s.leader_epoch;
      const bool isr_change = last != nullptr && s.leader == self_ &&
                              (last->isr != s.isr || last->partition_epoch != s.partition_epoch ||
                               last->replicas != s.replicas);
      auto endpoint = fresh ? std::nullopt : prev->second.leader_endpoint;
      Applied& a = applied_[key] = Applied{s, topic.info.id, p.get(), std::move(endpoint)};
      if (role_change || isr_change) transition(p, s, role_change);
      if (s.leader == self_) {
        a.leader_endpoint.reset();
      } else {
        follow(p, s, a, role_change, *image);
      }
    }
  }
  // Partitions no longer assigned here (deleted topics, reassignments, a replaced topic id).
  std::vector<Key> gone;
  for (const auto& [key, a] : applied_) {
    if (assigned.count(key) == 0) gone.push_back(key);
  }
  for (const auto& key : gone) {
    fetcher_.unfollow(key.first, key.second);
    applied_.erase(key);
    log::info("replica {}-{} is no longer assigned here; removing it", key.first, key.second);
  }
  fetcher_.retire_idle();  // threads whose partitions all moved or went
  return gone;
}

void ReplicaManager::transition(const std::shared_ptr<Partition>& p, const PartitionState& s,
                                bool role_change) {
  const bool lead = s.leader == self_;
  if (lead) fetcher_.unfollow(p->topic(), p->index());
  Partition::ReplicationSettings rs{settings_.replica_lag_time_max_ms, alter_, isr_changes_, self_};
  post_(p->shard(), [p, s, rs, lead, role_change, self = self_, listener = listener_] {
    p->set_replication(rs);
    if (lead) {
      p->make_leader(s, self, clock::wall_ms());
    } else {
      p->make_follower(s);
    }
    if (role_change && listener) listener(p->topic(), p->index(), lead, s.leader_epoch);
  });
}

void ReplicaManager::follow(const std::shared_ptr<Partition>& p, const PartitionState& s,
                            Applied& applied, bool restart, const MetadataImage& image) {
  auto endpoint = s.leader >= 0 ? endpoint_of(s.leader, image) : std::nullopt;
  if (!endpoint) {
    if (s.leader >= 0) {
      log::warn("{}-{}: leader {} has no known endpoint; not fetching", p->topic(), p->index(),
                s.leader);
    }
    if (applied.leader_endpoint || restart) fetcher_.unfollow(p->topic(), p->index());
    applied.leader_endpoint.reset();
    return;
  }
  if (!restart && applied.leader_endpoint == endpoint) return;
  applied.leader_endpoint = endpoint;
  fetcher_.follow(p, s.leader, *endpoint, s.leader_epoch);
}

}  // namespace kaffa::cluster
