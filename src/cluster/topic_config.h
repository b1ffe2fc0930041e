// Topic-level configuration names that Kafka defines, and validation of their values. The
// storage and retention milestones give them effect; until then they are stored as given.
#pragma once

#include <cstdint>
#include <limits>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "record/batch.h"
#include "storage/log.h"
#include "storage/log_cleaner.h"

namespace kaffa::cluster {

// Returns an explanation when `name=value` is not a valid topic config (unknown name or a value
// of the wrong kind), nullopt when valid. `value` null means "reset to default".
std::optional<std::string> invalid_topic_config(std::string_view name,
                                                const std::optional<std::string>& value);

// A ratio setting (min.cleanable.dirty.ratio, log.cleaner.min.cleanable.ratio): a number in
// [0, 1]; nullopt otherwise.
std::optional<double> parse_ratio(std::string_view v);

// leader.replication.throttled.replicas and follower.replication.throttled.replicas (KIP-73):
// "*" (every replica) or partition:broker items separated by commas; nullopt when malformed.
struct ThrottledReplicas {
  bool all = false;
  std::vector<std::pair<int32_t, int32_t>> replicas;  // (partition, broker)
  bool contains(int32_t partition, int32_t broker) const;
};
std::optional<ThrottledReplicas> parse_throttled_replicas(std::string_view v);

// Broker-wide defaults (log.segment.bytes, message.max.bytes, ...) that topic configs override.
struct LogDefaults {
  int32_t segment_bytes = 1073741824;
  int64_t segment_ms = 604800000;
  int32_t index_interval_bytes = 4096;
  int32_t segment_index_bytes = 10485760;
  int32_t max_message_bytes = 1048588;
  record::TimestampType timestamp_type = record::TimestampType::create_time;
  int64_t timestamp_before_max_ms = std::numeric_limits<int64_t>::max();
  int64_t timestamp_after_max_ms = std::numeric_limits<int64_t>::max();
  int64_t flush_messages = std::numeric_limits<int64_t>::max();
  int64_t flush_ms = std::numeric_limits<int64_t>::max();
  int32_t cached_read_files = 8;
  bool compact = false;              // log.cleanup.policy has "compact"
  bool cleanup_delete = true;        // log.cleanup.policy has "delete"
  int64_t retention_ms = 604800000;  // log.retention.{ms,minutes,hours}; -1: unlimited
  int64_t retention_bytes = -1;      // log.retention.bytes; -1: unlimited
  // log.cleaner.{min.cleanable.ratio, delete.retention.ms, min/max.compaction.lag.ms}
  storage::CleanerTopicConfig cleaner;
  int64_t producer_id_expiration_ms = 86400000;               // producer.id.expiration.ms
  int64_t producer_id_expiration_check_interval_ms = 600000;  // ...check.interval.ms
  int32_t min_insync_replicas = 1;                            // min.insync.replicas
  // compression.type: the codec every appended batch is stored with; nullopt = `producer`
  // (batches are stored as they come).
  std::optional<record::Compression> compression;
};

// The settings a partition works with, resolved from the defaults and its topic's configs.
struct PartitionConfig {
  storage::LogConfig log;
  int32_t max_message_bytes = 1048588;
  record::TimestampType timestamp_type = record::TimestampType::create_time;
  int64_t timestamp_before_max_ms = std::numeric_limits<int64_t>::max();
  int64_t timestamp_after_max_ms = std::numeric_limits<int64_t>::max();
  int64_t flush_messages = std::numeric_limits<int64_t>::max();
  int64_t flush_ms = std::numeric_limits<int64_t>::max();
  bool compact = false;
  // Retention (cluster/partition.h enforce_retention): only when cleanup.policy has "delete".
  bool cleanup_delete = true;
  int64_t retention_ms = 604800000;  // retention.ms; < 0: unlimited
  int64_t retention_bytes = -1;      // retention.bytes; < 0: unlimited
  // Compaction (cluster/cleaner_manager.h): min.cleanable.dirty.ratio, delete.retention.ms,
  // min.compaction.lag.ms, max.compaction.lag.ms.
  storage::CleanerTopicConfig cleaner;
  // Idempotent producer state (broker-wide settings).
  int64_t producer_id_expiration_ms = 86400000;
  int64_t producer_id_expiration_check_interval_ms = 600000;
  // min.insync.replicas: acks=all needs an ISR at least this large (replicated partitions only).
  int32_t min_insync_replicas = 1;
  // compression.type (topic, else the broker's): nullopt = `producer`.
  std::optional<record::Compression> compression;
  // Replicas whose copying the replication quotas bound (cluster/replication_quota.h): on the
  // leader side, partitions this broker leads; on the follower side, those it follows.
  ThrottledReplicas leader_throttled;
  ThrottledReplicas follower_throttled;
  // What it was resolved from: the topic's configs, and (set by the PartitionManager, which
  // follows dynamic changes of them) the broker's defaults.
  std::map<std::string, std::string> topic_configs;
  std::shared_ptr<const LogDefaults> defaults;
};

// A valid compression.type value (producer, uncompressed, gzip, snappy, lz4, zstd) as a codec;
// nullopt for `producer`.
std::optional<record::Compression> compression_of(std::string_view compression_type);

// Topic configs must have passed invalid_topic_config().
PartitionConfig resolve_partition_config(const LogDefaults& defaults,
                                         const std::map<std::string, std::string>& topic_configs);

}  // namespace kaffa::cluster
