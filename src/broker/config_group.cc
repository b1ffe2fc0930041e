// The settings of the group coordinator: __consumer_offsets, classic groups, the consumer group
// protocol (KIP-848) and committed offsets. Kafka's names and defaults.
#include <limits>
#include <sstream>

#include "broker/config_settings.h"
#include "coordinator/assignor.h"
#include "coordinator/group_configs.h"

namespace kaffa::broker::config_detail {
namespace {

// A comma-separated list of lower-case names, blanks trimmed and empty items dropped.
std::vector<std::string> parse_names(const std::string& v) {
  std::vector<std::string> out = split_list(v);
  for (auto& n : out) {
    for (char& ch : n) ch = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
  }
  return out;
}

}  // namespace

const std::vector<Setting>& group_settings() {
  static const std::vector<Setting> kSettings = {
      {"offsets.topic.num.partitions", "50",
       "Partitions of __consumer_offsets (fixed once the topic exists).",
       group_int(&coordinator::GroupConfig::offsets_topic_num_partitions, 1, 10000)},
      {"offsets.topic.replication.factor", "3",
       "Replication factor of __consumer_offsets; in a cluster it is created once this many "
       "brokers are alive (a single node keeps one replica).",
       [](const std::string& v, BrokerConfig& c, std::string& why) {
         if (parse_int(v, c.group.offsets_topic_replication_factor, 1, 32767)) return true;
         why = "expected an integer in [1, 32767]";
         return false;
       }},
      {"offsets.topic.segment.bytes", "104857600", "Segment size of __consumer_offsets.",
       group_int(&coordinator::GroupConfig::offsets_topic_segment_bytes, 1024,
                 std::numeric_limits<int32_t>::max())},
      {"group.initial.rebalance.delay.ms", "3000",
       "Wait for more members before the first rebalance of an empty group.",
       group_int(&coordinator::GroupConfig::group_initial_rebalance_delay_ms, 0,
                 std::numeric_limits<int32_t>::max())},
      {"group.min.session.timeout.ms", "6000", "Smallest session timeout a member may ask for.",
       group_int(&coordinator::GroupConfig::group_min_session_timeout_ms, 1,
                 std::numeric_limits<int32_t>::max())},
      {"group.max.session.timeout.ms", "1800000", "Largest session timeout a member may ask for.",
       group_int(&coordinator::GroupConfig::group_max_session_timeout_ms, 1,
                 std::numeric_limits<int32_t>::max())},
      {"group.max.size", "2147483647", "Most members a classic group may have.",
       group_int(&coordinator::GroupConfig::group_max_size, 1,
                 std::numeric_limits<int32_t>::max())},
      {"group.coordinator.rebalance.protocols", "classic,consumer",
       "Group protocols served: classic (JoinGroup/SyncGroup) and consumer (KIP-848, "
       "ConsumerGroupHeartbeat). classic must be named.",
       [](const std::string& v, BrokerConfig& c, std::string& why) {
         const std::vector<std::string> names = parse_names(v);
         bool classic = false, consumer = false;
         for (const auto& n : names) {
           if (n == "classic") {
             classic = true;
           } else if (n == "consumer") {
             consumer = true;
           } else {
             why = "unknown group protocol " + n + " (classic, consumer)";
             return false;
           }
         }
         if (!classic) {
           why = "classic must be among the group protocols";
           return false;
         }
         c.group.consumer_protocol_enabled = consumer;
         return true;
       }},
      {"group.consumer.session.timeout.ms", "45000",
       "A member of a consumer-protocol group is removed after this long without a heartbeat.",
       group_int(&coordinator::GroupConfig::consumer_session_timeout_ms, 1,
                 std::numeric_limits<int32_t>::max())},
      {"group.consumer.heartbeat.interval.ms", "5000",
       "How often members of consumer-protocol groups are told to heartbeat.",
       group_int(&coordinator::GroupConfig::consumer_heartbeat_interval_ms, 1,
                 std::numeric_limits<int32_t>::max())},
      {"group.consumer.min.session.timeout.ms", "45000",
       "Least session timeout of consumer-protocol groups (the broker's and each group's own).",
       group_int(&coordinator::GroupConfig::consumer_min_session_timeout_ms, 1,
                 std::numeric_limits<int32_t>::max())},
      {"group.consumer.max.session.timeout.ms", "60000",
       "Largest session timeout of consumer-protocol groups (the broker's and each group's own).",
       group_int(&coordinator::GroupConfig::consumer_max_session_timeout_ms, 1,
                 std::numeric_limits<int32_t>::max())},
      {"group.consumer.min.heartbeat.interval.ms", "5000",
       "Least heartbeat interval of consumer-protocol groups (the broker's and each group's own).",
       group_int(&coordinator::GroupConfig::consumer_min_heartbeat_interval_ms, 1,
                 std::numeric_limits<int32_t>::max())},
      {"group.consumer.max.heartbeat.interval.ms", "15000",
       "Largest heartbeat interval of consumer-protocol groups (the broker's and each group's "
       "own).",
       group_int(&coordinator::GroupConfig::consumer_max_heartbeat_interval_ms, 1,
                 std::numeric_limits<int32_t>::max())},
      {"group.consumer.max.size", "2147483647", "Most members a consumer-protocol group may have.",
       group_int(&coordinator::GroupConfig::consumer_max_size, 1,
                 std::numeric_limits<int32_t>::max())},
      {"group.consumer.assignors", "uniform,range",
       "Server assignors of consumer-protocol groups (uniform, range); the first is the default.",
       [](const std::string& v, BrokerConfig& c, std::string& why) {
         std::vector<std::string> names = parse_names(v);
         if (names.empty()) {
           why = "expected a non-empty list of uniform and range";
           return false;
         }
         for (auto& n : names) {
           // Kafka's class names of the same assignors are accepted too.
           if (n.ends_with(".uniformassignor")) n = "uniform";
           if (n.ends_with(".rangeassignor")) n = "range";
           if (!coordinator::is_known_assignor(n)) {
             why = "unknown assignor " + n + " (uniform, range)";
             return false;
           }
         }
         c.group.consumer_assignors = std::move(names);
         return true;
       }},
      {"offsets.retention.minutes", "10080",
       "Committed offsets of an empty group are kept this long after their last commit.",
       [](const std::string& v, BrokerConfig& c, std::string& why) {
         if (parse_int(v, c.group.offsets_retention_minutes, 1,
                       std::numeric_limits<int64_t>::max() / 60000)) {
           return true;
         }
         why = "expected a positive number of minutes";
         return false;
       }},
      {"offsets.retention.check.interval.ms", "600000", "How often expired offsets are removed.",
       [](const std::string& v, BrokerConfig& c, std::string& why) {
         if (parse_int(v, c.group.offsets_retention_check_interval_ms, 1,
                       std::numeric_limits<int64_t>::max())) {
           return true;
         }
         why = "expected a positive integer";
         return false;
       }},
      {"offset.metadata.max.bytes", "4096", "Largest metadata string of a committed offset.",
       group_int(&coordinator::GroupConfig::offset_metadata_max_bytes, 0,
                 std::numeric_limits<int32_t>::max())},
  };
  return kSettings;
}

std::optional<std::string> check_group_settings(const coordinator::GroupConfig& g) {
  if (g.consumer_max_heartbeat_interval_ms < g.consumer_min_heartbeat_interval_ms) {
    return "group.consumer.max.heartbeat.interval.ms must be greater than or equal to "
           "group.consumer.min.heartbeat.interval.ms";
  }
  if (g.consumer_max_session_timeout_ms < g.consumer_min_session_timeout_ms) {
    return "group.consumer.max.session.timeout.ms must be greater than or equal to "
           "group.consumer.min.session.timeout.ms";
  }
  return coordinator::check_consumer_timeouts(
      g.consumer_session_timeout_ms, g.consumer_heartbeat_interval_ms, g,
      "group.consumer.session.timeout.ms", "group.consumer.heartbeat.interval.ms");
}

}  // namespace kaffa::broker::config_detail
