// Broker configuration: Kafka's property names in a server.properties file, overridable on the
// command line (`--override key=value`, as kafka-server-start.sh). Every setting is declared in
// one table (config.cc) with its type, default, bounds and documentation; an unknown name or a
// malformed value is an error at start-up, never silently ignored.
//
// Immutable after load; read from any thread.
#pragma once

#include <cstdint>
#include <limits>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "coordinator/group_config.h"
#include "security/oauthbearer.h"
#include "security/sasl.h"
#include "txn/txn_config.h"

namespace kaffa::broker {

struct ListenerTls;  // tls_config.h

struct Listener {
  std::string name;  // listener name, upper case (Kafka normalises it), e.g. PLAINTEXT, INTERNAL
  std::string host;  // "" = all interfaces
  uint16_t port = 0;
  std::string security_protocol = "PLAINTEXT";  // from listener.security.protocol.map
};

// A broker in a cluster (config_cluster.cc). Without metadata.store the broker is a cluster of one
// and none of the replication settings matter.
struct ClusterConfig {
  // metadata.store: "" = single node (topics in the local snapshot); "etcd://h:p[,h:p...]" =
  // cluster metadata on etcd (docs/OPERATIONS.md).
  std::string metadata_store;
  std::string metadata_store_prefix = "/kaffa";  // metadata.store.prefix: etcd key prefix
  std::string broker_rack;                       // broker.rack ("" = none)
  int64_t broker_session_timeout_ms = 9000;      // broker.session.timeout.ms: registration lease
  int32_t min_insync_replicas = 1;               // min.insync.replicas (topic default)
  int64_t replica_lag_time_max_ms = 30000;       // replica.lag.time.max.ms
  int32_t replica_fetch_max_bytes = 1048576;     // replica.fetch.max.bytes (per partition)
  int32_t replica_fetch_response_max_bytes = 10485760;  // replica.fetch.response.max.bytes
  int32_t replica_fetch_wait_max_ms = 500;              // replica.fetch.wait.max.ms
  int32_t replica_socket_timeout_ms = 30000;            // replica.socket.timeout.ms
  int32_t replica_socket_receive_buffer_bytes = 65536;  // replica.socket.receive.buffer.bytes
  int32_t replica_fetch_min_bytes = 1;                  // replica.fetch.min.bytes
  int64_t replica_fetch_backoff_ms = 1000;              // replica.fetch.backoff.ms
  int32_t num_replica_fetchers = 1;                     // num.replica.fetchers
  bool unclean_leader_election_enable = false;          // unclean.leader.election.enable
  bool auto_leader_rebalance_enable = true;             // auto.leader.rebalance.enable
  int64_t leader_imbalance_check_interval_seconds = 300;
  bool controlled_shutdown_enable = true;               // controlled.shutdown.enable
  int32_t controlled_shutdown_max_retries = 3;          // controlled.shutdown.max.retries
  int64_t controlled_shutdown_retry_backoff_ms = 5000;  // controlled.shutdown.retry.backoff.ms
  int64_t controlled_shutdown_quiet_ms = 500;           // controlled.shutdown.quiet.ms (Kaffa's)
  // Replication quotas (KIP-73; cluster/replication_quota.h), bytes/s, Long.MAX_VALUE: none.
  // Also dynamic (dynamic_configs.h, broker_dynamic_configs.cc).
  int64_t leader_replication_throttled_rate = std::numeric_limits<int64_t>::max();
  int64_t follower_replication_throttled_rate = std::numeric_limits<int64_t>::max();
  // replica.alter.log.dirs.io.max.bytes.per.second: moves between log directories
  // (AlterReplicaLogDirs), read and written together. Also dynamic.
  int64_t replica_alter_log_dirs_io_max_bytes_per_second = std::numeric_limits<int64_t>::max();
  int32_t replication_quota_window_num = 11;          // replication.quota.window.num
  int32_t replication_quota_window_size_seconds = 1;  // replication.quota.window.size.seconds

  bool enabled() const { return !metadata_store.empty(); }
};

struct BrokerConfig {
  int32_t node_id = 0;
  std::vector<Listener> listeners;
  std::vector<Listener> advertised_listeners;  // empty: derived from the bound listeners
  // listener.security.protocol.map: listener name -> PLAINTEXT, SSL, SASL_PLAINTEXT, SASL_SSL.
  std::map<std::string, std::string> listener_security_protocol_map;
  std::string inter_broker_listener_name;  // inter.broker.listener.name; "" = not set
  // sasl.enabled.mechanisms (Kafka's default is GSSAPI, which Kaffa does not serve).
  std::vector<std::string> sasl_enabled_mechanisms{"PLAIN"};
  // listener.name.<listener>.sasl.enabled.mechanisms, by upper-cased listener name: that
  // listener's own list, in place of the broker-wide one.
  std::map<std::string, std::vector<std::string>> listener_sasl_mechanisms;
  // The mechanisms a SASL listener offers.
  const std::vector<std::string>& sasl_mechanisms_of(std::string_view listener) const {
    const auto it = listener_sasl_mechanisms.find(std::string(listener));
    return it != listener_sasl_mechanisms.end() ? it->second : sasl_enabled_mechanisms;
  }
  // listener.name.<listener>.plain.sasl.jaas.config, by upper-cased listener name.
  std::map<std::string, std::shared_ptr<const security::PlainUsers>> plain_users;
  // sasl.mechanism.inter.broker.protocol: how this broker authenticates to another broker's SASL
  // inter-broker listener (Kafka's default, GSSAPI, is not served: PLAIN here).
  std::string sasl_mechanism_inter_broker_protocol = "PLAIN";
  // username/password of listener.name.<listener>.<mechanism>.sasl.jaas.config: this broker's own
  // credentials as a client of that listener, by (upper-cased listener, MECHANISM).
  struct SaslLogin {
    std::string username;
    std::string password;
  };
  std::map<std::pair<std::string, std::string>, SaslLogin> sasl_logins;
  // OAUTHBEARER (config_oauth.cc): the sasl.oauthbearer.* settings and, per upper-cased listener,
  // the options of listener.name.<l>.oauthbearer.sasl.jaas.config and whether
  // listener.name.<l>.oauthbearer.sasl.server.callback.handler.class names Kafka's validator of
  // signed tokens; from them, each OAUTHBEARER listener's validator.
  struct OAuthBearerSettings {
    std::string jwks_url;
    std::vector<std::string> expected_audience;
    std::string expected_issuer;
    std::string sub_claim = "sub";
    std::string scope_claim = "scope";
    int64_t clock_skew_seconds = 30;
    std::map<std::string, std::map<std::string, std::string>> jaas;
    std::set<std::string> signed_listeners;
    // listener.name.<l>.oauthbearer.sasl.oauthbearer.<name>: by listener, name -> raw value.
    std::map<std::string, std::map<std::string, std::string>> per_listener;
  };
  OAuthBearerSettings oauthbearer_settings;
  std::map<std::string, std::shared_ptr<const security::OAuthBearerConfig>> oauthbearer;
  // log.dirs: every directory holding partition logs (Kafka's JBOD), each with its meta.properties
  // and checkpoints; log_dir is the first, which also holds __kaffa_metadata and the cleaner's
  // checkpoint.
  std::vector<std::string> log_dirs{"./kaffa-data"};
  std::string log_dir = "./kaffa-data";
  int32_t num_partitions = 1;
  int16_t default_replication_factor = 1;
  bool auto_create_topics_enable = true;
  bool delete_topic_enable = true;  // delete.topic.enable
  int32_t socket_request_max_bytes = 104857600;
  // fetch.max.bytes: cap on any fetch answer's max_bytes (Kafka's default is 57671680).
  int32_t fetch_max_bytes = 8388608;
  // max.incremental.fetch.session.cache.slots: most fetch sessions kept (KIP-227).
  int32_t max_incremental_fetch_session_cache_slots = 1000;
  // max.request.partition.size.limit: most partitions one DescribeTopicPartitions answer lists.
  int32_t max_request_partition_size_limit = 2000;
  // replica.selector.class = org.apache.kafka.common.replica.RackAwareReplicaSelector: consumers
  // giving a rack are sent to an in-sync replica in it (KIP-392).
  bool rack_aware_replica_selector = false;
  int64_t connections_max_idle_ms = 600000;
  int32_t max_connections = 2147483647;
  int32_t max_connections_per_ip = 2147483647;  // max.connections.per.ip
  int64_t queued_max_request_bytes = -1;        // queued.max.request.bytes (<= 0: no bound)
  // max.connections.per.ip.overrides, by resolved address text.
  std::map<std::string, int32_t> max_connections_per_ip_overrides;
  int32_t socket_send_buffer_bytes = 102400;  // socket.send.buffer.bytes (-1: the kernel's)
  int32_t socket_receive_buffer_bytes = -1;   // socket.receive.buffer.bytes (Kafka: 102400)
  int32_t socket_listen_backlog_size = 50;    // socket.listen.backlog.size
  int32_t num_network_threads = 0;            // 0: one per core
  int32_t connection_max_inflight_requests = 64;
  std::string log_level = "info";
  std::string log_format = "text";  // Kaffa: log.format, text or json
  // admin.listeners: the HTTP admin API (metrics, health, JSON views); empty = disabled.
  std::vector<Listener> admin_listeners{{"http", "localhost", 9644}};

  // Log defaults (Kafka's broker-level names; topic configs override them).
  int32_t log_segment_bytes = 1073741824;                 // log.segment.bytes
  int64_t log_roll_ms = 604800000;                        // log.roll.ms
  int64_t log_roll_hours = -1;                            // log.roll.hours (when log.roll.ms unset)
  int32_t log_index_interval_bytes = 4096;                // log.index.interval.bytes
  int32_t log_index_size_max_bytes = 10485760;            // log.index.size.max.bytes
  int32_t message_max_bytes = 1048588;                    // message.max.bytes
  std::string log_message_timestamp_type = "CreateTime";  // log.message.timestamp.type
  // log.message.timestamp.before.max.ms / after.max.ms (KIP-937): how far a CreateTime may lie
  // before / after the broker's clock.
  int64_t log_message_timestamp_before_max_ms = std::numeric_limits<int64_t>::max();
  int64_t log_message_timestamp_after_max_ms = std::numeric_limits<int64_t>::max();
  std::string log_cleanup_policy = "delete";        // log.cleanup.policy: delete, compact or both
  std::string compression_type = "producer";        // compression.type
  int64_t log_flush_interval_messages = INT64_MAX;  // log.flush.interval.messages
  int64_t log_flush_interval_ms = INT64_MAX;        // log.flush.interval.ms
  int64_t log_flush_offset_checkpoint_interval_ms =
      60000;                                      // log.flush.offset.checkpoint.interval.ms
  int32_t num_recovery_threads_per_data_dir = 2;  // num.recovery.threads.per.data.dir
  int32_t log_cached_read_files = 8;  // Kaffa: older segments' files kept open per partition
  // Retention: log.retention.ms > log.retention.minutes > log.retention.hours (Kafka's
  // precedence), resolved by load_config into log_retention_ms (-1: unlimited).
  int64_t log_retention_ms = 604800000;
  std::optional<int64_t> log_retention_ms_setting;   // log.retention.ms (unset by default)
  std::optional<int64_t> log_retention_minutes;      // log.retention.minutes (unset)
  int32_t log_retention_hours = 168;                 // log.retention.hours
  int64_t log_retention_bytes = -1;                  // log.retention.bytes (-1: unlimited)
  int64_t log_retention_check_interval_ms = 300000;  // log.retention.check.interval.ms
  // Log cleaner (compaction); the last four are the defaults of the topic configs.
  bool log_cleaner_enable = true;                      // log.cleaner.enable
  int32_t log_cleaner_threads = 1;                     // log.cleaner.threads
  int64_t log_cleaner_backoff_ms = 15000;              // log.cleaner.backoff.ms
  int64_t log_cleaner_dedupe_buffer_size = 134217728;  // log.cleaner.dedupe.buffer.size
  int32_t log_cleaner_io_buffer_size = 524288;         // log.cleaner.io.buffer.size
  double log_cleaner_io_max_bytes_per_second =
      1.7976931348623157e308;                             // ...io.max.bytes.per.second
  double log_cleaner_min_cleanable_ratio = 0.5;           // log.cleaner.min.cleanable.ratio
  int64_t log_cleaner_delete_retention_ms = 86400000;     // log.cleaner.delete.retention.ms
  int64_t log_cleaner_min_compaction_lag_ms = 0;          // log.cleaner.min.compaction.lag.ms
  int64_t log_cleaner_max_compaction_lag_ms = INT64_MAX;  // log.cleaner.max.compaction.lag.ms
  // Idempotent producers: state of a producer id is forgotten this long after its last batch.
  int64_t producer_id_expiration_ms = 86400000;               // producer.id.expiration.ms
  int64_t producer_id_expiration_check_interval_ms = 600000;  // ...check.interval.ms

  coordinator::GroupConfig group;  // offsets.topic.*, group.*, offsets.retention.*
  txn::TxnConfig txn;              // transaction.*, transactional.id.expiration.ms
  ClusterConfig cluster;           // metadata.store, replica.*, leader election

  // TLS listeners (tls_config.h): every ssl.* and listener.name.<l>.ssl.* setting as given
  // (kept out of `raw`: keys and passwords), and each SSL/SASL_SSL listener's context slot and
  // principal mapping, by listener name.
  std::map<std::string, std::string> ssl_settings;
  std::map<std::string, std::shared_ptr<ListenerTls>> tls;
  // --- Authorization (ACLs) ---
  // authorizer.class.name: Kafka's AclAuthorizer/StandardAuthorizer names turn the ACL authorizer
  // on; empty (the default) = no authorization.
  bool acl_authorizer = false;
  std::set<std::string, std::less<>> super_users;  // super.users, "User:admin;User:ops"
  bool allow_everyone_if_no_acl_found = false;     // allow.everyone.if.no.acl.found
  // --- end of Authorization (ACLs) ---

  // Every setting as given (file, then overrides), for DescribeConfigs later.
  std::map<std::string, std::string> raw;
  // The names among them given in the file or by overrides (the rest are defaults).
  std::set<std::string> explicit_settings;
  // Kafka's settings given that Kaffa has no use for (config_kafka.cc), as given, and what to
  // tell the operator about each (logged at start).
  std::map<std::string, std::string> kafka_only;
  std::vector<std::string> notices;
};

struct ConfigError {
  std::string message;
};

// Parses the Java-properties subset Kafka's files use: `key=value` / `key: value` / `key value`,
// `#` and `!` comments, backslash line continuation, surrounding whitespace trimmed.
bool parse_properties(const std::string& text, std::map<std::string, std::string>& out,
                      std::string& error);

// Builds the configuration from properties (file content already parsed) plus overrides in the
// order given; returns the first problem found.
std::optional<ConfigError> load_config(const std::map<std::string, std::string>& file_props,
                                       const std::vector<std::string>& overrides,
                                       BrokerConfig& out);

// Settings applied on top of a configuration built by load_config (the dynamic broker configs,
// dynamic_configs.h): each value through its setting's parser, then the values derived from
// several settings worked out again (log.retention.ms). The first problem found, in Kafka's
// words ("Invalid value x for configuration log.retention.ms: ...").
std::optional<ConfigError> apply_settings(BrokerConfig& config,
                                          const std::map<std::string, std::string>& values);

// `NAME://host:port[,NAME://host:port...]`; IPv6 hosts in brackets.
bool parse_listeners(const std::string& value, std::vector<Listener>& out, std::string& error);

// `http://host:port[,http://host:port...]` (IPv6 hosts in brackets); empty: none.
bool parse_admin_listeners(const std::string& value, std::vector<Listener>& out,
                           std::string& error);

// One line per setting: name, default, documentation (for `kaffa serve --help-config`).
std::string describe_settings();

// Every declared setting, in table order (DescribeConfigs of the broker resource).
struct SettingInfo {
  std::string name;
  std::string default_value;
  std::string doc;
};
std::vector<SettingInfo> list_settings();

}  // namespace kaffa::broker
