#include "broker/broker.h"

#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <stdexcept>

#include "base/file.h"
#include "base/log.h"
#include "broker/admin_api.h"
#include "broker/handlers/handlers.h"
#include "broker/tls_config.h"
#include "cluster/etcd_metadata.h"
#include "cluster/metadata_store.h"
#include "cluster/replica_manager.h"
#include "protocol/error_codes.h"
#include "protocol/headers.h"
#include "protocol/messages/api_versions.h"
#include "record/wire.h"

namespace kaffa::broker {
namespace {

constexpr int16_t kMetadataKey = 3;
constexpr int16_t kFindCoordinatorKey = 10;
constexpr int16_t kApiVersionsKey = 18;
constexpr int16_t kDescribeClusterKey = 60;

net::ServerConfig server_config(const BrokerConfig& c) {
  net::ServerConfig s;
  for (const auto& l : c.listeners) {
    const auto tls = c.tls.find(l.name);
    s.listeners.push_back(
        {l.name, l.host, l.port, tls != c.tls.end() ? tls->second->slot : nullptr});
  }
  s.max_request_bytes = c.socket_request_max_bytes;
  s.max_inflight_per_connection = c.connection_max_inflight_requests;
  s.idle_timeout = std::chrono::milliseconds(c.connections_max_idle_ms);
  s.max_connections = c.max_connections;
  s.max_connections_per_ip = c.max_connections_per_ip;
  s.max_queued_request_bytes = c.queued_max_request_bytes;
  s.max_connections_per_ip_overrides = c.max_connections_per_ip_overrides;
  s.threads = c.num_network_threads;
  s.socket_send_buffer = c.socket_send_buffer_bytes;
  s.socket_receive_buffer = c.socket_receive_buffer_bytes;
  s.listen_backlog = c.socket_listen_backlog_size;
  return s;
}

// KIP-35 trap: a version above ours is answered in the v0 body layout with UNSUPPORTED_VERSION
// and our ranges, so that the client can retry with a version we speak.
void answer_unsupported_api_versions(Responder& respond) {
  protocol::ApiVersionsResponse r;
  r.error_code = protocol::code(protocol::ErrorCode::unsupported_version);
  for (const auto& h : handler_table()) {
    r.api_keys.push_back({h.api_key, h.min_version, h.max_version, {}});
  }
  respond.send_at(r, 0);
}

}  // namespace

Broker::Broker(BrokerConfig config)
    : config_(std::move(config)),
      leader_quota_(std::make_shared<cluster::ReplicationQuota>(
          config_.cluster.replication_quota_window_num,
          int64_t{config_.cluster.replication_quota_window_size_seconds} * 1000)),
      follower_quota_(std::make_shared<cluster::ReplicationQuota>(
          config_.cluster.replication_quota_window_num,
          int64_t{config_.cluster.replication_quota_window_size_seconds} * 1000)),
      move_quota_(std::make_shared<cluster::ReplicationQuota>(
          config_.cluster.replication_quota_window_num,
          int64_t{config_.cluster.replication_quota_window_size_seconds} * 1000)),
      fetch_sessions_(static_cast<size_t>(config_.max_incremental_fetch_session_cache_slots)) {}
Broker::~Broker() = default;

void Broker::load_or_create_meta() {
  // Each log directory is locked (Kafka's .lock) and carries Kafka's meta.properties: the cluster
  // id and node id it belongs to. They must agree; a directory without one (new, or a disk
  // added to log.dirs) gets this broker's. One that cannot be created or is not a directory
  // starts offline, as in Kafka, unless it is the first (it holds the broker's metadata).
  namespace fs = std::filesystem;
  for (size_t d = 0; d < config_.log_dirs.size(); ++d) {
    const std::string& dir = config_.log_dirs[d];
    std::error_code ec;
    fs::create_directories(dir, ec);
    if (!ec && !fs::is_directory(dir, ec)) ec = std::make_error_code(std::errc::not_a_directory);
    if (ec) {
      std::string why = "cannot create log directory " + dir + ": " + ec.message();
      if (d == 0) throw std::runtime_error(why);
      offline_at_start_.emplace_back(d, std::move(why));
      continue;
    }
    std::string error;
    auto lock = storage::DirectoryLock::take(dir, &error);
    if (!lock) throw std::runtime_error(error);
    dir_locks_.push_back(std::move(*lock));
  }
  // The broker's own metadata lives in the first directory: listed elsewhere, it would be lost.
  for (size_t d = 1; d < config_.log_dirs.size(); ++d) {
    if (fs::exists(fs::path(config_.log_dirs[d]) / "__kaffa_metadata")) {
      throw std::runtime_error(config_.log_dirs[d] +
                               " holds the broker's metadata (__kaffa_metadata), which belongs in "
                               "the first directory of log.dirs; list it first");
    }
  }
  std::string found_in;
  bool all_have = true;
  for (const auto& dir : config_.log_dirs) {
    if (log_dir_offline_at_start(dir)) continue;
    const fs::path meta = fs::path(dir) / "meta.properties";
    if (!fs::exists(meta)) {
      all_have = false;
      continue;
    }
    const auto text = file::read_all(meta);
    std::map<std::string, std::string> props;
    std::string error = "cannot read it";
    if (!text || !parse_properties(*text, props, error) || props["cluster.id"].empty()) {
      throw std::runtime_error(meta.string() + " is unreadable: " + error);
    }
    if (props.count("node.id") != 0 && props["node.id"] != std::to_string(config_.node_id)) {
      throw std::runtime_error(meta.string() + " belongs to node.id " + props["node.id"] +
                               ", but this broker is node.id " + std::to_string(config_.node_id));
    }
    if (!found_in.empty() && props["cluster.id"] != cluster_id_) {
      throw std::runtime_error(meta.string() + " belongs to cluster " + props["cluster.id"] +
                               ", but " + found_in + " to cluster " + cluster_id_);
    }
    cluster_id_ = props["cluster.id"];
    found_in = meta.string();
  }
  if (found_in.empty()) cluster_id_ = protocol::Uuid::random().to_base64();
  if (!all_have) write_meta_properties();
}

bool Broker::log_dir_offline_at_start(const std::string& dir) const {
  return std::any_of(offline_at_start_.begin(), offline_at_start_.end(),
                     [&](const auto& o) { return config_.log_dirs[o.first] == dir; });
}

void Broker::write_meta_properties() {
  namespace fs = std::filesystem;
  for (const auto& dir : config_.log_dirs) {
    if (log_dir_offline_at_start(dir)) continue;
    const fs::path meta = fs::path(dir) / "meta.properties";
    const fs::path tmp = meta.string() + ".tmp";
    {
      std::ofstream out(tmp, std::ios::trunc);
      out << "# Written by kaffa.\nversion=1\ncluster.id=" << cluster_id_
          << "\nnode.id=" << config_.node_id << "\n";
      if (!out.flush()) throw std::runtime_error("cannot write " + tmp.string());
    }
    fs::rename(tmp, meta);
  }
}

void Broker::load_topics() {
  const auto file = cluster::metadata_snapshot_path(config_.log_dir);
  std::string error;
  auto topics = cluster::load_topics(file, &error);
  if (!topics) throw std::runtime_error(error);
  loaded_topics_ = *topics;
  topics_.load(std::move(*topics));
  topics_.set_persistence([file](const std::vector<cluster::TopicInfo>& all, std::string* err) {
    return cluster::save_topics(file, all, err);
  });
}

void Broker::start() {
  load_or_create_meta();
  if (!clustered()) load_topics();
  producer_ids_ = std::make_unique<cluster::ProducerIdManager>(
      cluster::ProducerIdManager::default_path(config_.log_dir));
  if (std::string error; !producer_ids_->load(&error)) throw std::runtime_error(error);
  load_security_stores();
  load_client_quotas();
  load_dynamic_configs();
  load_group_configs();
  const BrokerConfig in_force = [this] {  // the dynamic configs' values from the start
    std::lock_guard lock(dynamic_mu_);
    return in_force_;
  }();
  server_ = std::make_unique<net::Server>(server_config(in_force), *this);
  partitions_ = std::make_unique<cluster::PartitionManager>(
      std::vector<std::filesystem::path>(config_.log_dirs.begin(), config_.log_dirs.end()),
      server_->thread_count(), dynamic_configs::log_defaults(in_force), flusher_,
      [this](size_t shard, std::function<void()> fn) { server_->post(shard, std::move(fn)); });
  partitions_->set_recovery_threads(in_force.num_recovery_threads_per_data_dir);
  partitions_->set_move_quota(move_quota_);
  partitions_->on_log_dir_failure(
      [this](size_t dir, const std::vector<std::shared_ptr<cluster::Partition>>& offline) {
        log_dir_failed(dir, offline);
      });
  for (const auto& [dir, why] : offline_at_start_) partitions_->start_offline(dir, why);
  // In a cluster the logs are opened as the first metadata image assigns them (start_cluster).
  std::string error;
  if (!partitions_->load(loaded_topics_, &error)) {
    throw std::runtime_error("cannot open partition logs: " + error);
  }
  if (!clustered()) {
    log::info("opened {} partitions of {} topics", partitions_->all().size(),
              loaded_topics_.size());
    start_group_coordinator();
    start_txn_coordinator();
  }
  cleaner_ = std::make_unique<cluster::CleanerManager>(
      config_.log_dir, dynamic_configs::cleaner_config(in_force), *partitions_,
      [this](size_t shard, std::function<void()> fn) { server_->post(shard, std::move(fn)); });
  server_->start();
  const auto bound = server_->bound();
  for (const auto& b : bound) {
    AdvertisedBroker a{config_.node_id, b.host.empty() ? "localhost" : b.host, b.port};
    for (const auto& given : config_.advertised_listeners) {
      if (given.name == b.name) a = {config_.node_id, given.host, given.port};
    }
    advertised_.emplace_back(b.name, std::move(a));
  }
  if (clustered()) start_cluster();  // registers with the advertised addresses
  cleaner_->start();
  // Signals are handled before "ready" is logged: a supervisor may stop us as soon as it reads it.
  server_->stop_on_signals([this] { on_signal(); });
  // The admin API is announced before "ready", so that whoever waits for "ready" finds it.
  admin_ = std::make_unique<AdminApi>(*this, *server_);
  admin_->start();
  std::string dirs;
  for (const auto& d : config_.log_dirs) dirs += (dirs.empty() ? "" : ",") + d;
  for (const auto& b : bound) {
    log::info("kaffa ready listener={}://{}:{} node.id={} cluster.id={} log.dirs={}", b.name,
              b.host, b.port, config_.node_id, cluster_id_, dirs);
  }
}

void Broker::start_group_coordinator() {
  // __consumer_offsets is an internal compacted topic; its partition count cannot change once it
  // exists (it decides which partition holds each group). As Kafka, it is created on first use
  // (the first FindCoordinator or group request), not with the broker.
  auto group_config = config_.group;
  if (auto existing = topics_.find(coordinator::kOffsetsTopic)) {
    if (existing->partitions != group_config.offsets_topic_num_partitions) {
      log::warn("{} has {} partitions; offsets.topic.num.partitions={} is ignored",
                coordinator::kOffsetsTopic, existing->partitions,
                group_config.offsets_topic_num_partitions);
      group_config.offsets_topic_num_partitions = existing->partitions;
    }
    make_group_coordinator(group_config);
    coordinator_->start();
    return;
  }
  make_group_coordinator(group_config);
  coordinator_->start_lazily([this] { return create_internal_topic(offsets_topic_info(1)); });
}

cluster::TopicInfo Broker::internal_topic_info(std::string name, int32_t partitions,
                                               int16_t replication_factor, int32_t segment_bytes) {
  cluster::TopicInfo t;
  t.name = std::move(name);
  t.partitions = partitions;
  t.replication_factor = replication_factor;
  t.internal = true;
  t.configs["cleanup.policy"] = "compact";
  t.configs["segment.bytes"] = std::to_string(segment_bytes);
  return t;
}

bool Broker::create_internal_topic(cluster::TopicInfo topic) {
  std::string error;
  const std::string name = topic.name;
  if (create_topic(std::move(topic), nullptr, &error) ==
      cluster::TopicRegistry::CreateResult::created) {
    log::info("created {}", name);
    return true;
  }
  log::error("cannot create {}: {}", name, error);
  return false;
}

cluster::TopicInfo Broker::offsets_topic_info(int16_t replication_factor) const {
  const auto& g = config_.group;
  return internal_topic_info(coordinator::kOffsetsTopic, g.offsets_topic_num_partitions,
                             replication_factor, g.offsets_topic_segment_bytes);
}

void Broker::make_group_coordinator(const coordinator::GroupConfig& group_config) {
  coordinator::GroupConfig with_overrides = group_config;
  with_overrides.group_configs = group_configs_;
  coordinator_ = std::make_unique<coordinator::GroupCoordinator>(
      with_overrides, *partitions_,
      [this](size_t loop, std::function<void()> fn) { server_->post(loop, std::move(fn)); },
      [this](size_t loop, int64_t delay_ms, std::function<void()> fn) {
        // Group timers do not run early at shutdown: a session must not expire because the
        // broker stops.
        server_->post_after(loop, std::chrono::milliseconds(delay_ms), std::move(fn), false);
      });
}

void Broker::maintenance_loop() {
  using clock = std::chrono::steady_clock;
  const auto checkpoint_every =
      std::chrono::milliseconds(config_.log_flush_offset_checkpoint_interval_ms);
  auto next_checkpoint = clock::now() + checkpoint_every;
  // Retention runs every log.retention.check.interval.ms (ticks come at least that often).
  const auto retention_every = std::chrono::milliseconds(config_.log_retention_check_interval_ms);
  const auto period = std::min<clock::duration>(std::chrono::seconds(1), retention_every);
  auto next_retention = clock::now() + retention_every;
  std::unique_lock lock(maintenance_mu_);
  while (!maintenance_cv_.wait_for(lock, period, [this] { return maintenance_stop_; })) {
    lock.unlock();
    const int64_t now_ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                               std::chrono::system_clock::now().time_since_epoch())
                               .count();
    for (size_t shard = 0; shard < server_->thread_count(); ++shard) {
      server_->post(shard, [this, shard, now_ms] { partitions_->tick(shard, now_ms); });
    }
    if (clock::now() >= next_retention) {
      for (size_t shard = 0; shard < server_->thread_count(); ++shard) {
        server_->post(shard,
                      [this, shard, now_ms] { partitions_->enforce_retention(shard, now_ms); });
      }
      next_retention = clock::now() + retention_every;
    }
    if (clock::now() >= next_checkpoint) {
      std::string error;
      if (!partitions_->write_checkpoints(&error)) log::warn("checkpoint: {}", error);
      next_checkpoint = clock::now() + checkpoint_every;
    }
    lock.lock();
  }
}

void Broker::run() {
  maintenance_ = std::thread([this] { maintenance_loop(); });
  server_->run();
  {
    std::lock_guard lock(maintenance_mu_);
    maintenance_stop_ = true;
  }
  maintenance_cv_.notify_one();
  maintenance_.join();
  stop_cluster();
  cleaner_->stop();
  // The loops are gone: drain the flusher, then close every log (fsync) and checkpoint, so that
  // the next start needs no recovery scan.
  flusher_.stop();
  partitions_->shutdown();
  const auto& st = server_->stats();
  log::info(
      "net stats: connections_total={} requests={} bytes_in={} bytes_out={} "
      "bytes_sendfile={}",
      st.connections_total.load(), st.requests.load(), st.bytes_in.load(), st.bytes_out.load(),
      st.bytes_sendfile.load());
}
AdvertisedBroker Broker::advertised(std::string_view listener) const {
  for (const auto& [name, a] : advertised_) {
    if (name == listener) return a;
  }
  return advertised_.empty() ? AdvertisedBroker{config_.node_id, "", -1}
                             : advertised_.front().second;
}

void Broker::log_dir_failed(size_t dir,
                            const std::vector<std::shared_ptr<cluster::Partition>>& offline) {
  if (dir == 0 || partitions_->all_log_dirs_offline()) {
    log::error("halting: {} log directory {} failed", dir == 0 ? "the metadata" : "the last online",
               partitions_->log_dir_names()[dir]);
    std::_Exit(1);  // Kafka halts; the logs of the other directories recover at the next start
  }
  if (replica_manager_) replica_manager_->take_offline(offline);  // reported to the controller
}

void Broker::stop() {
  if (server_) server_->stop();
}

cluster::TopicRegistry::CreateResult Broker::create_topic(cluster::TopicInfo topic,
                                                          cluster::TopicInfo* created,
                                                          std::string* error) {
  cluster::TopicInfo made;
  const auto result = topics_.create(std::move(topic), &made);
  if (result != cluster::TopicRegistry::CreateResult::created) return result;
  if (!partitions_->add_topic(made, error)) {
    log::error("cannot create the partitions of topic {}: {}", made.name, error ? *error : "");
    topics_.remove(made.name);
    return cluster::TopicRegistry::CreateResult::storage_error;
  }
  if (created != nullptr) *created = std::move(made);
  return result;
}

bool Broker::delete_topic(const std::string& name, std::string* error) {
  if (!topics_.remove(name, error)) return false;
  partitions_->remove_topic(name);
  cleaner_->forget_topic(name);
  return true;
}

bool Broker::waits_for_earlier(std::string_view frame) const {
  // The request header starts with the int16 API key (a raw SASL token is never pipelined).
  if (frame.size() < 2) return false;
  const auto key =
      static_cast<int16_t>(record::wire::load_be16(reinterpret_cast<const uint8_t*>(frame.data())));
  return key == kMetadataKey || key == kFindCoordinatorKey || key == kDescribeClusterKey;
}

void Broker::handle(const net::ConnectionInfo& conn, net::RequestFrame frame,
                    net::Completion done) {
  if (handle_raw_sasl_token(conn, frame, done)) return;
  protocol::ParsedRequest req;
  const auto status = protocol::parse_request_header(frame.bytes(), req);
  if (status != protocol::HeaderStatus::ok) {
    const char* why = status == protocol::HeaderStatus::truncated     ? "truncated header"
                      : status == protocol::HeaderStatus::unknown_api ? "unknown API key"
                                                                      : "malformed header";
    log::warn("closing connection {} from {}: {} (api key {})", conn.id, conn.peer, why,
              req.header.request_api_key);
    done.close();
    return;
  }
  const auto& h = req.header;
  Responder respond(std::move(done), h.correlation_id, h.request_api_key, h.request_api_version);
  const HandlerEntry* entry = find_handler(h.request_api_key);
  if (entry == nullptr) {
    log::warn("closing connection {} from {}: API key {} is not supported", conn.id, conn.peer,
              h.request_api_key);
    respond.close();
    return;
  }
  if (h.request_api_version < entry->min_version || h.request_api_version > entry->max_version) {
    if (h.request_api_key == kApiVersionsKey) {
      answer_unsupported_api_versions(respond);
      return;
    }
    log::warn("closing connection {} from {}: API key {} version {} is not supported", conn.id,
              conn.peer, h.request_api_key, h.request_api_version);
    respond.close();
    return;
  }
  if (!sasl_gate(conn, h.request_api_key)) return respond.close();
  // Per-request lines at debug: switchable at runtime (GET /v1/log-level?set=debug).
  log::debug("request conn={} api={} v{} corr={} client={}", conn.id, h.request_api_key,
             h.request_api_version, h.correlation_id, h.client_id.value_or(""));
  respond.set_timer(metrics_.on_request(h.request_api_key, h.request_api_version, frame.received));
  RequestContext ctx{h, req.body, conn, *this, &frame};
  entry->handle(ctx, std::move(respond));
}

}  // namespace kaffa::broker
