// A broker in a cluster (metadata.store set): joining through the etcd-backed metadata store,
// applying every metadata image it publishes (topic registry, replica manager, group
// coordinator), the view of other brokers that handlers answer clients with, and the controlled
// shutdown on SIGTERM.
#include <algorithm>
#include <filesystem>

#include "base/log.h"
#include "broker/broker.h"
#include "broker/tls_config.h"
#include "cluster/etcd_metadata.h"
#include "cluster/replica_manager.h"

namespace kaffa::broker {
namespace {

bool same_topic(const cluster::TopicInfo& a, const cluster::TopicInfo& b) {
  return a.name == b.name && a.id == b.id && a.partitions == b.partitions &&
         a.replication_factor == b.replication_factor && a.configs == b.configs &&
         a.internal == b.internal;
}

// Whether the topics (not the partition states) differ between two images.
bool topics_differ(const cluster::MetadataImage* previous, const cluster::MetadataImage& current) {
  if (previous == nullptr || previous->topics.size() != current.topics.size()) return true;
  auto a = previous->topics.begin();
  for (const auto& [name, t] : current.topics) {
    if (a->first != name || !same_topic(a->second.info, t.info)) return true;
    ++a;
  }
  return false;
}

}  // namespace

cluster::ImagePtr Broker::image() const {
  return metadata_ ? metadata_->image() : nullptr;
}

std::optional<AdvertisedBroker> Broker::node(const cluster::MetadataImage& image, int32_t id,
                                             std::string_view listener) const {
  const cluster::BrokerRegistration* b = image.broker(id);
  if (b == nullptr || b->endpoints.empty()) return std::nullopt;
  const cluster::BrokerEndpoint* e = b->endpoint(listener);
  if (e == nullptr) {
    if (!listener.empty()) return std::nullopt;
    e = &b->endpoints.front();
  }
  return AdvertisedBroker{id, e->host, e->port};
}

std::vector<AdvertisedBroker> Broker::live_nodes(std::string_view listener) const {
  const auto img = image();
  if (!img) return {advertised(listener)};
  std::vector<AdvertisedBroker> out;
  for (const auto& [id, b] : img->brokers) {
    if (auto a = node(*img, id, listener)) {
      if (!b.rack.empty()) a->rack = b.rack;
      out.push_back(std::move(*a));
    }
  }
  return out;
}

int32_t Broker::controller_id() const {
  const auto img = image();
  return img ? img->controller_id : config_.node_id;
}

const cluster::Partition::IsrChangeCounters* Broker::isr_changes() const {
  return replica_manager_ ? &replica_manager_->isr_changes() : nullptr;
}

size_t Broker::replica_fetcher_threads() const {
  return replica_manager_ ? replica_manager_->fetcher().threads() : 0;
}

int32_t Broker::live_brokers() const {
  const auto img = image();
  return img ? static_cast<int32_t>(img->brokers.size()) : 1;
}

bool Broker::broker_alive(int32_t id) const {
  const auto img = image();
  return img ? img->broker(id) != nullptr : id == config_.node_id;
}

void Broker::start_cluster() {
  const ClusterConfig& cc = config_.cluster;
  cluster::EtcdMetadataOptions o;
  o.endpoints = cc.metadata_store;
  o.prefix = cc.metadata_store_prefix;
  o.self.id = config_.node_id;
  o.self.rack = cc.broker_rack;
  for (const auto& [name, a] : advertised_) {
    std::string protocol = "PLAINTEXT";
    for (const auto& l : config_.listeners) {
      if (l.name == name) protocol = l.security_protocol;
    }
    o.self.endpoints.push_back({name, a.host, a.port, protocol});
  }
  o.self.inter_broker_listener = config_.inter_broker_listener_name.empty()
                                     ? advertised_.front().first
                                     : config_.inter_broker_listener_name;
  // How followers reach leaders: the inter-broker listener's TLS client side and SASL login.
  std::shared_ptr<net::TlsContextSlot> inter_broker_tls;
  const BrokerConfig::SaslLogin* inter_broker_login = nullptr;
  for (const auto& e : o.self.endpoints) {
    if (e.listener != o.self.inter_broker_listener) continue;
    if (e.security_protocol == "SSL" || e.security_protocol == "SASL_SSL") {
      inter_broker_tls = config_.tls.at(e.listener)->client;
    }
    if (e.security_protocol == "SASL_PLAINTEXT" || e.security_protocol == "SASL_SSL") {
      inter_broker_login = sasl_login_of(e.listener);  // throws with what is missing
    }
  }
  o.session_timeout_ms = cc.broker_session_timeout_ms;
  {
    std::lock_guard lock(dynamic_mu_);  // the setting as in force (a dynamic own value counts)
    o.unclean_leader_election = in_force_.cluster.unclean_leader_election_enable;
  }
  o.auto_leader_rebalance = cc.auto_leader_rebalance_enable;
  o.leader_imbalance_check_interval_ms = cc.leader_imbalance_check_interval_seconds * 1000;
  o.cluster_id_if_new = cluster_id_;
  metadata_ = std::make_unique<cluster::EtcdMetadata>(std::move(o));

  cluster::ReplicaManagerSettings rs;
  rs.replica_lag_time_max_ms = cc.replica_lag_time_max_ms;
  rs.fetcher.self = config_.node_id;
  rs.fetcher.fetch_max_bytes = cc.replica_fetch_max_bytes;
  rs.fetcher.response_max_bytes = cc.replica_fetch_response_max_bytes;
  rs.fetcher.wait_max_ms = cc.replica_fetch_wait_max_ms;
  rs.fetcher.request_timeout_ms = cc.replica_socket_timeout_ms;
  rs.fetcher.receive_buffer_bytes = cc.replica_socket_receive_buffer_bytes;
  rs.fetcher.min_bytes = cc.replica_fetch_min_bytes;
  rs.fetcher.backoff_ms = cc.replica_fetch_backoff_ms;
  rs.fetcher.quota = follower_quota_;
  if (inter_broker_tls) {
    rs.fetcher.tls = [inter_broker_tls] { return inter_broker_tls->current(); };
  }
  if (inter_broker_login != nullptr) {
    rs.fetcher.sasl_mechanism = config_.sasl_mechanism_inter_broker_protocol;
    rs.fetcher.sasl_username = inter_broker_login->username;
    rs.fetcher.sasl_password = inter_broker_login->password;
  }
  cluster::EtcdMetadata* store = metadata_.get();
  // Transaction markers for partitions other brokers lead go over the same inter-broker
  // connections' settings as the fetchers.
  marker_sender_ = std::make_unique<txn::MarkerSender>(
      rs.fetcher,
      [store](const txn::TopicPartition& tp)
          -> std::optional<std::pair<int32_t, cluster::BrokerEndpoint>> {
        const auto img = store->image();
        const auto* t = img ? img->topic(tp.first) : nullptr;
        if (t == nullptr || tp.second < 0 ||
            tp.second >= static_cast<int32_t>(t->partitions.size())) {
          return std::nullopt;
        }
        const int32_t leader = t->partitions[static_cast<size_t>(tp.second)].leader;
        const auto* b = leader >= 0 ? img->broker(leader) : nullptr;
        const auto* e = b ? b->endpoint(b->inter_broker_listener) : nullptr;
        if (e == nullptr) return std::nullopt;
        return std::make_pair(leader, *e);
      });
  {
    // num.replica.fetchers as in force (dynamic); a later change resizes the fetcher.
    std::lock_guard lock(dynamic_mu_);
    rs.fetcher.num_fetchers = in_force_.cluster.num_replica_fetchers;
    replica_manager_ = std::make_unique<cluster::ReplicaManager>(
        config_.node_id, *partitions_,
        [this](size_t shard, std::function<void()> fn) { server_->post(shard, std::move(fn)); }, rs,
        [store](const std::string& topic, int32_t index, const cluster::PartitionState& proposed,
                cluster::AlterPartitionDone done) {
          store->alter_partition(topic, index, proposed, std::move(done));
        });
  }
  replica_manager_->on_leadership(
      [this](const std::string& topic, int32_t index, bool leader, int32_t /*epoch*/) {
        if (topic == coordinator::kOffsetsTopic && coordinator_) {
          coordinator_->on_leadership(index, leader);
        } else if (topic == txn::kTransactionTopic && txn_coordinator_) {
          txn_coordinator_->on_leadership(index, leader);
        }
      });
  replica_manager_->on_offline_replicas(
      [store](std::vector<std::pair<protocol::Uuid, int32_t>> replicas) {
        log::warn(
            "cluster: reporting {} replicas as offline to the controller (their log "
            "directory is offline)",
            replicas.size());
        store->report_offline_replicas(std::move(replicas));
      });
  // The fetchers stop while the loops still run (their appends are posted to them).
  server_->on_stop([this] { replica_manager_->shutdown(); });
  metadata_->on_image([this](cluster::ImagePtr previous, cluster::ImagePtr current) {
    apply_image(previous, current);
  });
  metadata_->on_session_lost([this] {
    log::warn(
        "cluster: the registration of broker {} in the metadata store was lost; leading "
        "nothing until it is renewed",
        config_.node_id);
    const auto img = metadata_->image();
    const auto* self = img ? img->broker(config_.node_id) : nullptr;
    fenced_incarnation_ = self ? self->incarnation : 0;
    fenced_.store(true, std::memory_order_release);
    replica_manager_->fence();
  });
  producer_ids_->set_block_source(
      [store](int64_t count, cluster::ProducerIdManager::BlockDone done) {
        store->allocate_producer_ids(
            static_cast<int32_t>(count),
            [done = std::move(done)](protocol::ErrorCode e, int64_t first) {
              if (e != protocol::ErrorCode::none) {
                return done(std::nullopt, "the metadata store refused a producer id block (error " +
                                              std::to_string(protocol::code(e)) + ")");
              }
              done(first, {});
            });
      });

  // A registration left by a crashed predecessor of this node id expires within a session; a
  // live broker of the same id never does, and start-up fails then.
  const auto join_timeout =
      std::chrono::milliseconds(std::max<int64_t>(10000, 2 * cc.broker_session_timeout_ms + 5000));
  if (auto error = metadata_->start(join_timeout)) {
    throw std::runtime_error("metadata.store " + cc.metadata_store + ": " + *error);
  }
  if (metadata_->cluster_id() != cluster_id_) {
    log::info("cluster: joined cluster {} (meta.properties said {})", metadata_->cluster_id(),
              cluster_id_);
    cluster_id_ = metadata_->cluster_id();
    write_meta_properties();
  }

  // The group coordinator leads the offsets partitions this broker leads. Their count is the
  // existing topic's, or offsets.topic.num.partitions for the topic FindCoordinator creates.
  auto group_config = config_.group;
  if (const auto* t = metadata_->image()->topic(coordinator::kOffsetsTopic)) {
    group_config.offsets_topic_num_partitions = t->info.partitions;
  }
  make_group_coordinator(group_config);
  coordinator_->start_led();
  // Leaderships applied before the coordinator existed are replayed (on the owner loops).
  if (const auto* t = metadata_->image()->topic(coordinator::kOffsetsTopic)) {
    for (int32_t i = 0; i < static_cast<int32_t>(t->partitions.size()); ++i) {
      if (t->partitions[static_cast<size_t>(i)].leader != config_.node_id) continue;
      if (auto p = partitions_->get(coordinator::kOffsetsTopic, i)) {
        server_->post(p->shard(), [this, i, p] {
          if (p->is_leader()) coordinator_->on_leadership(i, true);
        });
      }
    }
  }
  start_txn_coordinator_led();
  const auto img = metadata_->image();
  log::info("cluster: broker {} joined cluster {}: {} live brokers, controller {}, {} topics",
            config_.node_id, cluster_id_, img->brokers.size(), img->controller_id,
            img->topics.size());
}

const BrokerConfig::SaslLogin* Broker::sasl_login_of(const std::string& listener) const {
  const std::string& mechanism = config_.sasl_mechanism_inter_broker_protocol;
  const auto& enabled = config_.sasl_mechanisms_of(listener);
  if (std::find(enabled.begin(), enabled.end(), mechanism) == enabled.end()) {
    throw std::runtime_error("sasl.mechanism.inter.broker.protocol " + mechanism +
                             " is not in sasl.enabled.mechanisms: the inter-broker listener " +
                             listener + " would not offer it");
  }
  const auto it = config_.sasl_logins.find({listener, mechanism});
  if (it == config_.sasl_logins.end()) {
    std::string lower = listener + "." + mechanism;
    std::transform(lower.begin(), lower.end(), lower.begin(),
                   [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
    throw std::runtime_error("the inter-broker listener " + listener +
                             " uses SASL: set this "
                             "broker's own username and password in listener.name." +
                             lower + ".sasl.jaas.config");
  }
  return &it->second;
}

void Broker::apply_image(const cluster::ImagePtr& previous, const cluster::ImagePtr& current) {
  apply_security_records(previous.get(), *current);
  apply_quota_record(previous.get(), *current);
  apply_group_config_record(previous.get(), *current);
  apply_broker_config_record(previous.get(), *current);
  if (topics_differ(previous.get(), *current)) {
    std::vector<cluster::TopicInfo> all;
    all.reserve(current->topics.size());
    for (const auto& [name, t] : current->topics) all.push_back(t.info);
    topics_.replace_all(std::move(all));
    if (previous) {
      for (const auto& [name, t] : current->topics) {
        const auto* before = previous->topic(name);
        if (before != nullptr && before->info.id == t.info.id &&
            before->info.configs != t.info.configs) {
          partitions_->update_topic_config(t.info);
        }
      }
    }
  }
  if (!previous || previous->controller_id != current->controller_id) {
    log::info("cluster: controller is broker {}", current->controller_id);
  }
  if (previous) {
    for (const auto& [id, b] : current->brokers) {
      if (previous->broker(id) == nullptr) log::info("cluster: broker {} joined", id);
    }
    for (const auto& [id, b] : previous->brokers) {
      if (current->broker(id) == nullptr) log::info("cluster: broker {} left", id);
    }
  }
  if (fenced()) {
    // Renewed: the image shows this broker under a new registration.
    const auto* self = current->broker(config_.node_id);
    if (self == nullptr || self->incarnation == fenced_incarnation_) return;
    log::info("cluster: broker {} registered again", config_.node_id);
    fenced_.store(false, std::memory_order_release);
  }
  replica_manager_->apply(previous, current);
}

void Broker::create_offsets_topic() {
  auto t = offsets_topic_info(config_.group.offsets_topic_replication_factor);
  t.partitions = coordinator_->config().offsets_topic_num_partitions;
  create_internal_topic_async(std::move(t), "offsets.topic.replication.factor",
                              creating_offsets_topic_);
}

void Broker::create_internal_topic_async(cluster::TopicInfo t, const char* rf_setting,
                                         std::atomic<bool>& creating) {
  if (live_brokers() < t.replication_factor) {
    log::warn("cluster: {} needs {}={} live brokers, {} are", t.name, rf_setting,
              t.replication_factor, live_brokers());
    return;
  }
  if (creating.exchange(true)) return;
  const std::string name = t.name;
  create_topic_async(std::move(t), {}, [name, &creating](TopicResult r) {
    if (r.error == protocol::ErrorCode::none) {
      log::info("cluster: created {}", name);
    } else if (r.error != protocol::ErrorCode::topic_already_exists) {
      log::warn("cluster: cannot create {}: {}", name, r.message);
    }
    creating = false;
  });
}

void Broker::on_signal() {
  if (!metadata_ || !config_.cluster.controlled_shutdown_enable ||
      controlled_shutdown_.exchange(true)) {
    return server_->stop();
  }
  const ClusterConfig& cc = config_.cluster;
  const auto timeout = std::chrono::milliseconds(std::max<int64_t>(
      1000, (cc.controlled_shutdown_max_retries + 1) * cc.controlled_shutdown_retry_backoff_ms));
  log::info("cluster: controlled shutdown: handing leaderships over (at most {} ms)",
            timeout.count());
  metadata_->controlled_shutdown(timeout, [this](bool done) {
    if (!done) {
      log::warn("cluster: controlled shutdown timed out; stopping anyway");
      return server_->stop();
    }
    log::info("cluster: controlled shutdown: this broker leads no partition any more");
    // Requests already on their way still get answers (NOT_LEADER_OR_FOLLOWER for a partition
    // this broker led), not a closed connection: a Produce lost in a closed connection may have
    // been written, and some clients (librdkafka before 2.3) then misjudge the next answer of
    // the new leader as a fatal sequence error.
    server_->stop(std::chrono::milliseconds(config_.cluster.controlled_shutdown_quiet_ms));
  });
}

void Broker::stop_cluster() {
  // Deregisters (other brokers take over at once), then stops replicating; the logs close after.
  if (metadata_) metadata_->stop();
  if (replica_manager_) replica_manager_->shutdown();
  if (marker_sender_) marker_sender_->stop();
  if (txn_verifier_) txn_verifier_->stop();
}

}  // namespace kaffa::broker
