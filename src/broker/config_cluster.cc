// The settings of a broker in a cluster: where the metadata lives, how followers replicate, how
// leaders are elected, how a broker shuts down. Kafka's names and defaults.
#include "broker/config_settings.h"

namespace kaffa::broker::config_detail {
namespace {

template <class T>
auto cluster_int(T ClusterConfig::*m, int64_t lo, int64_t hi) {
  return [m, lo, hi](const std::string& v, BrokerConfig& c, std::string& why) {
    if (parse_int(v, c.cluster.*m, lo, hi)) return true;
    why = "expected an integer in [" + std::to_string(lo) + ", " + std::to_string(hi) + "]";
    return false;
  };
}

auto cluster_bool(bool ClusterConfig::*m) {
  return [m](const std::string& v, BrokerConfig& c, std::string& why) {
    if (parse_bool(v, c.cluster.*m)) return true;
    why = "expected true or false";
    return false;
  };
}

constexpr int64_t kMaxInt = std::numeric_limits<int32_t>::max();
constexpr int64_t kMaxLong = std::numeric_limits<int64_t>::max();

}  // namespace

const std::vector<Setting>& cluster_settings() {
  static const std::vector<Setting> kSettings = {
      {"metadata.store", "",
       "Where the cluster metadata lives: empty for a single node (local files), or "
       "etcd://host:port[,host:port...] to join the cluster whose metadata is on that etcd.",
       [](const std::string& v, BrokerConfig& c, std::string& why) {
         const std::string s = trim(v);
         if (!s.empty() && s.rfind("etcd://", 0) != 0) {
           why = "expected empty or etcd://host:port[,host:port...]";
           return false;
         }
         c.cluster.metadata_store = s;
         return true;
       }},
      {"metadata.store.prefix", "/kaffa",
       "Key prefix of this cluster's records in etcd (several clusters may share one etcd).",
       [](const std::string& v, BrokerConfig& c, std::string& why) {
         const std::string s = trim(v);
         if (s.empty() || s.front() != '/' || s.back() == '/') {
           why = "expected a path such as /kaffa (leading '/', no trailing '/')";
           return false;
         }
         c.cluster.metadata_store_prefix = s;
         return true;
       }},
      {"broker.rack", "", "Rack of this broker; replica placement spreads replicas over racks.",
       [](const std::string& v, BrokerConfig& c, std::string&) {
         c.cluster.broker_rack = trim(v);
         return true;
       }},
      {"broker.session.timeout.ms", "9000",
       "A broker whose registration lease is not renewed for this long is considered dead and "
       "its partitions get new leaders (rounded up to whole seconds, at least 2).",
       cluster_int(&ClusterConfig::broker_session_timeout_ms, 1000, kMaxInt)},
      {"min.insync.replicas", "1",
       "Default of the topic config: with acks=all, the fewest in-sync replicas a write needs.",
       cluster_int(&ClusterConfig::min_insync_replicas, 1, kMaxInt)},
      {"replica.lag.time.max.ms", "30000",
       "A follower not caught up with the leader for this long leaves the in-sync replicas.",
       cluster_int(&ClusterConfig::replica_lag_time_max_ms, 1, kMaxLong)},
      {"replica.fetch.max.bytes", "1048576", "Bytes a follower asks for per partition and fetch.",
       cluster_int(&ClusterConfig::replica_fetch_max_bytes, 0, kMaxInt)},
      {"replica.fetch.response.max.bytes", "10485760",
       "Bytes a follower asks for in one whole fetch response.",
       cluster_int(&ClusterConfig::replica_fetch_response_max_bytes, 0, kMaxInt)},
      {"replica.fetch.wait.max.ms", "500",
       "Longest wait of a follower's fetch for replica.fetch.min.bytes of new data.",
       cluster_int(&ClusterConfig::replica_fetch_wait_max_ms, 0, kMaxInt)},
      {"replica.socket.timeout.ms", "30000",
       "Timeout of an inter-broker request (a follower's fetch, beyond its wait; transaction "
       "markers) and of connecting for one; at least replica.fetch.wait.max.ms.",
       cluster_int(&ClusterConfig::replica_socket_timeout_ms, 1, kMaxInt)},
      {"replica.socket.receive.buffer.bytes", "65536",
       "SO_RCVBUF of a follower's connection to a leader, and of the transactions' connections "
       "between brokers (markers, verification; the kernel doubles it); -1 leaves the size to "
       "the kernel.",
       cluster_int(&ClusterConfig::replica_socket_receive_buffer_bytes, -1, kMaxInt)},
      {"replica.fetch.min.bytes", "1", "Bytes a follower's fetch waits for.",
       cluster_int(&ClusterConfig::replica_fetch_min_bytes, 0, kMaxInt)},
      {"replica.fetch.backoff.ms", "1000", "Pause of a follower's fetcher after an error.",
       cluster_int(&ClusterConfig::replica_fetch_backoff_ms, 0, kMaxInt)},
      {"num.replica.fetchers", "1", "Fetcher threads replicating from the leaders.",
       cluster_int(&ClusterConfig::num_replica_fetchers, 1, 64)},
      {"unclean.leader.election.enable", "false",
       "Elect a replica outside the in-sync replicas when none of them is alive (may lose "
       "acknowledged records).",
       cluster_bool(&ClusterConfig::unclean_leader_election_enable)},
      {"auto.leader.rebalance.enable", "true",
       "The controller moves leadership back to each partition's preferred (first) replica.",
       cluster_bool(&ClusterConfig::auto_leader_rebalance_enable)},
      {"leader.imbalance.check.interval.seconds", "300",
       "How often the controller looks for partitions led by a non-preferred replica.",
       cluster_int(&ClusterConfig::leader_imbalance_check_interval_seconds, 1, kMaxLong)},
      {"controlled.shutdown.enable", "true",
       "On SIGTERM, move leadership away from this broker before it stops.",
       cluster_bool(&ClusterConfig::controlled_shutdown_enable)},
      {"controlled.shutdown.max.retries", "3",
       "Attempts of a controlled shutdown before the broker stops anyway.",
       cluster_int(&ClusterConfig::controlled_shutdown_max_retries, 0, kMaxInt)},
      {"controlled.shutdown.retry.backoff.ms", "5000",
       "Wait between attempts of a controlled shutdown.",
       cluster_int(&ClusterConfig::controlled_shutdown_retry_backoff_ms, 0, kMaxLong)},
      {"controlled.shutdown.quiet.ms", "500",
       "After a controlled shutdown has handed every leadership over, each client connection is "
       "still served until it has been quiet this long, so that clients learn the new leaders "
       "from NOT_LEADER_OR_FOLLOWER answers rather than from a closed connection (0: close at "
       "once). At most 10 s in all.",
       cluster_int(&ClusterConfig::controlled_shutdown_quiet_ms, 0, 10000)},
      {"leader.replication.throttled.rate", "9223372036854775807",
       "Bytes per second this broker sends, as leader, to the replicas of partitions named in "
       "their topic's leader.replication.throttled.replicas while those replicas are out of "
       "the ISR (KIP-73). Dynamic, per broker or cluster-wide.",
       cluster_int(&ClusterConfig::leader_replication_throttled_rate, 0, kMaxLong)},
      {"follower.replication.throttled.rate", "9223372036854775807",
       "Bytes per second this broker fetches, as follower, for its replicas named in their "
       "topic's follower.replication.throttled.replicas while they are behind (KIP-73). "
       "Dynamic, per broker or cluster-wide.",
       cluster_int(&ClusterConfig::follower_replication_throttled_rate, 0, kMaxLong)},
      {"replica.alter.log.dirs.io.max.bytes.per.second", "9223372036854775807",
       "Bytes per second this broker copies while it moves logs between its log directories "
       "(AlterReplicaLogDirs), all moves together. Dynamic, per broker or cluster-wide.",
       cluster_int(&ClusterConfig::replica_alter_log_dirs_io_max_bytes_per_second, 0, kMaxLong)},
      {"replication.quota.window.num", "11",
       "Windows the replication quotas' rates are measured over.",
       cluster_int(&ClusterConfig::replication_quota_window_num, 1, kMaxInt)},
      {"replication.quota.window.size.seconds", "1",
       "Length of each window of the replication quotas' rates.",
       cluster_int(&ClusterConfig::replication_quota_window_size_seconds, 1, kMaxInt)},
  };
  return kSettings;
}

}  // namespace kaffa::broker::config_detail
