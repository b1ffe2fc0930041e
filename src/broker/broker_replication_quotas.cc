// Broker: the replication quotas' bounds (KIP-73). leader.replication.throttled.rate and
// follower.replication.throttled.rate are static settings and, as in Kafka, dynamic per-broker
// configs: a value set with AlterConfigs / IncrementalAlterConfigs on this broker's resource wins
// over the static one, is kept in <log.dirs>/__kaffa_metadata/dynamic-broker-configs with the
// dynamic TLS values (tls_config::edit_dynamic) and applies again after a restart.
#include <limits>

#include "base/log.h"
#include "broker/broker.h"
#include "broker/config_settings.h"
#include "broker/tls_config.h"

namespace kaffa::broker {
namespace {

constexpr std::string_view kLeaderRate = "leader.replication.throttled.rate";
constexpr std::string_view kFollowerRate = "follower.replication.throttled.rate";

// A non-negative long, as the static settings are read.
std::optional<int64_t> parse_rate(const std::string& v) {
  int64_t n = 0;
  if (!config_detail::parse_int(v, n, 0, std::numeric_limits<int64_t>::max())) return std::nullopt;
  return n;
}

}  // namespace

bool Broker::is_replication_rate(std::string_view name) {
  return name == kLeaderRate || name == kFollowerRate;
}

void Broker::load_replication_rates() {
  std::string error;
  auto all = tls_config::load_dynamic(tls_config::dynamic_path(config_.log_dir), &error);
  if (!all) throw std::runtime_error(error);
  std::lock_guard lock(replication_rates_mu_);
  for (const auto& [name, value] : *all) {
    if (!is_replication_rate(name)) continue;
    if (!parse_rate(value)) {
      throw std::runtime_error("dynamic broker config " + name + " has an invalid value: " + value);
    }
    replication_rates_[name] = value;
    log::info("dynamic broker config {}={}", name, value);
  }
  apply_replication_rates();
}

void Broker::apply_replication_rates() {
  const auto bound = [this](std::string_view name, int64_t fixed) {
    auto it = replication_rates_.find(std::string(name));
    return it == replication_rates_.end() ? fixed : parse_rate(it->second).value_or(fixed);
  };
  leader_quota_->set_bound(bound(kLeaderRate, config_.cluster.leader_replication_throttled_rate));
  follower_quota_->set_bound(
      bound(kFollowerRate, config_.cluster.follower_replication_throttled_rate));
}

std::map<std::string, std::string> Broker::dynamic_replication_rates() const {
  std::lock_guard lock(replication_rates_mu_);
  return replication_rates_;
}

std::optional<std::string> Broker::alter_replication_rates(const cluster::ConfigChange& change,
                                                           bool validate_only) {
  std::lock_guard lock(replication_rates_mu_);
  auto next = replication_rates_;
  if (auto why = change(next)) return why;
  std::erase_if(next, [](const auto& kv) { return !is_replication_rate(kv.first); });
  for (const auto& [name, value] : next) {
    if (!parse_rate(value)) {
      return "Invalid value " + value + " for configuration " + name +
             ": expected a non-negative long";
    }
  }
  if (validate_only) return std::nullopt;
  const auto replace = [&next](std::map<std::string, std::string>& all) {
    std::erase_if(all, [](const auto& kv) { return is_replication_rate(kv.first); });
    all.insert(next.begin(), next.end());
  };
  if (std::string error; !tls_config::edit_dynamic(config_.log_dir, replace, &error)) {
    log::error("cannot persist the dynamic replication rates: {}", error);
    return "Cannot persist the dynamic broker configs: " + error;
  }
  replication_rates_ = std::move(next);
  apply_replication_rates();
  log::info("replication quotas: leader {} B/s, follower {} B/s", leader_quota_->bound(),
            follower_quota_->bound());
  return std::nullopt;
}

}  // namespace kaffa::broker
