#include "coordinator/group_configs.h"

#include <charconv>

#include "base/base64.h"
#include "coordinator/group_config.h"
#include "security/text_lines.h"

namespace kaffa::coordinator {
namespace {

constexpr std::string_view kHeader = "kaffa-group-configs v1";

std::optional<int32_t> parse_int(std::string_view s) {
  int32_t v = 0;
  const auto r = std::from_chars(s.data(), s.data() + s.size(), v);
  if (r.ec != std::errc() || r.ptr != s.data() + s.size() || s.empty()) return std::nullopt;
  return v;
}

}  // namespace

std::optional<std::string> validate_group_configs(
    const std::map<std::string, std::string, std::less<>>& configs, const GroupConfig& broker) {
  int32_t session = broker.consumer_session_timeout_ms;
  int32_t heartbeat = broker.consumer_heartbeat_interval_ms;
  for (const auto& [name, value] : configs) {
    if (name != kConsumerSessionTimeoutMs && name != kConsumerHeartbeatIntervalMs) {
      return "Unknown group config name: " + name;
    }
    const auto v = parse_int(value);
    if (!v) return "Invalid value " + value + " for configuration " + name + ": Not a number";
    (name == kConsumerSessionTimeoutMs ? session : heartbeat) = *v;
  }
  return check_consumer_timeouts(session, heartbeat, broker, kConsumerSessionTimeoutMs,
                                 kConsumerHeartbeatIntervalMs);
}

std::optional<std::string> check_consumer_timeouts(int32_t session, int32_t heartbeat,
                                                   const GroupConfig& bounds,
                                                   std::string_view session_name,
                                                   std::string_view heartbeat_name) {
  auto bound = [](std::string_view name, int32_t v, int32_t min, int32_t max, const char* min_name,
                  const char* max_name) -> std::optional<std::string> {
    if (v < min) return std::string(name) + " must be greater than or equal to " + min_name;
    if (v > max) return std::string(name) + " must be less than or equal to " + max_name;
    return std::nullopt;
  };
  if (auto why = bound(heartbeat_name, heartbeat, bounds.consumer_min_heartbeat_interval_ms,
                       bounds.consumer_max_heartbeat_interval_ms,
                       "group.consumer.min.heartbeat.interval.ms",
                       "group.consumer.max.heartbeat.interval.ms")) {
    return why;
  }
  if (auto why =
          bound(session_name, session, bounds.consumer_min_session_timeout_ms,
                bounds.consumer_max_session_timeout_ms, "group.consumer.min.session.timeout.ms",
                "group.consumer.max.session.timeout.ms")) {
    return why;
  }
  if (heartbeat >= session) {
    return std::string(heartbeat_name) + " must be less than " + std::string(session_name);
  }
  return std::nullopt;
}

std::string encode(const GroupConfigSet& set) {
  std::string records;
  for (const auto& [group, configs] : set) {
    records += base64::encode(group) + "\t";
    bool first = true;
    for (const auto& [name, value] : configs) {
      records += (first ? "" : ",") + name + "=" + value;
      first = false;
    }
    records += "\n";
  }
  return security::counted_text(kHeader, set.size(), records);
}

std::optional<GroupConfigSet> decode_group_configs(std::string_view text, std::string* why) {
  auto lines = security::counted_lines(text, kHeader, why);
  if (!lines) return std::nullopt;
  GroupConfigSet out;
  for (size_t i = 2; i < lines->size(); ++i) {
    const auto fields = security::split((*lines)[i], '\t');
    auto group = fields.size() == 2 ? base64::decode(fields[0]) : std::nullopt;
    if (!group || group->empty()) {
      *why = "bad group on line " + std::to_string(i + 1);
      return std::nullopt;
    }
    auto& configs = out[*group];
    for (auto pair : security::split(fields[1], ',')) {
      const auto eq = pair.find('=');
      if (eq == std::string_view::npos || eq == 0 || !parse_int(pair.substr(eq + 1))) {
        *why = "bad config on line " + std::to_string(i + 1);
        return std::nullopt;
      }
      configs.emplace(pair.substr(0, eq), pair.substr(eq + 1));
    }
  }
  return out;
}

int32_t GroupConfigs::value(std::string_view group, std::string_view name, int32_t fallback) const {
  const auto set = set_.load();
  auto g = set->find(group);
  if (g == set->end()) return fallback;
  auto c = g->second.find(name);
  if (c == g->second.end()) return fallback;
  return parse_int(c->second).value_or(fallback);
}

}  // namespace kaffa::coordinator
