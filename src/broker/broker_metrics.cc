#include "broker/broker_metrics.h"

#include <algorithm>
#include <atomic>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "base/file.h"
#include "broker/broker.h"
#include "broker/handlers/handlers.h"
#include "coordinator/group_manager.h"
#include "coordinator/offset_store.h"
#include "protocol/api_table.h"

namespace kaffa::broker {
namespace {

using metrics::Exposition;
using metrics::Labels;
using metrics::Type;

// What the coordinator shards report for one scrape, filled concurrently from their loops.
struct GroupScan {
  std::mutex mu;
  std::map<std::string, int64_t> states;  // Kafka state name -> groups
  std::vector<std::pair<std::string, int64_t>> members;
  struct Lag {
    std::string group, topic;
    int32_t partition;
    int64_t lag;
  };
  std::vector<Lag> lags;
  std::atomic<size_t> lag_series{0};
  bool truncated = false;
  bool loading = false;
};

void scan_shard(coordinator::CoordinatorShard* shard, cluster::PartitionManager& partitions,
                GroupScan& scan) {
  if (shard == nullptr) {
    std::lock_guard lock(scan.mu);
    scan.loading = true;
    return;
  }
  std::map<std::string, int64_t> states;
  std::vector<std::pair<std::string, int64_t>> members;
  std::vector<GroupScan::Lag> lags;
  bool truncated = false;
  auto& groups = shard->groups();
  for (const auto& l : groups.list()) {
    ++states[l.state];
    members.emplace_back(l.group_id, static_cast<int64_t>(l.members));
  }
  auto& offsets = shard->offsets();
  for (const auto& id : offsets.groups()) {
    if (!groups.has_group(id))
      ++states[std::string(coordinator::state_name(coordinator::GroupState::empty))];
    const auto* topics = offsets.group_offsets(id);
    if (topics == nullptr) continue;
    for (const auto& [topic, parts] : *topics) {
      for (const auto& [index, committed] : parts) {
        if (scan.lag_series.fetch_add(1, std::memory_order_relaxed) >=
            BrokerMetrics::kMaxLagSeries) {
          truncated = true;
          break;
        }
        auto p = partitions.get(topic, index);
        if (!p) continue;  // topic deleted: no lag to speak of
        const int64_t lag = std::max<int64_t>(0, p->high_watermark_snapshot() - committed.offset);
        lags.push_back({id, topic, index, lag});
      }
    }
  }
  std::lock_guard lock(scan.mu);
  for (auto& [s, n] : states) scan.states[s] += n;
  for (auto& m : members) scan.members.push_back(std::move(m));
  for (auto& l : lags) scan.lags.push_back(std::move(l));
  scan.truncated = scan.truncated || truncated;
}

void render_groups(Exposition& out, GroupScan& scan) {
  std::sort(scan.members.begin(), scan.members.end());
  std::sort(scan.lags.begin(), scan.lags.end(), [](const auto& a, const auto& b) {
    return std::tie(a.group, a.topic, a.partition) < std::tie(b.group, b.topic, b.partition);
  });
  out.begin("kaffa_groups",
            "Consumer groups by state (groups with committed offsets only are Empty).",
            Type::gauge);
  for (const char* s : {"Empty", "PreparingRebalance", "CompletingRebalance", "Stable", "Dead",
                        "Assigning", "Reconciling"}) {
    auto it = scan.states.find(s);
    out.sample("kaffa_groups", {{"state", s}}, it == scan.states.end() ? int64_t{0} : it->second);
  }
  out.begin("kaffa_group_members", "Members of each group.", Type::gauge);
  for (const auto& [g, n] : scan.members) out.sample("kaffa_group_members", {{"group", g}}, n);
  out.begin("kaffa_consumer_group_lag",
            "High watermark minus the committed offset, per group and partition.", Type::gauge);
  for (const auto& l : scan.lags) {
    out.sample("kaffa_consumer_group_lag",
               {{"group", l.group}, {"topic", l.topic}, {"partition", std::to_string(l.partition)}},
               l.lag);
  }
  out.begin("kaffa_consumer_group_lag_truncated",
            "1 when kaffa_consumer_group_lag was cut at its series limit.", Type::gauge);
  out.sample("kaffa_consumer_group_lag_truncated", {}, int64_t{scan.truncated ? 1 : 0});
  out.begin("kaffa_coordinator_loading", "1 while a __consumer_offsets shard is still loading.",
            Type::gauge);
  out.sample("kaffa_coordinator_loading", {}, int64_t{scan.loading ? 1 : 0});
}

void render_server(Exposition& out, const net::ServerStats& st, int64_t queued_request_bytes) {
  auto counter = [&](const char* name, const char* help, const std::atomic<uint64_t>& v) {
    out.begin(name, help, Type::counter);
    out.sample(name, {}, v.load(std::memory_order_relaxed));
  };
  out.begin("kaffa_connections_open", "Open Kafka connections.", Type::gauge);
  out.sample("kaffa_connections_open", {}, st.connections_open.load(std::memory_order_relaxed));
  counter("kaffa_connections_total", "Kafka connections accepted (refused ones included).",
          st.connections_total);
  counter("kaffa_network_requests_total", "Request frames handed to the broker.", st.requests);
  counter("kaffa_network_bytes_in_total", "Bytes received on Kafka connections.", st.bytes_in);
  counter("kaffa_network_bytes_out_total", "Bytes sent on Kafka connections (sendfile included).",
          st.bytes_out);
  counter("kaffa_network_sendfile_bytes_total",
          "Zero-copy bytes: the part of the bytes out sent with sendfile() (SSL_sendfile() with "
          "kernel TLS).",
          st.bytes_sendfile);
  counter("kaffa_network_tls_handshake_failures_total",
          "TLS handshakes on TLS listeners that failed or timed out.", st.tls_handshakes_failed);
  counter("kaffa_network_frames_rejected_total",
          "Request frames refused for their size (socket.request.max.bytes).", st.frames_rejected);
  out.begin("kaffa_network_queued_request_bytes",
            "Bytes of requests read and not yet handled, with queued.max.request.bytes set.",
            Type::gauge);
  out.sample("kaffa_network_queued_request_bytes", {}, queued_request_bytes);
  counter("kaffa_network_request_memory_waits_total",
          "Requests whose reading waited for queued.max.request.bytes to make room.",
          st.request_memory_waits);
}

// Kafka's ReplicaManager gauges and ISR change rates over the partitions this broker leads, and
// the replica fetcher's MaxLag over those it follows.
void render_replication(Exposition& out, Broker& broker,
                        const std::vector<std::shared_ptr<cluster::Partition>>& all) {
  int64_t leaders = 0, under_replicated = 0, under_min_isr = 0, at_min_isr = 0, max_lag = 0;
  for (const auto& p : all) {
    if (!p->is_leader()) {
      max_lag = std::max(max_lag, p->follower_lag_snapshot());
      continue;
    }
    ++leaders;
    const int32_t isr = p->isr_snapshot();
    if (isr < p->replicas_snapshot()) ++under_replicated;
    if (isr < p->min_isr_snapshot()) ++under_min_isr;
    if (isr == p->min_isr_snapshot()) ++at_min_isr;
  }
  auto metric = [&](const char* name, const char* help, Type type, int64_t v) {
    out.begin(name, help, type);
    out.sample(name, {}, v);
  };
  auto gauge = [&](const char* name, const char* help, int64_t v) {
    metric(name, help, Type::gauge, v);
  };
  gauge("kaffa_leader_partitions", "Partitions this broker leads.", leaders);
  gauge("kaffa_under_replicated_partitions",
        "Partitions led here whose ISR is smaller than their replica set.", under_replicated);
  gauge("kaffa_under_min_isr_partitions",
        "Partitions led here whose ISR is below min.insync.replicas (acks=all is refused).",
        under_min_isr);
  gauge("kaffa_at_min_isr_partitions",
        "Partitions led here whose ISR is exactly min.insync.replicas.", at_min_isr);
  gauge("kaffa_replica_max_lag",
        "Largest lag, in offsets, of a partition followed here behind its leader's high watermark "
        "at the last fetch answer.",
        max_lag);
  gauge("kaffa_replica_fetcher_threads",
        "Replica fetcher threads running: per leader, up to num.replica.fetchers.",
        static_cast<int64_t>(broker.replica_fetcher_threads()));
  const auto* changes = broker.isr_changes();
  metric("kaffa_isr_shrinks_total", "ISR shrinks applied while this broker led the partition.",
         Type::counter, changes ? changes->shrinks.load(std::memory_order_relaxed) : 0);
  metric("kaffa_isr_expands_total", "ISR expansions applied while this broker led the partition.",
         Type::counter, changes ? changes->expands.load(std::memory_order_relaxed) : 0);
  out.begin("kaffa_replication_throttled_total",
            "Partitions held back by a replication quota (KIP-73): follower reads answered "
            "empty by this leader, or left out of this follower's fetches.",
            Type::counter);
  out.sample("kaffa_replication_throttled_total", {{"side", "leader"}},
             broker.leader_replication_quota().held_back());
  out.sample("kaffa_replication_throttled_total", {{"side", "follower"}},
             broker.follower_replication_quota().held_back());
  const auto& sessions = broker.fetch_sessions();
  gauge("kaffa_fetch_sessions", "Incremental fetch sessions kept (KIP-227).",
        static_cast<int64_t>(sessions.size()));
  gauge("kaffa_fetch_session_partitions", "Partitions held by the incremental fetch sessions.",
        static_cast<int64_t>(sessions.partitions()));
  metric("kaffa_fetch_session_evictions_total",
         "Fetch sessions evicted to make room for a new one.", Type::counter,
         static_cast<int64_t>(sessions.evictions()));
}

void render_partitions(Exposition& out, Broker& broker) {
  auto all = broker.partitions().all();
  std::sort(all.begin(), all.end(), [](const auto& a, const auto& b) {
    return std::make_pair(std::string_view(a->topic()), a->index()) <
           std::make_pair(std::string_view(b->topic()), b->index());
  });
  struct PerTopic {
    int64_t partitions = 0, in = 0, out = 0;
  };
  std::map<std::string, PerTopic> topics;
  for (const auto& p : all) {
    auto& t = topics[p->topic()];
    ++t.partitions;
    t.in += p->bytes_in_snapshot();
    t.out += p->bytes_out_snapshot();
  }
  out.begin("kaffa_partitions", "Partitions hosted by this broker.", Type::gauge);
  out.sample("kaffa_partitions", {}, static_cast<int64_t>(all.size()));
  out.begin("kaffa_topics", "Topics with partitions on this broker.", Type::gauge);
  out.sample("kaffa_topics", {}, static_cast<int64_t>(topics.size()));
  out.begin("kaffa_topic_partitions", "Partitions of each topic.", Type::gauge);
  for (const auto& [name, t] : topics)
    out.sample("kaffa_topic_partitions", {{"topic", name}}, t.partitions);
  out.begin("kaffa_topic_bytes_in_total", "Record bytes appended to each topic.", Type::counter);
  for (const auto& [name, t] : topics)
    out.sample("kaffa_topic_bytes_in_total", {{"topic", name}}, t.in);
  out.begin("kaffa_topic_bytes_out_total", "Record bytes returned by fetches of each topic.",
            Type::counter);
  for (const auto& [name, t] : topics)
    out.sample("kaffa_topic_bytes_out_total", {{"topic", name}}, t.out);
  out.begin("kaffa_partition_log_size_bytes", "Bytes of a partition's log segments.", Type::gauge);
  for (const auto& p : all) {
    out.sample("kaffa_partition_log_size_bytes",
               {{"topic", p->topic()}, {"partition", std::to_string(p->index())}},
               p->size_snapshot());
  }
  out.begin("kaffa_partition_high_watermark", "High watermark of a partition.", Type::gauge);
  for (const auto& p : all) {
    out.sample("kaffa_partition_high_watermark",
               {{"topic", p->topic()}, {"partition", std::to_string(p->index())}},
               p->high_watermark_snapshot());
  }
  render_replication(out, broker, all);
}

// Each log directory: the partitions it holds, their bytes, its file system's space
// (file::space_of at scrape time) and whether an I/O error took it offline (Kafka's
// LogDirectoryOffline), labelled with the directory as configured.
void render_log_dirs(Exposition& out, Broker& broker) {
  const auto& dirs = broker.partitions().log_dirs();
  std::vector<int64_t> count(dirs.size(), 0), bytes(dirs.size(), 0);
  for (const auto& [d, p] : broker.partitions().all_by_dir()) {
    ++count[d];
    bytes[d] += p->size_snapshot();
  }
  std::vector<std::optional<file::Space>> space(dirs.size());
  for (size_t d = 0; d < dirs.size(); ++d) space[d] = file::space_of(dirs[d]);
  auto each = [&](const char* name, const char* help, auto value) {
    out.begin(name, help, Type::gauge);
    for (size_t d = 0; d < dirs.size(); ++d) {
      if (auto v = value(d)) out.sample(name, {{"dir", dirs[d].string()}}, *v);
    }
  };
  each("kaffa_log_dir_partitions", "Partitions whose log is in the log directory.",
       [&](size_t d) { return std::optional<int64_t>(count[d]); });
  each("kaffa_log_dir_log_size_bytes", "Bytes of the log segments in the log directory.",
       [&](size_t d) { return std::optional<int64_t>(bytes[d]); });
  each("kaffa_log_dir_total_bytes", "Size of the log directory's file system.", [&](size_t d) {
    return space[d] ? std::optional<int64_t>(space[d]->total_bytes) : std::nullopt;
  });
  each("kaffa_log_dir_usable_bytes", "Bytes of the file system still usable by the broker.",
       [&](size_t d) {
         return space[d] ? std::optional<int64_t>(space[d]->usable_bytes) : std::nullopt;
       });
  each("kaffa_log_dir_offline",
       "1 once an I/O error took the log directory offline (until a restart), else 0.",
       [&](size_t d) {
         return std::optional<int64_t>(broker.partitions().log_dir_offline(d) ? 1 : 0);
       });
}

void render_cleaner(Exposition& out, const cluster::CleanerManager::Stats& st) {
  auto one = [&](const char* name, const char* help, Type type, const std::atomic<int64_t>& v) {
    out.begin(name, help, type);
    out.sample(name, {}, v.load(std::memory_order_relaxed));
  };
  one("kaffa_log_cleaner_runs_total", "Cleanings of a compacted log whose result was installed.",
      Type::counter, st.runs);
  one("kaffa_log_cleaner_failures_total", "Cleanings that failed (retried after a backoff).",
      Type::counter, st.failures);
  one("kaffa_log_cleaner_discarded_total",
      "Cleanings discarded because retention or truncation changed the log meanwhile.",
      Type::counter, st.stale);
  one("kaffa_log_cleaner_cleaned_bytes_total", "Bytes of log segments read by the cleaner.",
      Type::counter, st.bytes_read);
  one("kaffa_log_cleaner_written_bytes_total", "Bytes of cleaned segments swapped in.",
      Type::counter, st.bytes_written);
  one("kaffa_log_cleaner_removed_records_total", "Records removed by compaction.", Type::counter,
      st.records_removed);
  one("kaffa_log_cleaner_threads",
      "Cleaner threads running (log.cleaner.threads; 0 with log.cleaner.enable=false).",
      Type::gauge, st.threads);
  one("kaffa_log_cleaner_uncleanable_partitions",
      "Partitions whose last cleaning failed, waiting for log.cleaner.backoff.ms.", Type::gauge,
      st.uncleanable);
  out.begin("kaffa_log_cleaner_max_dirty_ratio",
            "Highest dirty ratio of a compacted log at the cleaner's last pass.", Type::gauge);
  out.sample("kaffa_log_cleaner_max_dirty_ratio", {},
             static_cast<double>(st.max_dirty_ratio_ppm.load(std::memory_order_relaxed)) / 1e6);
  out.begin("kaffa_log_cleaner_throttled_seconds_total",
            "Time cleaner threads slept to keep log.cleaner.io.max.bytes.per.second.",
            Type::counter);
  out.sample("kaffa_log_cleaner_throttled_seconds_total", {},
             static_cast<double>(st.throttled_us.load(std::memory_order_relaxed)) / 1e6);
}

}  // namespace

std::string api_name(int16_t api_key) {
  const auto* schema = protocol::find_api_schema(api_key);
  return schema != nullptr ? std::string(schema->name) : std::to_string(api_key);
}

BrokerMetrics::BrokerMetrics() {
  auto& requests = registry_.counter("kaffa_requests_total",
                                     "Requests dispatched to a handler, by API and version.",
                                     {"api", "version"});
  auto& latency = registry_.histogram(
      "kaffa_request_latency_seconds",
      "Time from a request's last byte read to its response's last byte written (Kafka's "
      "TotalTimeMs).",
      {"api"});
  for (const auto& h : handler_table()) {
    if (h.api_key < 0) continue;
    if (by_key_.size() <= static_cast<size_t>(h.api_key)) by_key_.resize(h.api_key + 1);
    auto& s = by_key_[h.api_key];
    const std::string name = api_name(h.api_key);
    s.min_version = h.min_version;
    for (int v = h.min_version; v <= h.max_version; ++v) {
      s.by_version.push_back(&requests.with({name, std::to_string(v)}));
    }
    s.latency = &latency.with({name});
  }
  other_requests_ = &requests.with({"other", "-1"});
  auto& sasl = registry_.counter("kaffa_sasl_authentications_total",
                                 "SASL authentications on SASL listeners, by result.", {"result"});
  sasl_success_ = &sasl.with({"success"});
  sasl_failure_ = &sasl.with({"failure"});
  auto& denials =
      registry_.counter("kaffa_authorization_denials_total",
                        "Authorization checks refused by the ACL authorizer.", {"resource_type"});
  for (int8_t t = 0; t <= 7; ++t) {
    denials_.push_back(
        &denials.with({std::string(security::to_string(security::resource_type_of(t)))}));
  }
  auto& throttled = registry_.counter("kaffa_quota_throttled_responses_total",
                                      "Answers over a client quota.", {"quota"});
  auto& throttle_ms = registry_.counter("kaffa_quota_throttle_ms_total",
                                        "Throttle time given by client quotas, in ms.", {"quota"});
  for (const char* quota : {"producer_byte_rate", "consumer_byte_rate"}) {
    const bool consumer = quota[0] == 'c';
    throttled_[consumer] = &throttled.with({quota});
    throttle_ms_[consumer] = &throttle_ms.with({quota});
  }
}

void BrokerMetrics::on_throttled(bool consumer, int32_t ms) {
  throttled_[consumer]->inc();
  throttle_ms_[consumer]->inc(static_cast<uint64_t>(ms));
}

void BrokerMetrics::on_authorization_denied(security::ResourceType type) {
  const auto i = static_cast<size_t>(type);
  if (i < denials_.size()) denials_[i]->inc();
}

metrics::Timer BrokerMetrics::on_request(int16_t api_key, int16_t api_version,
                                         std::chrono::steady_clock::time_point received) {
  if (api_key >= 0 && static_cast<size_t>(api_key) < by_key_.size()) {
    auto& s = by_key_[api_key];
    const int idx = api_version - s.min_version;
    if (idx >= 0 && static_cast<size_t>(idx) < s.by_version.size()) {
      s.by_version[idx]->inc();
      return metrics::Timer(s.latency, received);
    }
  }
  other_requests_->inc();
  return {};
}

void BrokerMetrics::scrape(Broker& broker, bool groups, std::function<void(std::string)> done) {
  auto render = [this, &broker](GroupScan* scan) {
    Exposition out;
    out.begin("kaffa_broker_info", "Constant 1, labelled with the broker's identity.", Type::gauge);
    out.sample(
        "kaffa_broker_info",
        {{"cluster_id", broker.cluster_id()}, {"node_id", std::to_string(broker.config().node_id)}},
        int64_t{1});
    registry_.render(out);
    render_server(out, broker.net_stats(), broker.queued_request_bytes());
    render_partitions(out, broker);
    render_log_dirs(out, broker);
    render_cleaner(out, broker.cleaner().stats());
    out.begin("kaffa_fsync_latency_seconds", "Time of each fdatasync of a partition's log.",
              Type::histogram);
    out.histogram("kaffa_fsync_latency_seconds", {}, broker.flusher().sync_latency().snapshot());
    // The verifier exists before the admin API starts (Broker::start).
    const auto& verifier = broker.txn_verifier();
    out.begin("kaffa_txn_verification_seconds",
              "Time of each KIP-890 check that a partition is in a producer's transaction.",
              Type::histogram);
    out.histogram("kaffa_txn_verification_seconds", {}, verifier.latency().snapshot());
    out.begin("kaffa_txn_verification_failures_total",
              "KIP-890 checks the transaction coordinator did not answer with NONE.",
              Type::counter);
    out.sample("kaffa_txn_verification_failures_total", {}, verifier.failures());
    if (scan != nullptr) render_groups(out, *scan);
    return out.take();
  };
  if (!groups) return done(render(nullptr));
  auto scan = std::make_shared<GroupScan>();
  auto& partitions = broker.partitions();
  broker.coordinator().for_each_shard(
      [scan, &partitions](coordinator::CoordinatorShard* shard) {
        scan_shard(shard, partitions, *scan);
      },
      [scan, render, done = std::move(done)] { done(render(scan.get())); });
}

}  // namespace kaffa::broker
