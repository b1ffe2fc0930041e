// Changes to an existing topic: its config overrides (AlterConfigs, IncrementalAlterConfigs) and
// its partition count (CreatePartitions) — in the registry (durably), in the partition manager
// and in the partitions themselves, without a restart.
#include <filesystem>

#include "base/log.h"
#include "cluster/partition.h"
#include "cluster/partition_manager.h"
#include "cluster/topic_registry.h"

namespace kaffa::cluster {

bool TopicRegistry::set_configs(std::string_view name, std::map<std::string, std::string> configs,
                                std::string* error) {
  std::unique_lock lock(mu_);
  auto it = topics_.find(name);
  if (it == topics_.end()) return false;
  std::swap(it->second.configs, configs);
  std::string why;
  if (!persist_locked(&why)) {
    log::error("cannot persist the configs of topic {}: {}", it->first, why);
    std::swap(it->second.configs, configs);
    if (error) *error = why;
    return false;
  }
  return true;
}

bool TopicRegistry::add_partitions(std::string_view name, int32_t new_count, std::string* error) {
  std::unique_lock lock(mu_);
  auto it = topics_.find(name);
  if (it == topics_.end() || new_count <= it->second.partitions) return false;
  const int32_t old_count = it->second.partitions;
  it->second.partitions = new_count;
  std::string why;
  if (!persist_locked(&why)) {
    log::error("cannot persist the new partition count of topic {}: {}", it->first, why);
    it->second.partitions = old_count;
    if (error) *error = why;
    return false;
  }
  return true;
}

void Partition::set_config(PartitionConfig config) {
  config_ = std::move(config);
  log_->set_config(config_.log);
  if (future_) future_->set_config(config_.log);
  publish();
  publish_throttles();
}

// Both kinds of change resolve on the owner loop with the defaults in force when the task runs,
// so that whichever runs last leaves the newest topic configs with the newest defaults.
void PartitionManager::update_topic_config(const TopicInfo& topic) {
  std::vector<std::shared_ptr<Partition>> targets;
  {
    std::lock_guard lock(mu_);
    for (const auto& [key, p] : partitions_) {
      if (key.first == topic.name) targets.push_back(p);
    }
  }
  for (auto& p : targets) {
    const size_t shard = p->shard();
    post_(shard, [this, p = std::move(p), configs = topic.configs] { reconfigure(*p, configs); });
  }
}

void PartitionManager::set_defaults(LogDefaults defaults) {
  std::vector<std::shared_ptr<Partition>> targets;
  {
    std::lock_guard lock(mu_);
    defaults_ = std::make_shared<const LogDefaults>(std::move(defaults));
    for (const auto& [key, p] : partitions_) targets.push_back(p);
  }
  for (auto& p : targets) {
    const size_t shard = p->shard();
    post_(shard, [this, p = std::move(p)] { reconfigure(*p, p->config().topic_configs); });
  }
}

std::shared_ptr<const LogDefaults> PartitionManager::defaults() const {
  std::lock_guard lock(mu_);
  return defaults_;
}

void PartitionManager::reconfigure(Partition& p,
                                   const std::map<std::string, std::string>& topic_configs) const {
  const auto d = defaults();
  PartitionConfig cfg = resolve_partition_config(*d, topic_configs);
  cfg.defaults = d;
  p.set_config(std::move(cfg));
}

void PartitionManager::adopt_locked(const std::shared_ptr<Partition>& p) {
  if (p->config().defaults == defaults_) return;
  post_(p->shard(), [this, p] { reconfigure(*p, p->config().topic_configs); });
}

bool PartitionManager::add_partitions(const TopicInfo& topic, int32_t from, std::string* error) {
  {
    std::lock_guard lock(mu_);
    if (deleting_.count(topic.name) != 0) {
      if (error) *error = "Topic '" + topic.name + "' is marked for deletion.";
      return false;
    }
  }
  std::vector<std::shared_ptr<Partition>> created;
  for (int32_t i = from; i < topic.partitions; ++i) {
    if (get(topic.name, i)) continue;  // already open (a retried request)
    std::error_code ec;
    std::filesystem::remove_all(partition_dir(topic.name, i), ec);  // no stale data survives
    auto p = open_partition(topic, i, 0, error);
    if (!p) return false;
    created.push_back(std::move(p));
  }
  if (!sync_parents(created, error)) return false;
  std::lock_guard lock(mu_);
  for (auto& p : created) {
    adopt_locked(p);
    partitions_[{topic.name, p->index()}] = std::move(p);
  }
  return true;
}

}  // namespace kaffa::cluster
