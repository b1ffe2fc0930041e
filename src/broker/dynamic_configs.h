// Dynamic broker configs (KIP-226) other than the TLS stores (tls_config.h): which settings may
// change without a restart, and the configuration they make with the static one.
//
// Two layers over the static settings, as in Kafka: the cluster-wide default (the broker resource
// named "", DYNAMIC_DEFAULT_BROKER_CONFIG) and a broker's own values (the resource named by its
// id, DYNAMIC_BROKER_CONFIG); a broker's own value wins over the default, which wins over the
// properties file; of the forms of one time, the finest given in any layer or the file wins
// (log.retention.ms over .minutes over .hours, log.roll.ms over log.roll.hours), as Kafka merges
// them. Offered: the replication quotas' rates (KIP-73), the log settings that are the defaults of
// topic configs (Kafka's DynamicLogConfig), the log cleaner's threads, backoff, dedupe buffer and
// I/O bound (Kafka's LogCleaner.ReconfigurableConfigs), num.replica.fetchers and
// num.recovery.threads.per.data.dir (DynamicThreadPool), unclean.leader.election.enable and the
// connection limits (max.connections, max.connections.per.ip and its overrides, whose host
// names are resolved whenever the configuration is worked out). Where the layers are kept is the
// broker's business (broker_dynamic_configs.cc).
//
// Pure functions; any thread.
#pragma once

#include <map>
#include <optional>
#include <string>
#include <string_view>

#include "broker/config.h"
#include "cluster/cleaner_manager.h"
#include "cluster/topic_config.h"

namespace kaffa::broker::dynamic_configs {

using Values = std::map<std::string, std::string>;

bool is_dynamic(std::string_view name);

// `base` with the cluster default's values applied, then the broker's own: the refusal's
// message when a value does not parse or the result is not valid.
std::optional<std::string> effective(const BrokerConfig& base, const Values& cluster_default,
                                     const Values& own, BrokerConfig& out);

// What a change from the configuration in force, `current`, to `next` may not do, beyond what
// `effective` checks (Kafka's validateReconfiguration): log.cleaner.threads,
// num.replica.fetchers and num.recovery.threads.per.data.dir may at most halve or double. Nullopt
// or the refusal's message.
std::optional<std::string> check_reconfiguration(const BrokerConfig& current,
                                                 const BrokerConfig& next);

// The topic configs' defaults a configuration gives (cluster::LogDefaults).
cluster::LogDefaults log_defaults(const BrokerConfig& c);

// The log cleaner's settings a configuration gives.
cluster::CleanerConfig cleaner_config(const BrokerConfig& c);

}  // namespace kaffa::broker::dynamic_configs
