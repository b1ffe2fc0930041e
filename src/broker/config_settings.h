// Internal to the broker's configuration: the declared-setting table's element and the parsers
// its entries share (config.cc holds the table; config_log.cc the log settings,
// config_group.cc the group coordinator's, config_connections.cc the connection limits and
// config_cluster.cc the cluster settings).
#pragma once

#include <algorithm>
#include <cctype>
#include <charconv>
#include <functional>
#include <limits>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "broker/config.h"

namespace kaffa::broker::config_detail {

inline std::string trim(std::string_view s) {
  const auto b = s.find_first_not_of(" \t\r\f");
  if (b == std::string_view::npos) return {};
  const auto e = s.find_last_not_of(" \t\r\f");
  return std::string(s.substr(b, e - b + 1));
}

// A comma-separated list: items trimmed, empty ones dropped.
inline std::vector<std::string> split_list(std::string_view v) {
  std::vector<std::string> out;
  size_t pos = 0;
  while (pos <= v.size()) {
    const size_t comma = std::min(v.find(',', pos), v.size());
    if (auto item = trim(v.substr(pos, comma - pos)); !item.empty()) out.push_back(item);
    pos = comma + 1;
  }
  return out;
}

inline std::string upper(std::string s) {
  for (auto& ch : s) ch = static_cast<char>(std::toupper(static_cast<unsigned char>(ch)));
  return s;
}

template <class T>
inline bool parse_int(const std::string& v, T& out, int64_t lo, int64_t hi) {
  int64_t x = 0;
  auto [p, ec] = std::from_chars(v.data(), v.data() + v.size(), x);
  if (ec != std::errc() || p != v.data() + v.size() || x < lo || x > hi) return false;
  out = static_cast<T>(x);
  return true;
}

inline bool parse_bool(const std::string& v, bool& out) {
  if (v == "true") {
    out = true;
  } else if (v == "false") {
    out = false;
  } else {
    return false;
  }
  return true;
}

// One declared setting. `apply` parses the value into the config; false = malformed.
struct Setting {
  const char* name;
  const char* default_value;
  const char* doc;
  std::function<bool(const std::string&, BrokerConfig&, std::string&)> apply;
};

inline auto int_setting(int32_t BrokerConfig::*m, int64_t lo, int64_t hi) {
  return [m, lo, hi](const std::string& v, BrokerConfig& c, std::string& why) {
    if (parse_int(v, c.*m, lo, hi)) return true;
    why = "expected an integer in [" + std::to_string(lo) + ", " + std::to_string(hi) + "]";
    return false;
  };
}

inline auto long_setting(int64_t BrokerConfig::*m, int64_t lo) {
  return [m, lo](const std::string& v, BrokerConfig& c, std::string& why) {
    if (parse_int(v, c.*m, lo, std::numeric_limits<int64_t>::max())) return true;
    why = "expected an integer >= " + std::to_string(lo);
    return false;
  };
}

// An integer that may be left unset ("" = unset, as Kafka's null defaults).
inline auto optional_long(std::optional<int64_t> BrokerConfig::*m, int64_t lo, int64_t hi) {
  return [m, lo, hi](const std::string& v, BrokerConfig& c, std::string& why) {
    int64_t x = 0;
    if (v.empty() || parse_int(v, x, lo, hi)) {
      c.*m = v.empty() ? std::nullopt : std::optional<int64_t>(x);
      return true;
    }
    why = "expected an integer in [" + std::to_string(lo) + ", " + std::to_string(hi) + "]";
    return false;
  };
}

inline auto group_int(int32_t coordinator::GroupConfig::*m, int64_t lo, int64_t hi) {
  return [m, lo, hi](const std::string& v, BrokerConfig& c, std::string& why) {
    if (parse_int(v, c.group.*m, lo, hi)) return true;
    why = "expected an integer in [" + std::to_string(lo) + ", " + std::to_string(hi) + "]";
    return false;
  };
}

// A transaction coordinator setting (txn::TxnConfig), integer in [lo, hi].
template <class T>
inline auto txn_int(T txn::TxnConfig::*m, int64_t lo, int64_t hi) {
  return [m, lo, hi](const std::string& v, BrokerConfig& c, std::string& why) {
    if (parse_int(v, c.txn.*m, lo, hi)) return true;
    why = "expected an integer in [" + std::to_string(lo) + ", " + std::to_string(hi) + "]";
    return false;
  };
}

inline auto bool_setting(bool BrokerConfig::*m) {
  return [m](const std::string& v, BrokerConfig& c, std::string& why) {
    if (parse_bool(v, c.*m)) return true;
    why = "expected true or false";
    return false;
  };
}

// config_log.cc: the settings of partitions' logs and the log cleaner, appended to the table;
// and, once all are read, log.roll.ms from log.roll.hours unless it was given, and
// log.retention.ms from its three forms (the finest given wins); nullopt or the error.
const std::vector<Setting>& log_settings();
std::optional<ConfigError> resolve_log_times(BrokerConfig& c);

// config_kafka.cc: Kafka's broker settings that Kaffa accepts and leaves out — why (nullptr: not
// one of them) — and, once all are read, the refusals and notices they make (listeners named in
// controller.listener.names dropped); nullopt or the error.
const char* kafka_only(const std::string& name);
std::optional<ConfigError> resolve_kafka_only(BrokerConfig& c);

// config_group.cc: the group coordinator's settings (__consumer_offsets, classic and consumer
// groups, committed offsets), appended to the table.
const std::vector<Setting>& group_settings();
// Kafka's GroupCoordinatorConfig requirements between the group settings; nullopt or the error.
std::optional<std::string> check_group_settings(const coordinator::GroupConfig& g);

// config_connections.cc: the per-address connection limits and the request memory bound,
// appended to the table, and Kafka's requirements on them; nullopt or the error.
const std::vector<Setting>& connection_settings();
std::optional<std::string> check_connection_settings(const BrokerConfig& c);

// config_oauth.cc: the OAUTHBEARER settings (sasl.oauthbearer.*), appended to the table; a
// listener.name.<l>.oauthbearer.<setting>: the server callback handler or one of those settings
// for that listener (nullopt: not such a key; false with `why`: a bad value, or a handler other
// than Kafka's validator of signed tokens); and, once all are read, each OAUTHBEARER listener's
// validator (its key set read); nullopt or the error.
const std::vector<Setting>& oauth_settings();
std::optional<bool> oauth_listener_setting(const std::string& key, const std::string& value,
                                           BrokerConfig& c, std::string& why);
std::optional<ConfigError> resolve_oauthbearer(BrokerConfig& c);

// config_cluster.cc: the settings of a broker in a cluster (metadata.store, replication, leader
// election, controlled shutdown), appended to the table.
const std::vector<Setting>& cluster_settings();

}  // namespace kaffa::broker::config_detail
