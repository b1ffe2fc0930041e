// Settings of the group coordinator (Kafka's broker property names; defaults as Kafka's).
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "coordinator/group_configs.h"

namespace kaffa::coordinator {

struct GroupConfig {
  int32_t offsets_topic_num_partitions = 50;             // offsets.topic.num.partitions
  int16_t offsets_topic_replication_factor = 3;          // offsets.topic.replication.factor
  int32_t offsets_topic_segment_bytes = 104857600;       // offsets.topic.segment.bytes
  int32_t group_initial_rebalance_delay_ms = 3000;       // group.initial.rebalance.delay.ms
  int32_t group_min_session_timeout_ms = 6000;           // group.min.session.timeout.ms
  int32_t group_max_session_timeout_ms = 1800000;        // group.max.session.timeout.ms
  int32_t group_max_size = 2147483647;                   // group.max.size
  int64_t offsets_retention_minutes = 10080;             // offsets.retention.minutes
  int64_t offsets_retention_check_interval_ms = 600000;  // offsets.retention.check.interval.ms
  int32_t offset_metadata_max_bytes = 4096;              // offset.metadata.max.bytes
  // The consumer group protocol (KIP-848).
  bool consumer_protocol_enabled = true;          // group.coordinator.rebalance.protocols
  int32_t consumer_session_timeout_ms = 45000;    // group.consumer.session.timeout.ms
  int32_t consumer_heartbeat_interval_ms = 5000;  // group.consumer.heartbeat.interval.ms
  // The bounds of those and of the groups' own values (group_configs.h).
  int32_t consumer_min_session_timeout_ms = 45000;     // group.consumer.min.session.timeout.ms
  int32_t consumer_max_session_timeout_ms = 60000;     // group.consumer.max.session.timeout.ms
  int32_t consumer_min_heartbeat_interval_ms = 5000;   // group.consumer.min.heartbeat.interval.ms
  int32_t consumer_max_heartbeat_interval_ms = 15000;  // group.consumer.max.heartbeat.interval.ms
  int32_t consumer_max_size = 2147483647;              // group.consumer.max.size
  // group.consumer.assignors: the server assignors offered; the first is the default.
  std::vector<std::string> consumer_assignors{"uniform", "range"};
  // Per-group overrides (the broker's set in force; null: none).
  std::shared_ptr<const GroupConfigs> group_configs;

  // A consumer group's session timeout and heartbeat interval: its own, else the broker's.
  int32_t session_timeout_ms(std::string_view group) const {
    return group_configs
               ? group_configs->value(group, kConsumerSessionTimeoutMs, consumer_session_timeout_ms)
               : consumer_session_timeout_ms;
  }
  int32_t heartbeat_interval_ms(std::string_view group) const {
    return group_configs ? group_configs->value(group, kConsumerHeartbeatIntervalMs,
                                                consumer_heartbeat_interval_ms)
                         : consumer_heartbeat_interval_ms;
  }
};

}  // namespace kaffa::coordinator
