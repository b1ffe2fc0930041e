// Broker: the dynamic broker configs of dynamic_configs.h, where they are kept, and what they set.
//   this broker's own values  <log.dirs>/__kaffa_metadata/dynamic-broker-configs, with the dynamic
//                             TLS values (tls_config::edit_dynamic)
//   cluster-wide defaults     a single node: dynamic-default-broker-configs beside it; a cluster:
//                             the metadata store's record <prefix>/broker_configs, which every
//                             broker follows (apply_image)
// In force, they set the replication quotas' bounds, the defaults every partition resolves its
// topic's configs against (PartitionManager::set_defaults), the connection limits, the log
// cleaner's settings, the replica fetcher's threads and the controller's unclean election. Both
// layers apply again after a restart.
#include <filesystem>

#include "base/log.h"
#include "broker/broker.h"
#include "broker/shared_records.h"
#include "broker/tls_config.h"
#include "cluster/replica_manager.h"

namespace kaffa::broker {
namespace {

using dynamic_configs::Values;

std::string describe(const Values& values) {
  std::string out;
  for (const auto& [name, value] : values) out += (out.empty() ? "" : ", ") + name + "=" + value;
  return out.empty() ? "none" : out;
}

}  // namespace

void Broker::load_dynamic_configs() {
  std::string error;
  auto own = tls_config::load_dynamic(tls_config::dynamic_path(config_.log_dir), &error);
  if (!own) throw std::runtime_error(error);
  std::erase_if(*own, [](const auto& kv) { return !dynamic_configs::is_dynamic(kv.first); });
  auto defaults =
      shared::load_file<Values>(tls_config::dynamic_default_path(config_.log_dir), clustered(),
                                "cluster-wide dynamic broker configs", tls_config::decode_dynamic);
  std::lock_guard lock(dynamic_mu_);
  dynamic_ = {std::move(*own), defaults.value_or(Values{})};
  if (auto why = apply_dynamic_configs_locked(false)) {
    throw std::runtime_error("dynamic broker configs: " + *why);
  }
  if (!dynamic_.own.empty()) log::info("dynamic broker configs: {}", describe(dynamic_.own));
  if (!dynamic_.cluster_default.empty()) {
    log::info("cluster-wide dynamic broker configs: {}", describe(dynamic_.cluster_default));
  }
}

void Broker::apply_broker_config_record(const cluster::MetadataImage* previous,
                                        const cluster::MetadataImage& current) {
  if (previous != nullptr && previous->broker_configs == current.broker_configs) return;
  auto set = shared::decode_record<Values>(current.broker_configs, "dynamic broker configs",
                                           tls_config::decode_dynamic);
  if (!set) return;
  std::lock_guard lock(dynamic_mu_);
  if (dynamic_.cluster_default == *set) return;
  dynamic_.cluster_default = std::move(*set);
  log::info("cluster-wide dynamic broker configs: {}", describe(dynamic_.cluster_default));
  // The first image is this broker's start: its values are taken as they are (as Kafka's
  // initial dynamic configs), later ones are changes from what is in force.
  if (auto why = apply_dynamic_configs_locked(previous != nullptr)) {
    // Each layer was checked when it was changed, but a default set through another broker was
    // checked with that broker's own values: the values in force here stay.
    log::error("dynamic broker configs not applied: {}", *why);
  }
}

std::optional<std::string> Broker::apply_dynamic_configs_locked(bool change) {
  BrokerConfig in_force;
  if (auto why =
          dynamic_configs::effective(config_, dynamic_.cluster_default, dynamic_.own, in_force)) {
    return why;
  }
  if (change) {
    if (auto why = dynamic_configs::check_reconfiguration(in_force_, in_force)) return why;
  }
  put_in_force_locked(std::move(in_force));
  return std::nullopt;
}

void Broker::put_in_force_locked(BrokerConfig in_force) {
  if (server_) {
    server_->set_connection_limits(in_force.max_connections, in_force.max_connections_per_ip,
                                   in_force.max_connections_per_ip_overrides);
  }
  leader_quota_->set_bound(in_force.cluster.leader_replication_throttled_rate);
  follower_quota_->set_bound(in_force.cluster.follower_replication_throttled_rate);
  move_quota_->set_bound(in_force.cluster.replica_alter_log_dirs_io_max_bytes_per_second);
  if (partitions_) {
    partitions_->set_defaults(dynamic_configs::log_defaults(in_force));
    partitions_->set_recovery_threads(in_force.num_recovery_threads_per_data_dir);
  }
  if (cleaner_) cleaner_->reconfigure(dynamic_configs::cleaner_config(in_force));
  if (replica_manager_) replica_manager_->fetcher().resize(in_force.cluster.num_replica_fetchers);
  if (metadata_) {
    metadata_->set_unclean_leader_election(in_force.cluster.unclean_leader_election_enable);
  }
  in_force_ = std::move(in_force);
}

Broker::DynamicConfigs Broker::dynamic_configs() const {
  std::lock_guard lock(dynamic_mu_);
  return dynamic_;
}

void Broker::alter_dynamic_configs(bool cluster_default, cluster::ConfigChange change,
                                   bool validate_only, DynamicDone done) {
  // The layer after `change`, checked with the other layer (the configuration they make in
  // `in_force`) and as a change from the configuration in force; dynamic_mu_ held: "" or the
  // message.
  auto checked = [this, cluster_default, change](Values& layer, BrokerConfig& in_force) {
    if (auto why = change(layer)) return *why;
    std::erase_if(layer, [](const auto& kv) { return !dynamic_configs::is_dynamic(kv.first); });
    auto why =
        dynamic_configs::effective(config_, cluster_default ? layer : dynamic_.cluster_default,
                                   cluster_default ? dynamic_.own : layer, in_force);
    if (!why) why = dynamic_configs::check_reconfiguration(in_force_, in_force);
    return why.value_or("");
  };
  std::unique_lock lock(dynamic_mu_);
  Values next = cluster_default ? dynamic_.cluster_default : dynamic_.own;
  BrokerConfig in_force;
  if (auto invalid = checked(next, in_force); !invalid.empty() || validate_only) {
    lock.unlock();
    return done(std::move(invalid), "");
  }
  if (cluster_default && metadata_) {
    // The record's newest text is changed (again after a lost race) and checked against this
    // broker's own values; every broker puts it in force from its image.
    lock.unlock();
    auto refused = std::make_shared<std::string>();
    shared::update_set<Values>(
        *metadata_, cluster::EtcdMetadata::Shared::broker_configs, "dynamic broker configs",
        [this, checked, refused](Values& all) {
          const Values before = all;
          BrokerConfig unused;  // each broker works its own out from its image
          std::lock_guard lock(dynamic_mu_);
          *refused = checked(all, unused);
          return refused->empty() && all != before;
        },
        tls_config::decode_dynamic, tls_config::encode_dynamic,
        [done, refused](std::string error) { done(*refused, std::move(error)); });
    return;
  }
  std::string error;
  bool saved = false;
  if (cluster_default) {
    saved =
        tls_config::save_dynamic(tls_config::dynamic_default_path(config_.log_dir), next, &error);
  } else {
    saved = tls_config::edit_dynamic(
        tls_config::dynamic_path(config_.log_dir),
        [&next](Values& all) {
          std::erase_if(all, [](const auto& kv) { return dynamic_configs::is_dynamic(kv.first); });
          all.insert(next.begin(), next.end());
        },
        &error);
  }
  if (!saved) {
    lock.unlock();
    log::error("cannot persist the dynamic broker configs: {}", error);
    return done("", "Cannot persist the dynamic broker configs: " + error);
  }
  (cluster_default ? dynamic_.cluster_default : dynamic_.own) = std::move(next);
  log::info("{}dynamic broker configs: {}", cluster_default ? "cluster-wide " : "",
            describe(cluster_default ? dynamic_.cluster_default : dynamic_.own));
  put_in_force_locked(std::move(in_force));
  lock.unlock();
  done("", "");
}

}  // namespace kaffa::broker
