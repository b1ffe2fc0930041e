// Kafka's broker settings that Kaffa has no use for, so that a server.properties written for
// Kafka (its own config/kraft/server.properties included) starts a Kaffa broker: each is accepted
// and left out, with a notice saying why, logged at start. Where leaving one out would give the
// operator something else than asked for, the setting is refused instead: a controller-only
// process.roles, zookeeper.connect, a KRaft quorum of several nodes without metadata.store, and
// tiered storage switched on. Listeners named in controller.listener.names are not bound (they
// serve Kafka's controllers). A name that is neither Kafka's nor Kaffa's stays an error.
#include <algorithm>

#include "broker/config_settings.h"

namespace kaffa::broker::config_detail {
namespace {

constexpr const char* kNoQuorum =
    "Kaffa has no KRaft quorum: a cluster keeps its metadata in etcd (metadata.store), a single "
    "node in log.dirs";
constexpr const char* kNoZooKeeper = "Kaffa runs without ZooKeeper";
constexpr const char* kThreads =
    "Kaffa serves requests on its event loops (num.network.threads) and opens logs on its own "
    "threads";
constexpr const char* kVersions = "Kaffa speaks Kafka's current protocol and record format only";
constexpr const char* kMetrics =
    "Kaffa's metrics are served in Prometheus form at /metrics on admin.listeners";
constexpr const char* kShare = "share groups (KIP-932) are not offered";
constexpr const char* kTiered = "tiered storage (KIP-405) is not offered";
constexpr const char* kLevels = "Kaffa compresses at each codec's default level";
constexpr const char* kJwksOnce =
    "Kaffa reads the OAUTHBEARER key set once, at start-up, from a file";
constexpr const char* kNoOAuthLogin = "a broker does not log in to another with OAUTHBEARER";

struct KafkaOnly {
  std::string_view name;  // a whole name, or a prefix ending in '.'
  const char* reason;
};

constexpr KafkaOnly kKafkaOnly[] = {
    {"process.roles", kNoQuorum},
    {"controller.", kNoQuorum},  // controller.quorum.*, controller.listener.names
    {"metadata.log.", kNoQuorum},
    {"metadata.max.retention.bytes", kNoQuorum},
    {"metadata.max.retention.ms", kNoQuorum},
    {"metadata.max.idle.interval.ms", kNoQuorum},
    {"initial.broker.registration.timeout.ms", kNoQuorum},
    {"broker.heartbeat.interval.ms", kNoQuorum},
    {"zookeeper.", kNoZooKeeper},
    {"num.io.threads", kThreads},
    {"background.threads", kThreads},
    {"num.replica.alter.log.dirs.threads", kThreads},
    {"queued.max.requests", kThreads},
    {"inter.broker.protocol.version", kVersions},
    {"log.message.format.version", kVersions},
    {"log.message.downconversion.enable", kVersions},
    {"metric.reporters", kMetrics},
    {"metrics.", kMetrics},
    {"kafka.metrics.", kMetrics},
    {"auto.include.jmx.reporter", kMetrics},
    {"share.", kShare},
    {"group.share.", kShare},
    {"share.coordinator.", kShare},
    {"remote.log.", kTiered},
    {"log.local.retention.ms", kTiered},
    {"log.local.retention.bytes", kTiered},
    {"compression.gzip.level", kLevels},
    {"compression.lz4.level", kLevels},
    {"compression.zstd.level", kLevels},
    {"sasl.oauthbearer.jwks.endpoint.refresh.ms", kJwksOnce},
    {"sasl.oauthbearer.jwks.endpoint.retry.backoff.ms", kJwksOnce},
    {"sasl.oauthbearer.jwks.endpoint.retry.backoff.max.ms", kJwksOnce},
    {"sasl.oauthbearer.token.endpoint.url", kNoOAuthLogin},
    {"sasl.login.", kNoOAuthLogin},
    {"log.preallocate", "Kaffa does not preallocate segment files"},
    {"log.flush.scheduler.interval.ms",
     "Kaffa's flusher checks log.flush.interval.ms on its own schedule"},
    {"log.flush.start.offset.checkpoint.interval.ms",
     "Kaffa writes the log start offsets with the recovery points"},
};

}  // namespace

const char* kafka_only(const std::string& name) {
  for (const auto& k : kKafkaOnly) {
    if (k.name.back() == '.' ? name.starts_with(k.name) : name == k.name) return k.reason;
  }
  return nullptr;
}

std::optional<ConfigError> resolve_kafka_only(BrokerConfig& c) {
  auto given = [&](const char* name) -> const std::string* {
    const auto it = c.kafka_only.find(name);
    return it == c.kafka_only.end() ? nullptr : &it->second;
  };
  if (const auto* roles = given("process.roles")) {
    const auto list = split_list(*roles);
    if (std::find(list.begin(), list.end(), "broker") == list.end()) {
      return ConfigError{"process.roles=" + *roles +
                         ": Kaffa has no controller-only role; every kaffa serve is a broker "
                         "(a cluster keeps its metadata in etcd: metadata.store)"};
    }
  }
  if (given("zookeeper.connect") != nullptr) {
    return ConfigError{
        "zookeeper.connect: Kaffa runs without ZooKeeper; remove it for a single node, or set "
        "metadata.store to the etcd endpoints of a cluster"};
  }
  for (const char* voters : {"controller.quorum.voters", "controller.quorum.bootstrap.servers"}) {
    const auto* v = given(voters);
    if (v != nullptr && split_list(*v).size() > 1 && c.cluster.metadata_store.empty()) {
      return ConfigError{std::string(voters) +
                         " names several nodes: a Kaffa cluster keeps its metadata in etcd; set "
                         "metadata.store to its endpoints"};
    }
  }
  if (const auto* tiered = given("remote.log.storage.system.enable"); tiered && *tiered == "true") {
    return ConfigError{"remote.log.storage.system.enable=true: " + std::string(kTiered)};
  }
  bool dropped_any = false;
  if (const auto* names = given("controller.listener.names")) {
    for (const auto& name : split_list(*names)) {
      const std::string n = upper(name);
      const auto dropped =
          std::erase_if(c.listeners, [&](const Listener& l) { return l.name == n; });
      std::erase_if(c.advertised_listeners, [&](const Listener& l) { return l.name == n; });
      if (dropped > 0) {
        dropped_any = true;
        c.notices.push_back("listener " + n +
                            " is not bound: it is named in controller.listener.names, and " +
                            kNoQuorum);
      }
    }
  }
  for (const auto& [name, value] : c.kafka_only) {
    if (dropped_any && name == "controller.listener.names") continue;  // said above
    // Passwords and keys of the settings left out (zookeeper.ssl.*, remote.log.*) stay out of logs.
    const bool secret =
        name.find("password") != std::string::npos || name.find("secret") != std::string::npos ||
        name.find("jaas") != std::string::npos || name.find("key") != std::string::npos;
    c.notices.push_back("setting " + name + "=" + (secret ? "[hidden]" : value) +
                        " has no effect: " + kafka_only(name));
  }
  return std::nullopt;
}

}  // namespace kaffa::broker::config_detail
