// The settings of partitions' logs: segments, indexes, retention, flushing, compaction and the
// log cleaner, record validation (size, timestamps, compression) and producer state. Most are the
// broker defaults of topic configs (cluster/topic_config.h names the pairs; broker/dynamic_configs
// says which may change without a restart). Kafka's names, defaults and ranges.
#include <cstdlib>

#include "broker/config_settings.h"
#include "cluster/topic_config.h"

namespace kaffa::broker::config_detail {

const std::vector<Setting>& log_settings() {
  static const std::vector<Setting> kSettings = {
      {"log.segment.bytes", "1073741824", "Size at which a partition's active segment rolls.",
       int_setting(&BrokerConfig::log_segment_bytes, 14, std::numeric_limits<int32_t>::max())},
      {"log.roll.ms", "604800000", "Age at which a partition's active segment rolls.",
       long_setting(&BrokerConfig::log_roll_ms, 1)},
      {"log.roll.hours", "168", "Same as log.roll.ms, in hours (log.roll.ms wins when both set).",
       [](const std::string& v, BrokerConfig& c, std::string& why) {
         int64_t h = 0;
         if (!parse_int(v, h, 1, 24 * 365 * 1000)) {
           why = "expected a positive number of hours";
           return false;
         }
         c.log_roll_hours = h;  // applied in load_config unless log.roll.ms is given
         return true;
       }},
      {"log.index.interval.bytes", "4096", "Bytes of log between two offset-index entries.",
       int_setting(&BrokerConfig::log_index_interval_bytes, 0,
                   std::numeric_limits<int32_t>::max())},
      {"log.index.size.max.bytes", "10485760",
       "Largest index file; a full index rolls the segment.",
       int_setting(&BrokerConfig::log_index_size_max_bytes, 4096,
                   std::numeric_limits<int32_t>::max())},
      {"message.max.bytes", "1048588", "Largest record batch accepted (topic: max.message.bytes).",
       int_setting(&BrokerConfig::message_max_bytes, 0, std::numeric_limits<int32_t>::max())},
      {"log.message.timestamp.type", "CreateTime", "CreateTime or LogAppendTime.",
       [](const std::string& v, BrokerConfig& c, std::string& why) {
         if (v != "CreateTime" && v != "LogAppendTime") {
           why = "expected CreateTime or LogAppendTime";
           return false;
         }
         c.log_message_timestamp_type = v;
         return true;
       }},
      {"log.message.timestamp.before.max.ms", "9223372036854775807",
       "Default of message.timestamp.before.max.ms: how far before the broker's clock a "
       "CreateTime may be.",
       long_setting(&BrokerConfig::log_message_timestamp_before_max_ms, 0)},
      {"log.message.timestamp.after.max.ms", "9223372036854775807",
       "Default of message.timestamp.after.max.ms: how far after the broker's clock a CreateTime "
       "may be.",
       long_setting(&BrokerConfig::log_message_timestamp_after_max_ms, 0)},
      {"log.cleanup.policy", "delete",
       "Default of cleanup.policy: delete (retention), compact (the log cleaner), or both.",
       [](const std::string& v, BrokerConfig& c, std::string& why) {
         if (cluster::invalid_topic_config("cleanup.policy", v)) {
           why = "expected delete, compact or compact,delete";
           return false;
         }
         c.log_cleanup_policy = v;
         return true;
       }},
      {"compression.type", "producer",
       "Codec batches are stored with: producer (as sent), uncompressed, gzip, snappy, lz4 or "
       "zstd (topic: compression.type).",
       [](const std::string& v, BrokerConfig& c, std::string& why) {
         if (v != "producer" && !cluster::compression_of(v)) {
           why = "expected producer, uncompressed, gzip, snappy, lz4 or zstd";
           return false;
         }
         c.compression_type = v;
         return true;
       }},
      {"log.flush.interval.messages", "9223372036854775807",
       "Messages appended to a partition before it is flushed to disk.",
       long_setting(&BrokerConfig::log_flush_interval_messages, 1)},
      {"log.flush.interval.ms", "9223372036854775807",
       "Longest time data stays in a partition unflushed.",
       long_setting(&BrokerConfig::log_flush_interval_ms, 0)},
      {"log.flush.offset.checkpoint.interval.ms", "60000",
       "How often the recovery points are written to recovery-point-offset-checkpoint.",
       long_setting(&BrokerConfig::log_flush_offset_checkpoint_interval_ms, 1)},
      {"num.recovery.threads.per.data.dir", "2",
       "Threads per log directory opening (and, after a crash, recovering) the partitions' logs "
       "at start-up and closing them at shutdown.",
       int_setting(&BrokerConfig::num_recovery_threads_per_data_dir, 1, 256)},
      {"log.cached.read.files", "8",
       "Kaffa: files of older segments kept open per partition for reads (bounds descriptors).",
       int_setting(&BrokerConfig::log_cached_read_files, 1, 1024)},
      {"log.retention.ms", "",
       "Age after which a log segment is deleted; -1: no limit (wins over "
       "log.retention.minutes and log.retention.hours).",
       optional_long(&BrokerConfig::log_retention_ms_setting, std::numeric_limits<int64_t>::min(),
                     std::numeric_limits<int64_t>::max())},
      {"log.retention.minutes", "", "Same in minutes (wins over log.retention.hours).",
       optional_long(&BrokerConfig::log_retention_minutes, std::numeric_limits<int32_t>::min(),
                     std::numeric_limits<int32_t>::max())},
      {"log.retention.hours", "168", "Same in hours, when neither of the above is set.",
       int_setting(&BrokerConfig::log_retention_hours, std::numeric_limits<int32_t>::min(),
                   std::numeric_limits<int32_t>::max())},
      {"log.retention.bytes", "-1", "Largest size of a partition's log before old segments go.",
       long_setting(&BrokerConfig::log_retention_bytes, std::numeric_limits<int64_t>::min())},
      {"log.retention.check.interval.ms", "300000", "How often retention deletes old segments.",
       long_setting(&BrokerConfig::log_retention_check_interval_ms, 1)},
      {"log.cleaner.enable", "true", "Run the log cleaner (compaction of cleanup.policy=compact).",
       [](const std::string& v, BrokerConfig& c, std::string& why) {
         if (parse_bool(v, c.log_cleaner_enable)) return true;
         why = "expected true or false";
         return false;
       }},
      {"log.cleaner.threads", "1", "Threads of the log cleaner.",
       int_setting(&BrokerConfig::log_cleaner_threads, 1, 64)},
      {"log.cleaner.backoff.ms", "15000",
       "Sleep of the log cleaner when nothing is cleanable, and retry delay after a failure.",
       long_setting(&BrokerConfig::log_cleaner_backoff_ms, 1)},
      {"log.cleaner.dedupe.buffer.size", "134217728",
       "Memory of the cleaner's key -> offset maps, all threads together (24 bytes per key).",
       long_setting(&BrokerConfig::log_cleaner_dedupe_buffer_size, 1024)},
      {"log.cleaner.io.buffer.size", "524288",
       "Accepted for compatibility; Kaffa's cleaner reads and writes in 1 MiB chunks.",
       int_setting(&BrokerConfig::log_cleaner_io_buffer_size, 0,
                   std::numeric_limits<int32_t>::max())},
      {"log.cleaner.io.max.bytes.per.second", "1.7976931348623157E308",
       "Bytes per second the log cleaner's threads read and write together (Kafka's default, "
       "Double.MAX_VALUE: no bound).",
       [](const std::string& v, BrokerConfig& c, std::string& why) {
         char* end = nullptr;
         const double d = std::strtod(v.c_str(), &end);
         if (v.empty() || *end != '\0' || !(d > 0)) {
           why = "expected a positive number";
           return false;
         }
         c.log_cleaner_io_max_bytes_per_second = d;
         return true;
       }},
      {"log.cleaner.min.cleanable.ratio", "0.5",
       "Default min.cleanable.dirty.ratio: dirty share of a log before it is cleaned.",
       [](const std::string& v, BrokerConfig& c, std::string& why) {
         const auto d = cluster::parse_ratio(v);
         if (!d) why = "expected a number in [0, 1]";
         c.log_cleaner_min_cleanable_ratio = d.value_or(c.log_cleaner_min_cleanable_ratio);
         return d.has_value();
       }},
      {"log.cleaner.delete.retention.ms", "86400000",
       "Default delete.retention.ms: how long tombstones stay in compacted logs.",
       long_setting(&BrokerConfig::log_cleaner_delete_retention_ms, 0)},
      {"log.cleaner.min.compaction.lag.ms", "0",
       "Default min.compaction.lag.ms: age before a record may be compacted.",
       long_setting(&BrokerConfig::log_cleaner_min_compaction_lag_ms, 0)},
      {"log.cleaner.max.compaction.lag.ms", "9223372036854775807",
       "Default max.compaction.lag.ms: age after which a dirty log is cleaned whatever its ratio.",
       long_setting(&BrokerConfig::log_cleaner_max_compaction_lag_ms, 1)},
      {"producer.id.expiration.ms", "86400000",
       "How long a partition keeps an idempotent producer's sequence state after its last "
       "batch.",
       long_setting(&BrokerConfig::producer_id_expiration_ms, 1)},
      {"producer.id.expiration.check.interval.ms", "600000",
       "How often partitions look for expired producer ids.",
       long_setting(&BrokerConfig::producer_id_expiration_check_interval_ms, 1)},
  };
  return kSettings;
}

std::optional<ConfigError> resolve_log_times(BrokerConfig& c) {
  // A given log.roll.ms (in any layer) wins over log.roll.hours.
  if (c.log_roll_hours > 0 && c.explicit_settings.count("log.roll.ms") == 0) {
    c.log_roll_ms = c.log_roll_hours * 3600000;
  }
  // log.retention.ms from the first of log.retention.ms, .minutes and .hours that is set.
  c.log_retention_ms = c.log_retention_ms_setting.value_or(
      c.log_retention_minutes ? *c.log_retention_minutes * 60000
                              : int64_t{c.log_retention_hours} * 3600000);
  if (c.log_retention_ms < 0) c.log_retention_ms = -1;
  if (c.log_retention_ms == 0) {
    return ConfigError{"log.retention.ms must be unlimited (-1) or, greater than or equal to 1"};
  }
  return std::nullopt;
}

}  // namespace kaffa::broker::config_detail
