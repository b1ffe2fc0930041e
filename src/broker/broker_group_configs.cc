// Broker: where the per-group configs live (coordinator/group_configs.h). A single node keeps them
// in `__kaffa_metadata/group-configs`; a cluster as one record of the metadata store
// (`<prefix>/group_configs`, the same text), which every broker follows, so that a group's
// coordinator uses them wherever the group's offsets partition is led.
#include <filesystem>

#include "base/log.h"
#include "broker/broker.h"
#include "broker/shared_records.h"
#include "cluster/etcd_metadata.h"

namespace kaffa::broker {
namespace {

std::filesystem::path group_configs_file(const std::string& log_dir) {
  return std::filesystem::path(log_dir) / "__kaffa_metadata" / "group-configs";
}

}  // namespace

void Broker::load_group_configs() {
  auto set = shared::load_file<coordinator::GroupConfigSet>(group_configs_file(config_.log_dir),
                                                            clustered(), "group configs",
                                                            coordinator::decode_group_configs);
  if (!set) return;
  if (!set->empty()) log::info("group configs: {} groups", set->size());
  group_configs_->replace(std::move(*set));
}

void Broker::apply_group_config_record(const cluster::MetadataImage* previous,
                                       const cluster::MetadataImage& current) {
  if (previous != nullptr && previous->group_configs == current.group_configs) return;
  if (auto set = shared::decode_record<coordinator::GroupConfigSet>(
          current.group_configs, "group configs", coordinator::decode_group_configs)) {
    group_configs_->replace(std::move(*set));
  }
}

void Broker::update_group_configs(std::function<bool(coordinator::GroupConfigSet&)> change,
                                  SecurityDone done) {
  if (!metadata_) {
    std::lock_guard lock(group_config_file_mu_);
    auto next = *group_configs_->current();
    if (!change(next)) return done("");
    const auto file = group_configs_file(config_.log_dir);
    if (auto error = shared::write_file(file, coordinator::encode(next)); !error.empty()) {
      return done(error);
    }
    group_configs_->replace(std::move(next));
    return done("");
  }
  shared::update_set<coordinator::GroupConfigSet>(
      *metadata_, cluster::EtcdMetadata::Shared::group_configs, "group configs", std::move(change),
      coordinator::decode_group_configs,
      [](const coordinator::GroupConfigSet& s) { return coordinator::encode(s); }, std::move(done));
}

}  // namespace kaffa::broker
