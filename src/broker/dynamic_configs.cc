#include "broker/dynamic_configs.h"

#include <algorithm>
#include <array>

namespace kaffa::broker::dynamic_configs {
namespace {

// Kafka's DynamicLogConfig names that Kaffa's settings have, the log cleaner's (LogCleaner), the
// connection limits (DynamicConnectionQuota), num.replica.fetchers and
// num.recovery.threads.per.data.dir (DynamicThreadPool) and
// unclean.leader.election.enable.
constexpr std::array<std::string_view, 35> kDynamic = {
    "compression.type",
    "log.cleaner.backoff.ms",
    "log.cleaner.dedupe.buffer.size",
    "log.cleaner.delete.retention.ms",
    "log.cleaner.io.buffer.size",
    "log.cleaner.io.max.bytes.per.second",
    "log.cleaner.max.compaction.lag.ms",
    "log.cleaner.min.cleanable.ratio",
    "log.cleaner.min.compaction.lag.ms",
    "log.cleaner.threads",
    "log.cleanup.policy",
    "log.flush.interval.messages",
    "log.flush.interval.ms",
    "log.index.interval.bytes",
    "log.index.size.max.bytes",
    "log.message.timestamp.after.max.ms",
    "log.message.timestamp.before.max.ms",
    "log.message.timestamp.type",
    "log.retention.bytes",
    "log.retention.hours",
    "log.retention.minutes",
    "log.retention.ms",
    "log.roll.hours",
    "log.roll.ms",
    "log.segment.bytes",
    "max.connections",
    "max.connections.per.ip",
    "max.connections.per.ip.overrides",
    "message.max.bytes",
    "min.insync.replicas",
    "num.recovery.threads.per.data.dir",
    "num.replica.fetchers",
    "producer.id.expiration.ms",
    "replica.alter.log.dirs.io.max.bytes.per.second",
    "unclean.leader.election.enable",
};

}  // namespace

bool is_dynamic(std::string_view name) {
  return name == "leader.replication.throttled.rate" ||
         name == "follower.replication.throttled.rate" ||
         std::find(kDynamic.begin(), kDynamic.end(), name) != kDynamic.end();
}

std::optional<std::string> effective(const BrokerConfig& base, const Values& cluster_default,
                                     const Values& own, BrokerConfig& out) {
  out = base;
  for (const Values* layer : {&cluster_default, &own}) {
    if (auto e = apply_settings(out, *layer)) return e->message;
  }
  return std::nullopt;
}

std::optional<std::string> check_reconfiguration(const BrokerConfig& current,
                                                 const BrokerConfig& next) {
  // Kafka's rule for a dynamic thread count: at least half and at most double the one in force.
  auto out_of_range = [](int32_t now, int32_t wanted) {
    return wanted < now / 2 ? -1 : wanted > now * 2 ? 1 : 0;
  };
  const int32_t threads = current.log_cleaner_threads;
  if (const int r = out_of_range(threads, next.log_cleaner_threads); r != 0) {
    return std::string(r < 0 ? "Log cleaner threads cannot be reduced to less than half"
                             : "Log cleaner threads cannot be increased to more than double") +
           " the current value " + std::to_string(threads);
  }
  // DynamicThreadPool's message.
  auto pool = [&](const char* name, int32_t now, int32_t wanted) -> std::optional<std::string> {
    const int r = out_of_range(now, wanted);
    if (r == 0) return std::nullopt;
    return std::string("Dynamic thread count update validation failed for ") + name + "=" +
           std::to_string(wanted) +
           (r < 0 ? ", value should be at least half"
                  : ", value should not be greater than double") +
           " the current value " + std::to_string(now);
  };
  if (auto why = pool("num.replica.fetchers", current.cluster.num_replica_fetchers,
                      next.cluster.num_replica_fetchers)) {
    return why;
  }
  return pool("num.recovery.threads.per.data.dir", current.num_recovery_threads_per_data_dir,
              next.num_recovery_threads_per_data_dir);
}

cluster::LogDefaults log_defaults(const BrokerConfig& c) {
  cluster::LogDefaults d;
  d.segment_bytes = c.log_segment_bytes;
  d.segment_ms = c.log_roll_ms;
  d.index_interval_bytes = c.log_index_interval_bytes;
  d.segment_index_bytes = c.log_index_size_max_bytes;
  d.max_message_bytes = c.message_max_bytes;
  d.timestamp_type = c.log_message_timestamp_type == "LogAppendTime"
                         ? record::TimestampType::log_append_time
                         : record::TimestampType::create_time;
  d.compression = cluster::compression_of(c.compression_type);
  d.timestamp_before_max_ms = c.log_message_timestamp_before_max_ms;
  d.timestamp_after_max_ms = c.log_message_timestamp_after_max_ms;
  d.compact = c.log_cleanup_policy.find("compact") != std::string::npos;
  d.cleanup_delete = c.log_cleanup_policy.find("delete") != std::string::npos;
  d.flush_messages = c.log_flush_interval_messages;
  d.flush_ms = c.log_flush_interval_ms;
  d.cached_read_files = c.log_cached_read_files;
  d.retention_ms = c.log_retention_ms;
  d.retention_bytes = c.log_retention_bytes;
  d.cleaner.min_cleanable_dirty_ratio = c.log_cleaner_min_cleanable_ratio;
  d.cleaner.delete_retention_ms = c.log_cleaner_delete_retention_ms;
  d.cleaner.min_compaction_lag_ms = c.log_cleaner_min_compaction_lag_ms;
  d.cleaner.max_compaction_lag_ms = c.log_cleaner_max_compaction_lag_ms;
  d.producer_id_expiration_ms = c.producer_id_expiration_ms;
  d.producer_id_expiration_check_interval_ms = c.producer_id_expiration_check_interval_ms;
  d.min_insync_replicas = c.cluster.min_insync_replicas;
  return d;
}

cluster::CleanerConfig cleaner_config(const BrokerConfig& c) {
  return {c.log_cleaner_enable, c.log_cleaner_threads, c.log_cleaner_backoff_ms,
          c.log_cleaner_dedupe_buffer_size, c.log_cleaner_io_max_bytes_per_second};
}

}  // namespace kaffa::broker::dynamic_configs
