#include "cluster/topic_config.h"

#include <algorithm>
#include <charconv>
#include <cstdint>
#include <cstdlib>
#include <initializer_list>
#include <type_traits>

namespace kaffa::cluster {
namespace {

enum class Kind {
  long_min0,
  long_any,
  int_min0,
  boolean,
  ratio,
  cleanup_policy,
  timestamp_type,
  compression,
  throttled_replicas,
  text
};

struct Def {
  std::string_view name;
  Kind kind;
};

constexpr Def kTopicConfigs[] = {
    {"cleanup.policy", Kind::cleanup_policy},
    {"compression.type", Kind::compression},
    {"delete.retention.ms", Kind::long_min0},
    {"file.delete.delay.ms", Kind::long_min0},
    {"flush.messages", Kind::long_min0},
    {"flush.ms", Kind::long_min0},
    {"follower.replication.throttled.replicas", Kind::throttled_replicas},
    {"index.interval.bytes", Kind::int_min0},
    {"leader.replication.throttled.replicas", Kind::throttled_replicas},
    {"local.retention.bytes", Kind::long_any},
    {"local.retention.ms", Kind::long_any},
    {"max.compaction.lag.ms", Kind::long_min0},
    {"max.message.bytes", Kind::int_min0},
    {"message.downconversion.enable", Kind::boolean},
    {"message.format.version", Kind::text},
    {"message.timestamp.after.max.ms", Kind::long_min0},
    {"message.timestamp.before.max.ms", Kind::long_min0},
    {"message.timestamp.difference.max.ms", Kind::long_min0},
    {"message.timestamp.type", Kind::timestamp_type},
    {"min.cleanable.dirty.ratio", Kind::ratio},
    {"min.compaction.lag.ms", Kind::long_min0},
    {"min.insync.replicas", Kind::int_min0},
    {"preallocate", Kind::boolean},
    {"remote.storage.enable", Kind::boolean},
    {"retention.bytes", Kind::long_any},
    {"retention.ms", Kind::long_any},
    {"segment.bytes", Kind::int_min0},
    {"segment.index.bytes", Kind::int_min0},
    {"segment.jitter.ms", Kind::long_min0},
    {"segment.ms", Kind::long_min0},
    {"unclean.leader.election.enable", Kind::boolean},
};

bool parse_i64(std::string_view v, int64_t& out) {
  auto [p, ec] = std::from_chars(v.data(), v.data() + v.size(), out);
  return ec == std::errc() && p == v.data() + v.size();
}

bool one_of(std::string_view v, std::initializer_list<std::string_view> options) {
  for (auto o : options) {
    if (v == o) return true;
  }
  return false;
}

std::optional<std::string> check(Kind kind, std::string_view v) {
  int64_t n = 0;
  switch (kind) {
    case Kind::long_min0:
      if (!parse_i64(v, n) || n < 0) return "expected a non-negative integer";
      return std::nullopt;
    case Kind::long_any:
      if (!parse_i64(v, n) || n < -2) return "expected an integer >= -2";
      return std::nullopt;
    case Kind::int_min0:
      if (!parse_i64(v, n) || n < 0 || n > INT32_MAX) return "expected a non-negative int";
      return std::nullopt;
    case Kind::boolean:
      if (!one_of(v, {"true", "false"})) return "expected true or false";
      return std::nullopt;
    case Kind::ratio:
      if (!parse_ratio(v)) return "expected a number in [0, 1]";
      return std::nullopt;
    case Kind::cleanup_policy:
      if (!one_of(v, {"delete", "compact", "compact,delete", "delete,compact", ""})) {
        return "expected delete, compact or compact,delete";
      }
      return std::nullopt;
    case Kind::timestamp_type:
      if (!one_of(v, {"CreateTime", "LogAppendTime"})) {
        return "expected CreateTime or LogAppendTime";
      }
      return std::nullopt;
    case Kind::compression:
      if (!one_of(v, {"uncompressed", "zstd", "lz4", "snappy", "gzip", "producer"})) {
        return "expected uncompressed, zstd, lz4, snappy, gzip or producer";
      }
      return std::nullopt;
    case Kind::throttled_replicas:
      if (!parse_throttled_replicas(v)) {
        return "must be the literal '*' or a list of replicas in the following format: "
               "[partitionId]:[brokerId],[partitionId]:[brokerId],...";
      }
      return std::nullopt;
    case Kind::text:
      return std::nullopt;
  }
  return std::nullopt;
}

std::string_view trimmed(std::string_view v) {
  while (!v.empty() && (v.front() == ' ' || v.front() == '\t')) v.remove_prefix(1);
  while (!v.empty() && (v.back() == ' ' || v.back() == '\t')) v.remove_suffix(1);
  return v;
}

bool parse_id(std::string_view v, int32_t& out) {
  if (v.empty() || v.front() < '0' || v.front() > '9') return false;
  auto [p, ec] = std::from_chars(v.data(), v.data() + v.size(), out);
  return ec == std::errc() && p == v.data() + v.size();
}

}  // namespace

std::optional<double> parse_ratio(std::string_view v) {
  const std::string s(v);
  char* end = nullptr;
  const double d = std::strtod(s.c_str(), &end);
  if (s.empty() || *end != '\0' || !(d >= 0 && d <= 1)) return std::nullopt;
  return d;
}

bool ThrottledReplicas::contains(int32_t partition, int32_t broker) const {
  if (all) return true;
  for (const auto& [p, b] : replicas) {
    if (p == partition && b == broker) return true;
  }
  return false;
}

std::optional<ThrottledReplicas> parse_throttled_replicas(std::string_view v) {
  // Kafka's ThrottledReplicaListValidator: the items of the list (split at commas, trimmed) are
  // each empty or partition:broker, or the whole list is "*".
  ThrottledReplicas out;
  if (trimmed(v) == "*") {
    out.all = true;
    return out;
  }
  size_t pos = 0;
  while (pos <= v.size()) {
    const size_t comma = std::min(v.find(',', pos), v.size());
    const std::string_view item = trimmed(v.substr(pos, comma - pos));
    pos = comma + 1;
    if (item.empty()) continue;
    const size_t colon = item.find(':');
    int32_t partition = 0, broker = 0;
    if (colon == std::string_view::npos || !parse_id(item.substr(0, colon), partition) ||
        !parse_id(item.substr(colon + 1), broker)) {
      return std::nullopt;
    }
    out.replicas.emplace_back(partition, broker);
  }
  return out;
}

std::optional<std::string> invalid_topic_config(std::string_view name,
                                                const std::optional<std::string>& value) {
  for (const auto& d : kTopicConfigs) {
    if (d.name != name) continue;
    if (!value) return std::nullopt;
    if (auto why = check(d.kind, *value)) {
      return "Invalid value " + *value + " for configuration " + std::string(name) + ": " + *why;
    }
    return std::nullopt;
  }
  return "Unknown topic config name: " + std::string(name);
}

std::optional<record::Compression> compression_of(std::string_view type) {
  using record::Compression;
  if (type == "uncompressed") return Compression::none;
  if (type == "gzip") return Compression::gzip;
  if (type == "snappy") return Compression::snappy;
  if (type == "lz4") return Compression::lz4;
  if (type == "zstd") return Compression::zstd;
  return std::nullopt;
}

PartitionConfig resolve_partition_config(const LogDefaults& d,
                                         const std::map<std::string, std::string>& configs) {
  PartitionConfig c;
  c.log.segment_bytes = d.segment_bytes;
  c.log.segment_ms = d.segment_ms;
  c.log.index_interval_bytes = d.index_interval_bytes;
  c.log.segment_index_bytes = d.segment_index_bytes;
  c.log.max_open_read_files = d.cached_read_files;
  c.max_message_bytes = d.max_message_bytes;
  c.timestamp_type = d.timestamp_type;
  c.timestamp_before_max_ms = d.timestamp_before_max_ms;
  c.timestamp_after_max_ms = d.timestamp_after_max_ms;
  c.compact = d.compact;
  c.cleanup_delete = d.cleanup_delete;
  c.flush_messages = d.flush_messages;
  c.flush_ms = d.flush_ms;
  c.retention_ms = d.retention_ms;
  c.retention_bytes = d.retention_bytes;
  c.cleaner = d.cleaner;
  c.producer_id_expiration_ms = d.producer_id_expiration_ms;
  c.producer_id_expiration_check_interval_ms = d.producer_id_expiration_check_interval_ms;
  c.min_insync_replicas = d.min_insync_replicas;
  c.compression = d.compression;
  auto number = [&](std::string_view name, auto& out) {
    auto it = configs.find(std::string(name));
    int64_t v = 0;
    if (it != configs.end() && parse_i64(it->second, v)) {
      out = static_cast<std::remove_reference_t<decltype(out)>>(v);
    }
  };
  number("segment.bytes", c.log.segment_bytes);
  number("segment.ms", c.log.segment_ms);
  number("index.interval.bytes", c.log.index_interval_bytes);
  number("segment.index.bytes", c.log.segment_index_bytes);
  number("max.message.bytes", c.max_message_bytes);
  // The older difference setting bounds both sides; the newer before/after ones win when given.
  number("message.timestamp.difference.max.ms", c.timestamp_before_max_ms);
  number("message.timestamp.difference.max.ms", c.timestamp_after_max_ms);
  number("message.timestamp.before.max.ms", c.timestamp_before_max_ms);
  number("message.timestamp.after.max.ms", c.timestamp_after_max_ms);
  number("flush.messages", c.flush_messages);
  number("flush.ms", c.flush_ms);
  number("retention.ms", c.retention_ms);
  number("retention.bytes", c.retention_bytes);
  number("delete.retention.ms", c.cleaner.delete_retention_ms);
  number("min.compaction.lag.ms", c.cleaner.min_compaction_lag_ms);
  number("max.compaction.lag.ms", c.cleaner.max_compaction_lag_ms);
  number("min.insync.replicas", c.min_insync_replicas);
  if (auto it = configs.find("min.cleanable.dirty.ratio"); it != configs.end()) {
    c.cleaner.min_cleanable_dirty_ratio =
        parse_ratio(it->second).value_or(c.cleaner.min_cleanable_dirty_ratio);
  }
  if (auto it = configs.find("message.timestamp.type"); it != configs.end()) {
    c.timestamp_type = it->second == "LogAppendTime" ? record::TimestampType::log_append_time
                                                     : record::TimestampType::create_time;
  }
  if (auto it = configs.find("compression.type"); it != configs.end()) {
    c.compression = compression_of(it->second);
  }
  for (auto [name, out] :
       {std::pair{"leader.replication.throttled.replicas", &c.leader_throttled},
        std::pair{"follower.replication.throttled.replicas", &c.follower_throttled}}) {
    if (auto it = configs.find(name); it != configs.end()) {
      *out = parse_throttled_replicas(it->second).value_or(ThrottledReplicas{});
    }
  }
  if (auto it = configs.find("cleanup.policy"); it != configs.end()) {
    c.compact = it->second.find("compact") != std::string::npos;
    c.cleanup_delete = it->second.find("delete") != std::string::npos;
  }
  c.topic_configs = configs;
  return c;
}

}  // namespace kaffa::cluster
