#include "broker/config.h"

#include <algorithm>
#include <cctype>
#include <charconv>
#include <filesystem>
#include <functional>
#include <limits>
#include <set>
#include <sstream>

#include "base/log.h"
#include "broker/config_settings.h"
#include "broker/tls_config.h"

namespace kaffa::broker {
namespace {

using namespace config_detail;

constexpr std::string_view kSecurityProtocols[] = {"PLAINTEXT", "SSL", "SASL_PLAINTEXT",
                                                   "SASL_SSL"};

bool parse_protocol_map(const std::string& value, std::map<std::string, std::string>& out,
                        std::string& why) {
  out.clear();
  std::stringstream ss(value);
  std::string item;
  while (std::getline(ss, item, ',')) {
    item = trim(item);
    const auto colon = item.find(':');
    const std::string name = upper(trim(item.substr(0, colon)));
    const std::string proto = colon == std::string::npos ? "" : upper(trim(item.substr(colon + 1)));
    if (name.empty() || std::find(std::begin(kSecurityProtocols), std::end(kSecurityProtocols),
                                  proto) == std::end(kSecurityProtocols)) {
      why = "'" + item + "' is not NAME:PROTOCOL with PLAINTEXT, SSL, SASL_PLAINTEXT or SASL_SSL";
      return false;
    }
    if (!out.emplace(name, proto).second) {
      why = "listener name " + name + " appears twice";
      return false;
    }
  }
  return true;
}

// After every setting is read: each listener's protocol from the map (SSL and SASL_SSL get their
// TLS contexts in tls_config::resolve), advertised listeners naming bound ones, a valid
// inter.broker.listener.name.
std::optional<ConfigError> resolve_listeners(BrokerConfig& c) {
  for (auto& l : c.listeners) {
    const auto it = c.listener_security_protocol_map.find(l.name);
    if (it == c.listener_security_protocol_map.end()) {
      return ConfigError{"listener " + l.name +
                         " has no security protocol in listener.security.protocol.map"};
    }
    l.security_protocol = it->second;
    if (l.security_protocol == "SASL_PLAINTEXT" || l.security_protocol == "SASL_SSL") {
      const auto& m = c.sasl_mechanisms_of(l.name);
      if (m.empty()) {
        return ConfigError{"listener " + l.name +
                           " uses SASL but sasl.enabled.mechanisms is empty"};
      }
      if (std::find(m.begin(), m.end(), "PLAIN") != m.end() && c.plain_users.count(l.name) == 0) {
        std::string lower = l.name;
        for (auto& ch : lower) ch = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
        return ConfigError{"listener " + l.name + " offers PLAIN but listener.name." + lower +
                           ".plain.sasl.jaas.config is not set"};
      }
    }
  }
  auto named = [&](const std::string& name) {
    return std::any_of(c.listeners.begin(), c.listeners.end(),
                       [&](const Listener& l) { return l.name == name; });
  };
  for (const auto& [name, mechanisms] : c.listener_sasl_mechanisms) {
    if (!named(name)) {
      std::string lower = name;
      for (auto& ch : lower) ch = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
      return ConfigError{"setting 'listener.name." + lower +
                         ".sasl.enabled.mechanisms' names no listener in listeners"};
    }
  }
  for (auto& a : c.advertised_listeners) {
    if (!named(a.name)) {
      return ConfigError{"advertised.listeners names " + a.name + ", which is not in listeners"};
    }
  }
  if (!c.inter_broker_listener_name.empty() && !named(c.inter_broker_listener_name)) {
    return ConfigError{"inter.broker.listener.name " + c.inter_broker_listener_name +
                       " is not in listeners"};
  }
  return std::nullopt;
}

// A comma-separated list of served SASL mechanisms (upper-cased).
bool parse_mechanisms(const std::string& v, std::vector<std::string>& out, std::string& why) {
  out.clear();
  std::stringstream ss(v);
  std::string m;
  while (std::getline(ss, m, ',')) {
    m = upper(trim(m));
    if (m.empty()) continue;
    const auto ok = security::supported_mechanisms();
    if (std::find(ok.begin(), ok.end(), m) == ok.end()) {
      why =
          "mechanism " + m + " is not supported (PLAIN, SCRAM-SHA-256, SCRAM-SHA-512, OAUTHBEARER)";
      return false;
    }
    out.push_back(m);
  }
  return true;
}

const std::vector<Setting>& settings() {
  static const std::vector<Setting> kSettings = {
      {"node.id", "0", "The id of this broker in the cluster.",
       int_setting(&BrokerConfig::node_id, 0, std::numeric_limits<int32_t>::max())},
      {"broker.id", "0", "Alias of node.id.",
       int_setting(&BrokerConfig::node_id, 0, std::numeric_limits<int32_t>::max())},
      {"listeners", "PLAINTEXT://localhost:9092",
       "Comma-separated NAME://host:port the broker listens on (port 0: any free port).",
       [](const std::string& v, BrokerConfig& c, std::string& why) {
         return parse_listeners(v, c.listeners, why);
       }},
      {"advertised.listeners", "",
       "Addresses given to clients in Metadata; empty: the bound listeners.",
       [](const std::string& v, BrokerConfig& c, std::string& why) {
         if (v.empty()) {
           c.advertised_listeners.clear();
           return true;
         }
         return parse_listeners(v, c.advertised_listeners, why);
       }},
      {"listener.security.protocol.map",
       "PLAINTEXT:PLAINTEXT,SSL:SSL,SASL_PLAINTEXT:SASL_PLAINTEXT,SASL_SSL:SASL_SSL",
       "Security protocol of each listener name, as NAME:PROTOCOL pairs.",
       [](const std::string& v, BrokerConfig& c, std::string& why) {
         return parse_protocol_map(v, c.listener_security_protocol_map, why);
       }},
      {"inter.broker.listener.name", "",
       "Listener the brokers of a cluster use among themselves (must be one of listeners).",
       [](const std::string& v, BrokerConfig& c, std::string&) {
         c.inter_broker_listener_name = upper(trim(v));
         return true;
       }},
      {"sasl.enabled.mechanisms", "PLAIN",
       "SASL mechanisms offered on SASL listeners: PLAIN, SCRAM-SHA-256, SCRAM-SHA-512, "
       "OAUTHBEARER (listener.name.<listener>.sasl.enabled.mechanisms: one listener's own list).",
       [](const std::string& v, BrokerConfig& c, std::string& why) {
         return parse_mechanisms(v, c.sasl_enabled_mechanisms, why);
       }},
      {"sasl.mechanism.inter.broker.protocol", "PLAIN",
       "How a broker logs in to another broker's SASL inter-broker listener: PLAIN, "
       "SCRAM-SHA-256 or SCRAM-SHA-512, with the username and password of that listener's "
       "listener.name.<listener>.<mechanism>.sasl.jaas.config.",
       [](const std::string& v, BrokerConfig& c, std::string& why) {
         const std::string m = upper(trim(v));
         const auto ok = security::supported_mechanisms();
         if (std::find(ok.begin(), ok.end(), m) == ok.end() || m == security::kOAuthBearer) {
           why = "mechanism " + m + " is not supported (PLAIN, SCRAM-SHA-256, SCRAM-SHA-512)";
           return false;
         }
         c.sasl_mechanism_inter_broker_protocol = m;
         return true;
       }},
      {"log.dirs", "./kaffa-data",
       "The directories holding the partition logs, comma separated (one per disk); the first "
       "also holds the broker's metadata.",
       [](const std::string& v, BrokerConfig& c, std::string& why) {
         auto dirs = split_list(v);
         if (dirs.empty()) {
           why = "must name at least one directory";
           return false;
         }
         std::set<std::filesystem::path> seen;
         for (const auto& d : dirs) {
           std::error_code ec;
           // "/d" and "/d/" are one directory: compare both with a trailing separator.
           const auto path = (std::filesystem::absolute(d, ec) / "").lexically_normal();
           if (!seen.insert(path).second) {
             why = "directory " + d + " is named twice";
             return false;
           }
         }
         c.log_dir = dirs.front();
         c.log_dirs = std::move(dirs);
         return true;
       }},
      {"log.dir", "./kaffa-data", "The one log directory when log.dirs is not set.",
       [](const std::string& v, BrokerConfig& c, std::string& why) {
         if (trim(v).empty()) {
           why = "must not be empty";
           return false;
         }
         c.log_dir = trim(v);
         c.log_dirs = {c.log_dir};
         return true;
       }},
      {"num.partitions", "1", "Partitions of an auto-created topic or of one created with -1.",
       int_setting(&BrokerConfig::num_partitions, 1, 1000000)},
      {"default.replication.factor", "1", "Replication factor of topics created with -1.",
       [](const std::string& v, BrokerConfig& c, std::string& why) {
         if (parse_int(v, c.default_replication_factor, 1, 32767)) return true;
         why = "expected an integer in [1, 32767]";
         return false;
       }},
      {"auto.create.topics.enable", "true",
       "Create a topic on first Metadata request for it (when the client allows).",
       [](const std::string& v, BrokerConfig& c, std::string& why) {
         if (parse_bool(v, c.auto_create_topics_enable)) return true;
         why = "expected true or false";
         return false;
       }},
      {"delete.topic.enable", "true",
       "Whether DeleteTopics may delete topics; false: every deletion is refused "
       "(TOPIC_DELETION_DISABLED).",
       bool_setting(&BrokerConfig::delete_topic_enable)},
      {"socket.request.max.bytes", "104857600",
       "Largest request frame accepted; a larger one closes the connection.",
       int_setting(&BrokerConfig::socket_request_max_bytes, 64,
                   std::numeric_limits<int32_t>::max())},
      {"fetch.max.bytes", "8388608",
       "Most bytes one Fetch answer carries, whatever the request asks (its first batch may "
       "exceed it). Kafka's default is 55 MiB; Kaffa's 8 MiB keeps librdkafka's receive buffer "
       "out of a fresh mmap() per answer and in cache while it is parsed. Raise it for "
       "consumers far away (one answer per round trip).",
       int_setting(&BrokerConfig::fetch_max_bytes, 1024, std::numeric_limits<int32_t>::max())},
      {"max.incremental.fetch.session.cache.slots", "1000",
       "Most incremental fetch sessions (KIP-227) the broker keeps; with the cache full, a new "
       "session replaces one idle for 2 minutes or a smaller one, else the client fetches "
       "without a session.",
       int_setting(&BrokerConfig::max_incremental_fetch_session_cache_slots, 0,
                   std::numeric_limits<int32_t>::max())},
      {"max.request.partition.size.limit", "2000",
       "Most partitions one DescribeTopicPartitions answer lists (a client asking for more gets "
       "a cursor to ask again from).",
       int_setting(&BrokerConfig::max_request_partition_size_limit, 1,
                   std::numeric_limits<int32_t>::max())},
      {"replica.selector.class", "",
       "org.apache.kafka.common.replica.RackAwareReplicaSelector: a consumer that gives its "
       "rack (client.rack) is sent to an in-sync replica in that rack (KIP-392). Empty or "
       "org.apache.kafka.common.replica.LeaderSelector: consumers read from leaders.",
       [](const std::string& v, BrokerConfig& c, std::string& why) {
         constexpr std::string_view kRackAware =
             "org.apache.kafka.common.replica.RackAwareReplicaSelector";
         if (!v.empty() && v != kRackAware &&
             v != "org.apache.kafka.common.replica.LeaderSelector") {
           why =
               "expected org.apache.kafka.common.replica.RackAwareReplicaSelector, "
               "org.apache.kafka.common.replica.LeaderSelector or empty";
           return false;
         }
         c.rack_aware_replica_selector = v == kRackAware;
         return true;
       }},
      {"connections.max.idle.ms", "600000", "Idle connections are closed after this long.",
       [](const std::string& v, BrokerConfig& c, std::string& why) {
         if (parse_int(v, c.connections_max_idle_ms, 1, std::numeric_limits<int64_t>::max())) {
           return true;
         }
         why = "expected a positive integer";
         return false;
       }},
      {"max.connections", "2147483647", "Connections accepted at once; more are closed at once.",
       int_setting(&BrokerConfig::max_connections, 1, std::numeric_limits<int32_t>::max())},
      {"num.network.threads", "0",
       "Event-loop threads; 0 means one per core. Each connection lives on one of them.",
       int_setting(&BrokerConfig::num_network_threads, 0, 1024)},
      {"connection.max.inflight.requests", "64",
       "Kaffa: requests of one connection processed at once; reading pauses beyond this.",
       int_setting(&BrokerConfig::connection_max_inflight_requests, 1, 100000)},
      {"transaction.state.log.num.partitions", "50",
       "Partitions of __transaction_state (fixed once the topic exists).",
       txn_int(&txn::TxnConfig::num_partitions, 1, 10000)},
      {"transaction.state.log.replication.factor", "3",
       "Replication factor of __transaction_state; in a cluster it is created once this many "
       "brokers are alive (a single node keeps one replica).",
       txn_int(&txn::TxnConfig::replication_factor, 1, 32767)},
      {"transaction.state.log.min.isr", "2",
       "min.insync.replicas of __transaction_state (at most its replication factor).",
       txn_int(&txn::TxnConfig::min_isr, 1, 32767)},
      {"transaction.state.log.segment.bytes", "104857600", "Segment size of __transaction_state.",
       txn_int(&txn::TxnConfig::segment_bytes, 1024, std::numeric_limits<int32_t>::max())},
      {"transaction.max.timeout.ms", "900000",
       "Longest transaction timeout a producer may ask for (InitProducerId).",
       txn_int(&txn::TxnConfig::max_timeout_ms, 1, std::numeric_limits<int32_t>::max())},
      {"transactional.id.expiration.ms", "604800000",
       "A transactional id unused this long (no transaction in progress) is forgotten.",
       txn_int(&txn::TxnConfig::id_expiration_ms, 1, std::numeric_limits<int32_t>::max())},
      {"transaction.abort.timed.out.transaction.cleanup.interval.ms", "10000",
       "How often transactions past their timeout are looked for and aborted.",
       txn_int(&txn::TxnConfig::abort_interval_ms, 1, std::numeric_limits<int32_t>::max())},
      {"transaction.remove.expired.transaction.cleanup.interval.ms", "3600000",
       "How often expired transactional ids are removed.",
       txn_int(&txn::TxnConfig::expiry_interval_ms, 1, std::numeric_limits<int32_t>::max())},
      {"transaction.partition.verification.enable", "true",
       "Before a producer's first transactional batch on a partition is appended, ask its "
       "transaction coordinator whether the partition is in its transaction (KIP-890: no "
       "hanging transactions).",
       [](const std::string& v, BrokerConfig& c, std::string& why) {
         if (parse_bool(v, c.txn.verify_partitions)) return true;
         why = "expected true or false";
         return false;
       }},
      {"log.level", "info", "Kaffa: trace, debug, info, warn, error or off.",
       [](const std::string& v, BrokerConfig& c, std::string& why) {
         log::Level l;
         if (!log::parse_level(v, l)) {
           why = "expected trace, debug, info, warn, error or off";
           return false;
         }
         c.log_level = v;
         return true;
       }},
      {"log.format", "text",
       "Kaffa: text (one human-readable line per event) or json (one JSON object per line).",
       [](const std::string& v, BrokerConfig& c, std::string& why) {
         log::Format f;
         if (!log::parse_format(v, f)) {
           why = "expected text or json";
           return false;
         }
         c.log_format = v;
         return true;
       }},
      {"admin.listeners", "http://localhost:9644",
       "Kaffa: comma-separated http://host:port of the admin API (/metrics, /health, /v1/...); "
       "port 0: any free port; empty: disabled.",
       [](const std::string& v, BrokerConfig& c, std::string& why) {
         return parse_admin_listeners(v, c.admin_listeners, why);
       }},
      // --- Authorization (ACLs) ---
      {"authorizer.class.name", "",
       "Empty: no authorization. kafka.security.authorizer.AclAuthorizer or "
       "org.apache.kafka.metadata.authorizer.StandardAuthorizer: Kaffa's ACL authorizer.",
       [](const std::string& v, BrokerConfig& c, std::string& why) {
         const std::string name = trim(v);
         if (!name.empty() && name != "kafka.security.authorizer.AclAuthorizer" &&
             name != "org.apache.kafka.metadata.authorizer.StandardAuthorizer") {
           why =
               "unknown authorizer (kafka.security.authorizer.AclAuthorizer or "
               "org.apache.kafka.metadata.authorizer.StandardAuthorizer)";
           return false;
         }
         c.acl_authorizer = !name.empty();
         return true;
       }},
      {"super.users", "",
       "Semicolon-separated principals (User:admin;User:ops) allowed everything by the "
       "authorizer.",
       [](const std::string& v, BrokerConfig& c, std::string& why) {
         c.super_users.clear();
         std::stringstream ss(v);
         std::string p;
         while (std::getline(ss, p, ';')) {
           p = trim(p);
           if (p.empty()) continue;
           if (const auto colon = p.find(':'); colon == 0 || colon == std::string::npos) {
             why = "principal '" + p + "' is not Type:name";
             return false;
           }
           c.super_users.insert(p);
         }
         return true;
       }},
      {"allow.everyone.if.no.acl.found", "false",
       "With an authorizer: allow a request when no ACL applies to its resource at all.",
       [](const std::string& v, BrokerConfig& c, std::string& why) {
         if (parse_bool(v, c.allow_everyone_if_no_acl_found)) return true;
         why = "expected true or false";
         return false;
       }},
      // --- end of Authorization (ACLs) ---
  };
  static const std::vector<Setting> kAll = [] {
    std::vector<Setting> all = kSettings;
    for (const auto* more : {&log_settings(), &group_settings(), &cluster_settings(),
                             &connection_settings(), &oauth_settings()}) {
      all.insert(all.end(), more->begin(), more->end());
    }
    return all;
  }();
  return kAll;
}

const Setting* find_setting(const std::string& name) {
  for (const auto& s : settings()) {
    if (name == s.name) return &s;
  }
  return nullptr;
}

}  // namespace

std::optional<ConfigError> apply_settings(BrokerConfig& config,
                                          const std::map<std::string, std::string>& values) {
  for (const auto& [key, value] : values) {
    const Setting* s = find_setting(key);
    if (s == nullptr) return ConfigError{"unknown setting '" + key + "'"};
    std::string why;
    if (!s->apply(value, config, why)) {
      return ConfigError{"Invalid value " + value + " for configuration " + key + ": " + why};
    }
    config.explicit_settings.insert(key);
  }
  if (auto why = check_connection_settings(config)) return ConfigError{*why};
  return resolve_log_times(config);
}

bool parse_properties(const std::string& text, std::map<std::string, std::string>& out,
                      std::string& error) {
  std::istringstream in(text);
  std::string line, logical;
  int lineno = 0;
  while (std::getline(in, line)) {
    ++lineno;
    std::string t = trim(line);
    if (logical.empty() && (t.empty() || t[0] == '#' || t[0] == '!')) continue;
    if (!t.empty() && t.back() == '\\') {
      t.pop_back();
      logical += t;
      continue;
    }
    logical += t;
    const auto sep = logical.find_first_of("=: \t");
    if (sep == 0 || logical.empty()) {
      error = "line " + std::to_string(lineno) + ": missing key";
      return false;
    }
    std::string key = logical.substr(0, sep == std::string::npos ? logical.size() : sep);
    std::string value;
    if (sep != std::string::npos) {
      std::string rest = trim(std::string_view(logical).substr(sep));
      if (!rest.empty() && (rest[0] == '=' || rest[0] == ':')) rest = trim(rest.substr(1));
      value = rest;
    }
    out[key] = value;
    logical.clear();
  }
  return true;
}

bool parse_listeners(const std::string& value, std::vector<Listener>& out, std::string& error) {
  out.clear();
  std::stringstream ss(value);
  std::string item;
  while (std::getline(ss, item, ',')) {
    item = trim(item);
    const auto scheme = item.find("://");
    if (scheme == std::string::npos || scheme == 0) {
      error = "'" + item + "' is not NAME://host:port";
      return false;
    }
    Listener l;
    l.name = upper(item.substr(0, scheme));
    if (!std::all_of(l.name.begin(), l.name.end(), [](char ch) {
          return std::isalnum(static_cast<unsigned char>(ch)) || ch == '_' || ch == '-';
        })) {
      error = "listener name '" + l.name + "' may hold only letters, digits, '_' and '-'";
      return false;
    }
    std::string hostport = item.substr(scheme + 3);
    std::string port;
    if (!hostport.empty() && hostport[0] == '[') {
      const auto close = hostport.find(']');
      if (close == std::string::npos || close + 1 >= hostport.size() ||
          hostport[close + 1] != ':') {
        error = "'" + item + "': bad IPv6 address";
        return false;
      }
      l.host = hostport.substr(1, close - 1);
      port = hostport.substr(close + 2);
    } else {
      const auto colon = hostport.rfind(':');
      if (colon == std::string::npos) {
        error = "'" + item + "' has no port";
        return false;
      }
      l.host = hostport.substr(0, colon);
      port = hostport.substr(colon + 1);
    }
    if (!parse_int(port, l.port, 0, 65535)) {
      error = "'" + item + "': port must be 0-65535";
      return false;
    }
    for (const auto& other : out) {
      if (other.name == l.name) {
        error = "listener name '" + l.name + "' appears twice";
        return false;
      }
    }
    out.push_back(std::move(l));
  }
  if (out.empty()) {
    error = "no listener given";
    return false;
  }
  return true;
}

bool parse_admin_listeners(const std::string& value, std::vector<Listener>& out,
                           std::string& error) {
  out.clear();
  std::stringstream ss(value);
  std::string item;
  while (std::getline(ss, item, ',')) {
    item = trim(item);
    if (item.empty()) continue;
    if (item.rfind("http://", 0) != 0) {
      error = "'" + item + "' is not http://host:port";
      return false;
    }
    // Same host:port rules as the Kafka listeners.
    std::vector<Listener> one;
    if (!parse_listeners("PLAINTEXT://" + item.substr(7), one, error)) {
      error = "'" + item + "' is not http://host:port";
      return false;
    }
    one.front().name = "http";
    out.push_back(std::move(one.front()));
  }
  return true;
}

std::optional<ConfigError> load_config(const std::map<std::string, std::string>& file_props,
                                       const std::vector<std::string>& overrides,
                                       BrokerConfig& out) {
  std::vector<std::pair<std::string, std::string>> all;
  for (const auto& s : settings()) {
    const std::string_view n(s.name);
    if (n != "broker.id" && n != "log.dir" && n != "log.roll.hours") {
      all.emplace_back(s.name, s.default_value);
    }
  }
  for (const auto& kv : file_props) all.push_back(kv);
  for (const auto& o : overrides) {
    const auto eq = o.find('=');
    if (eq == std::string::npos || eq == 0) {
      return ConfigError{"override '" + o + "' is not key=value"};
    }
    all.emplace_back(o.substr(0, eq), o.substr(eq + 1));
  }
  const size_t defaults = all.size() - file_props.size() - overrides.size();
  for (size_t i = 0; i < all.size(); ++i) {
    const auto& [key, value] = all[i];
    const Setting* s = find_setting(key);
    if (s == nullptr && key.starts_with("listener.name.") && key.ends_with(".sasl.jaas.config")) {
      // listener.name.<listener>.<mechanism>.sasl.jaas.config: for PLAIN the users of that
      // listener (user_<name>); for any mechanism username/password, this broker's own login
      // as a client of that listener (inter-broker).
      const std::string middle = key.substr(14, key.size() - 14 - 17);
      const auto dot = middle.find('.');
      const std::string name = upper(middle.substr(0, dot));
      const std::string mechanism = dot == std::string::npos ? "" : upper(middle.substr(dot + 1));
      const auto ok = security::supported_mechanisms();
      if (name.empty() || std::find(ok.begin(), ok.end(), mechanism) == ok.end()) {
        return ConfigError{"unknown setting '" + key + "'"};
      }
      std::string why;
      auto options = security::parse_jaas_options(value, &why);
      if (!options) return ConfigError{"invalid " + key + ": " + why};
      if (mechanism == security::kOAuthBearer) out.oauthbearer_settings.jaas[name] = *options;
      if (mechanism == security::kPlain) {
        auto users = security::parse_plain_jaas(value, &why);
        if (!users) return ConfigError{"invalid " + key + ": " + why};
        out.plain_users[name] = std::make_shared<const security::PlainUsers>(std::move(*users));
      }
      if (options->contains("username") && options->contains("password")) {
        out.sasl_logins[{name, mechanism}] = {(*options)["username"], (*options)["password"]};
      }
      continue;  // a secret: never echoed by DescribeConfigs or logs
    }
    if (s == nullptr && key.starts_with("listener.name.") &&
        key.ends_with(".sasl.enabled.mechanisms") && key.size() > 14 + 24) {
      // listener.name.<listener>.sasl.enabled.mechanisms: that listener's own list.
      const std::string name = upper(key.substr(14, key.size() - 14 - 24));
      std::string why;
      if (name.find('.') != std::string::npos ||
          !parse_mechanisms(value, out.listener_sasl_mechanisms[name], why)) {
        return ConfigError{"invalid value '" + value + "' for " + key + ": " + why};
      }
      continue;
    }
    if (s == nullptr && tls_config::accepts(key)) {
      out.ssl_settings[key] = value;  // checked by tls_config::resolve
      continue;
    }
    if (s == nullptr) {
      std::string why;
      if (const auto ok = oauth_listener_setting(key, value, out, why)) {
        if (!*ok) return ConfigError{"invalid value '" + value + "' for " + key + ": " + why};
        continue;
      }
    }
    if (s == nullptr && kafka_only(key) != nullptr) {
      out.kafka_only[key] = value;  // resolve_kafka_only: a notice, or a refusal
      continue;
    }
    if (s == nullptr) return ConfigError{"unknown setting '" + key + "'"};
    std::string why;
    if (!s->apply(value, out, why)) {
      return ConfigError{"invalid value '" + value + "' for " + key + ": " + why};
    }
    out.raw[key] = value;
    if (i >= defaults) out.explicit_settings.insert(key);
  }
  if (auto e = resolve_log_times(out)) return e;
  if (auto e = resolve_kafka_only(out)) return e;
  if (auto e = resolve_listeners(out)) return e;
  if (auto e = resolve_oauthbearer(out)) return e;
  if (auto e = tls_config::resolve(out)) return e;
  if (out.cluster.replica_socket_timeout_ms < out.cluster.replica_fetch_wait_max_ms) {
    return ConfigError{
        "replica.socket.timeout.ms should always be at least "
        "replica.fetch.wait.max.ms to prevent unnecessary socket timeouts"};
  }
  if (out.group.group_min_session_timeout_ms > out.group.group_max_session_timeout_ms) {
    return ConfigError{"group.min.session.timeout.ms is larger than group.max.session.timeout.ms"};
  }
  if (auto why = check_group_settings(out.group)) return ConfigError{*why};
  if (auto why = check_connection_settings(out)) return ConfigError{*why};
  return std::nullopt;
}

std::vector<SettingInfo> list_settings() {
  std::vector<SettingInfo> out;
  for (const auto& st : settings()) out.push_back({st.name, st.default_value, st.doc});
  return out;
}

std::string describe_settings() {
  std::string s;
  for (const auto& st : settings()) {
    s += std::string(st.name) + " (default: " + st.default_value + ")\n    " + st.doc + "\n";
  }
  return s + tls_config::describe();
}

}  // namespace kaffa::broker
