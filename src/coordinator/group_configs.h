// Per-group configs (Kafka 4's GroupConfig, KIP-848): `consumer.session.timeout.ms` and
// `consumer.heartbeat.interval.ms` of one consumer group, set with IncrementalAlterConfigs or
// AlterConfigs on a GROUP resource (type 32) and shown by DescribeConfigs. A group without an
// override uses the broker's group.consumer.session.timeout.ms / .heartbeat.interval.ms.
// Values are checked as Kafka's GroupConfig does: INT values, within the broker's
// group.consumer.min/max.session.timeout.ms and .heartbeat.interval.ms, and the heartbeat
// interval below the session timeout. Kafka's share.* group configs are not offered (no share
// groups).
//
// Format of the stored set (a single node's `__kaffa_metadata/group-configs`, a cluster's
// `<prefix>/group_configs` record): "kaffa-group-configs v1\n<count>\n", then one line per
// group: the group id in base64, a tab, and name=value pairs separated by commas.
//
// Threading: GroupConfigs is read from any thread (an atomic snapshot) and replaced whole.
#pragma once

#include <atomic>
#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

namespace kaffa::coordinator {

struct GroupConfig;

inline constexpr std::string_view kConsumerSessionTimeoutMs = "consumer.session.timeout.ms";
inline constexpr std::string_view kConsumerHeartbeatIntervalMs = "consumer.heartbeat.interval.ms";

// group id -> config name -> value, only the groups with overrides.
using GroupConfigSet =
    std::map<std::string, std::map<std::string, std::string, std::less<>>, std::less<>>;

// Kafka's checks of one group's overrides against the broker's bounds: nullopt, or the
// INVALID_CONFIG message.
std::optional<std::string> validate_group_configs(
    const std::map<std::string, std::string, std::less<>>& configs, const GroupConfig& broker);

// The checks both use, also for the broker's own group.consumer.* values at start-up: the heartbeat
// interval and session timeout within `bounds`' group.consumer.min/max.* and the interval below
// the timeout; the messages name the two values `heartbeat_name` and `session_name`.
std::optional<std::string> check_consumer_timeouts(int32_t session, int32_t heartbeat,
                                                   const GroupConfig& bounds,
                                                   std::string_view session_name,
                                                   std::string_view heartbeat_name);

std::string encode(const GroupConfigSet& set);
std::optional<GroupConfigSet> decode_group_configs(std::string_view text, std::string* why);

class GroupConfigs {
 public:
  GroupConfigs() : set_(std::make_shared<const GroupConfigSet>()) {}
  void replace(GroupConfigSet set) {
    set_.store(std::make_shared<const GroupConfigSet>(std::move(set)));
  }
  std::shared_ptr<const GroupConfigSet> current() const { return set_.load(); }
  // The group's override of an INT config, else `fallback`.
  int32_t value(std::string_view group, std::string_view name, int32_t fallback) const;

 private:
  std::atomic<std::shared_ptr<const GroupConfigSet>> set_;
};

}  // namespace kaffa::coordinator
