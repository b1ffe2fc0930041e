// The broker process: configuration, node identity (meta.properties), the durable topic
// registry, the partitions and their flusher, the network server whose requests it dispatches to
// the API handlers, and a maintenance thread (periodic flush ticks and checkpoints).
//
// Lifecycle: construct -> start() (recovers the logs, binds listeners, installs SIGINT/SIGTERM
// handling; may throw) -> run() (blocks; when the loops stop it drains the flusher, closes every
// log and writes checkpoints, so a restart does not scan); stop() from any thread or a signal
// makes run() return after in-flight requests are answered.
#pragma once

#include <atomic>
#include <condition_variable>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>

#include "broker/broker_metrics.h"
#include "broker/config.h"
#include "broker/dynamic_configs.h"
#include "broker/fetch_sessions.h"
#include "broker/quota_manager.h"
#include "cluster/cleaner_manager.h"
#include "cluster/config_catalog.h"
#include "cluster/metadata_image.h"
#include "cluster/partition_manager.h"
#include "cluster/producer_ids.h"
#include "cluster/replication_quota.h"
#include "cluster/topic_registry.h"
#include "coordinator/group_coordinator.h"
#include "net/server.h"
#include "security/acl.h"
#include "security/scram.h"
#include "storage/dir_lock.h"
#include "storage/flusher.h"
#include "txn/marker_sender.h"
#include "txn/partition_verifier.h"
#include "txn/txn_coordinator.h"

namespace kaffa::broker {

struct AdvertisedBroker {
  int32_t node_id;
  std::string host;
  int32_t port;
  std::optional<std::string> rack = std::nullopt;
};

class AdminApi;
struct RequestContext;
}  // namespace kaffa::broker

namespace kaffa::cluster {
class EtcdMetadata;
class ReplicaManager;
}  // namespace kaffa::cluster

namespace kaffa::broker {

class Broker : public net::RequestHandler {
 public:
  explicit Broker(BrokerConfig config);
  ~Broker() override;

  void start();
  void run();
  void stop();

  const BrokerConfig& config() const { return config_; }
  const std::string& cluster_id() const { return cluster_id_; }
  // The address clients of a listener are given (Metadata, FindCoordinator): its entry in
  // advertised.listeners, else its bound address. Unknown or empty names: the first listener.
  AdvertisedBroker advertised(std::string_view listener = {}) const;
  cluster::TopicRegistry& topics() { return topics_; }
  cluster::PartitionManager& partitions() { return *partitions_; }
  coordinator::GroupCoordinator& coordinator() { return *coordinator_; }
  txn::TxnCoordinator& txn_coordinator() { return *txn_coordinator_; }
  txn::PartitionVerifier& txn_verifier() { return *txn_verifier_; }
  const cluster::CleanerManager& cleaner() const { return *cleaner_; }
  cluster::ProducerIdManager& producer_ids() { return *producer_ids_; }
  security::ScramCredentialStore& scram_credentials() { return *scram_; }
  // The ACL authorizer (authorizer.class.name); nullptr when authorization is off.
  security::Authorizer* authorizer() const { return authorizer_.get(); }
  const net::ServerStats& net_stats() const { return server_->stats(); }
  int64_t queued_request_bytes() const { return server_->queued_request_bytes(); }
  BrokerMetrics& metrics() { return metrics_; }
  const storage::Flusher& flusher() const { return flusher_; }

  // Creates a topic in the registry (durably) and its partitions on disk; undone if either fails.
  cluster::TopicRegistry::CreateResult create_topic(cluster::TopicInfo topic,
                                                    cluster::TopicInfo* created,
                                                    std::string* error);
  // Removes a topic from the registry (durably), then its partitions. False when absent/failed.
  bool delete_topic(const std::string& name, std::string* error);

  // --- A broker in a cluster (broker_cluster.cc) ---
  // With metadata.store set: the metadata lives in etcd, partitions are replicated.
  bool clustered() const { return config_.cluster.enabled(); }
  // The newest metadata image; nullptr on a single node.
  cluster::ImagePtr image() const;
  // nullptr on a single node.
  cluster::EtcdMetadata* metadata_store() const { return metadata_.get(); }
  // In a cluster: the registration in the metadata store was lost and not yet renewed; this
  // broker leads nothing meanwhile (its image may be stale).
  bool fenced() const { return fenced_.load(std::memory_order_acquire); }
  // Broker `id` as clients of `listener` reach it (its advertised endpoint for that listener),
  // from `image`; nullopt when it is not alive or has no such listener.
  std::optional<AdvertisedBroker> node(const cluster::MetadataImage& image, int32_t id,
                                       std::string_view listener) const;

  // The error for a partition this broker holds no replica of (leader-only requests): in a
  // cluster NOT_LEADER_OR_FOLLOWER when the partition exists elsewhere (as Kafka's replica
  // manager answers, so that clients refresh their metadata and go to its leader), else
  // UNKNOWN_TOPIC_OR_PARTITION; on a single node with a log directory offline, a partition of a
  // known topic is KAFKA_STORAGE_ERROR (its log may be there). In broker_topics.cc.
  protocol::ErrorCode no_replica_error(std::string_view topic, int32_t partition) const;

  // --- Topic changes for the admin handlers (broker_topics.cc) ---
  // On a single node they happen at once (the calls above); in a cluster through the metadata
  // store, and done() runs on the store's thread once the change is visible in topics().
  struct TopicResult {
    protocol::ErrorCode error = protocol::ErrorCode::none;
    std::string message;
    cluster::TopicInfo topic;
  };
  using TopicDone = std::function<void(TopicResult)>;
  // assignment: explicit replicas per partition, or empty (placed by the store; on a single node
  // only this broker).
  void create_topic_async(cluster::TopicInfo topic, std::vector<std::vector<int32_t>> assignment,
                          TopicDone done);
  void delete_topic_async(const std::string& name, TopicDone done);
  void add_partitions_async(const cluster::TopicInfo& topic, int32_t count,
                            std::vector<std::vector<int32_t>> assignment, TopicDone done);
  // Applies `change` to the topic's configs as stored (cluster::ConfigChange: in a cluster again
  // after a lost race); INVALID_CONFIG if it refuses.
  void set_topic_configs_async(const std::string& name, cluster::ConfigChange change,
                               TopicDone done);
  // --- ACLs and SCRAM credentials for the admin handlers (broker_security.cc) ---
  // On a single node they are this broker's files (changed at once); in a cluster one record
  // each in the metadata store, which every broker's authorizer and credential store follow
  // (apply_image). `change` gets the current set and may run more than once (a lost race in
  // the store runs it on the newer set), so it must start from what it is given. done(""), or
  // done(why it failed), runs on any thread once this broker uses the new set.
  using SecurityDone = std::function<void(std::string error)>;
  void update_acls(security::Authorizer::Change change, SecurityDone done);
  void update_scram_users(std::function<bool(security::ScramUsers&)> change, SecurityDone done);
  // --- Client quotas for the admin handlers (broker_quotas.cc), the same way ---
  void update_client_quotas(std::function<bool(quotas::QuotaSet&)> change, SecurityDone done);
  QuotaManager& quotas() { return quotas_; }
  // Per-group configs (KIP-848; broker_group_configs.cc): the set in force, and its change, the
  // same way as the client quotas.
  const coordinator::GroupConfigs& group_configs() const { return *group_configs_; }
  void update_group_configs(std::function<bool(coordinator::GroupConfigSet&)> change,
                            SecurityDone done);
  // Replication quotas (KIP-73): the leader side for the Fetch handler, the follower side for the
  // replica fetchers; their bounds are leader/follower.replication.throttled.rate.
  cluster::ReplicationQuota& leader_replication_quota() { return *leader_quota_; }
  const cluster::ReplicationQuota& follower_replication_quota() const { return *follower_quota_; }
  // Dynamic broker configs (KIP-226; dynamic_configs.h, broker_dynamic_configs.cc): this broker's
  // own values (DYNAMIC_BROKER_CONFIG) and the cluster-wide defaults
  // (DYNAMIC_DEFAULT_BROKER_CONFIG), as in force.
  struct DynamicConfigs {
    dynamic_configs::Values own;
    dynamic_configs::Values cluster_default;
  };
  DynamicConfigs dynamic_configs() const;
  // Changes one layer (`cluster_default` or this broker's own values) with `change`, which edits
  // its map; names other than dynamic_configs::is_dynamic ones are the caller's to refuse. The
  // result is checked (the refusal's message in `invalid`) and, unless validate_only, stored —
  // own values in this broker's file; the defaults in a single node's file, or in a cluster the
  // metadata store's record, which every broker follows — and put in force. done(invalid, error)
  // runs once, maybe on another thread, after this broker uses the result.
  using DynamicDone = std::function<void(std::string invalid, std::string error)>;
  void alter_dynamic_configs(bool cluster_default, cluster::ConfigChange change, bool validate_only,
                             DynamicDone done);
  // Incremental fetch sessions (KIP-227), for the Fetch handler.
  FetchSessions& fetch_sessions() { return fetch_sessions_; }
  // Who a request is measured as for quotas (its principal's name and client id); nullopt while
  // no quota exists (the request path then does nothing more).
  struct QuotaIdentity {
    std::string user;
    std::string client_id;
  };
  std::optional<QuotaIdentity> quota_identity(const RequestContext& ctx) const;
  // Records `bytes` against quota `key` of `who`; the throttle time in ms. `unrecord` takes back
  // what a throttled answer will not send after all (Kafka's unrecordQuotaSensor).
  int32_t throttle(const QuotaIdentity& who, std::string_view key, int64_t bytes);
  void unrecord(const QuotaIdentity& who, std::string_view key, int64_t bytes);
  // The most quota `key` lets `who` move in its measured span (Kafka's getMaxValueInQuotaWindow:
  // the bound times the span less one window); nullopt without such a quota.
  std::optional<int64_t> quota_window_bytes(const QuotaIdentity& who, std::string_view key) const;

  // In a cluster: creates __consumer_offsets (once at a time) when offsets.topic.replication.factor
  // brokers are alive; FindCoordinator calls it while the topic is missing.
  void create_offsets_topic();
  // In a cluster: creates __transaction_state the same way (transaction.state.log.*).
  void create_txn_topic();
  // What Metadata and DescribeCluster list: the live brokers as clients of `listener` reach
  // them, and the controller (this node on a single node).
  std::vector<AdvertisedBroker> live_nodes(std::string_view listener) const;
  int32_t controller_id() const;
  // Live brokers (1 on a single node) and whether `id` is one of them.
  int32_t live_brokers() const;
  // ISR shrinks and expansions of the partitions this broker leads; null on a single node.
  const cluster::Partition::IsrChangeCounters* isr_changes() const;
  // Replica fetcher threads running (0 on a single node).
  size_t replica_fetcher_threads() const;
  bool broker_alive(int32_t id) const;

  // Runs fn on event loop `shard` (a partition's owner), or after a delay.
  void post(size_t shard, std::function<void()> fn) { server_->post(shard, std::move(fn)); }
  void post_after(size_t shard, std::chrono::milliseconds delay, std::function<void()> fn,
                  bool run_on_stop = true) {
    server_->post_after(shard, delay, std::move(fn), run_on_stop);
  }

  void handle(const net::ConnectionInfo& conn, net::RequestFrame frame,
              net::Completion done) override;
  // Metadata, FindCoordinator and DescribeCluster: the requests that tell a client where to
  // send its others. Queued behind an acks=all Produce, their answer would otherwise be computed
  // when they arrive and leave seconds later, naming a leader that has since failed.
  bool waits_for_earlier(std::string_view frame) const override;

  // sasl.cc. Whether a listener authenticates with SASL; a new server mechanism for a listener
  // (nullptr when `name` is not enabled there).
  bool sasl_listener(std::string_view listener) const;
  std::unique_ptr<security::SaslMechanism> sasl_mechanism(std::string_view listener,
                                                          std::string_view name) const;
  // principal.cc. The Kafka principal of a connection ("User:alice"): the SASL identity on a SASL
  // listener once authenticated, the mapped certificate subject on an SSL listener with a client
  // certificate, "User:ANONYMOUS" otherwise.
  std::string principal_of(const net::ConnectionInfo& conn) const;
  // principal.cc: logs a TLS client's certificate principal; false (close) when no
  // ssl.principal.mapping.rules rule applies to its subject.
  bool on_tls_established(const net::ConnectionInfo& conn) override;

 private:
  void load_or_create_meta();
  void write_meta_properties();
  bool log_dir_offline_at_start(const std::string& dir) const;
  void make_group_coordinator(const coordinator::GroupConfig& group_config);
  // A log directory went offline (PartitionManager::on_log_dir_failure; any thread). The first
  // one (it holds the broker's own metadata) or the last online one halts the broker, exit code
  // 1, as Kafka does; otherwise, in a cluster, the controller is told which replicas are offline.
  void log_dir_failed(size_t dir, const std::vector<std::shared_ptr<cluster::Partition>>& offline);
  // broker_cluster.cc
  void start_cluster();
  void apply_image(const cluster::ImagePtr& previous, const cluster::ImagePtr& current);
  // This broker's login on a SASL inter-broker listener (sasl.mechanism.inter.broker.protocol
  // and the listener's JAAS username/password); throws naming what is missing.
  const BrokerConfig::SaslLogin* sasl_login_of(const std::string& listener) const;
  // broker_security.cc: the stores' files (single node), or nothing but a warning about files
  // a cluster ignores; then, in a cluster, each new image's ACLs and SCRAM credentials.
  void load_security_stores();
  void apply_security_records(const cluster::MetadataImage* previous,
                              const cluster::MetadataImage& current);
  // broker_quotas.cc: the single node's file, or (cluster) each new image's record.
  void load_client_quotas();
  // broker_dynamic_configs.cc: this broker's values and a single node's defaults, read at
  // start-up; in a cluster each new image's defaults; and what they set (quota bounds, the
  // partitions' defaults), with dynamic_mu_ held.
  void load_dynamic_configs();
  void apply_broker_config_record(const cluster::MetadataImage* previous,
                                  const cluster::MetadataImage& current);
  // The configuration in force from the static settings and dynamic_ (in_force_, and what it
  // sets); the problem, with nothing changed, when the layers do not make a valid one or, for a
  // `change` (not the start), dynamic_configs::check_reconfiguration refuses it.
  std::optional<std::string> apply_dynamic_configs_locked(bool change);
  void put_in_force_locked(BrokerConfig in_force);  // in_force_ and what it sets
  void apply_quota_record(const cluster::MetadataImage* previous,
                          const cluster::MetadataImage& current);
  // broker_group_configs.cc: the same for the per-group configs.
  void load_group_configs();
  void apply_group_config_record(const cluster::MetadataImage* previous,
                                 const cluster::MetadataImage& current);
  void on_signal();
  void stop_cluster();
  void load_topics();
  void start_group_coordinator();
  // broker_txn.cc: the transaction coordinator of a single node (the topic is made on first use)
  // or of a cluster member (led partitions only).
  void start_txn_coordinator();
  void start_txn_coordinator_led();
  void make_txn_coordinator();
  cluster::TopicInfo txn_topic_info(int16_t replication_factor) const;
  // The internal compacted topics (__consumer_offsets, __transaction_state) as created.
  static cluster::TopicInfo internal_topic_info(std::string name, int32_t partitions,
                                                int16_t replication_factor, int32_t segment_bytes);
  // A single node: creates an internal topic now (the coordinators' first use); false on failure.
  bool create_internal_topic(cluster::TopicInfo topic);
  // In a cluster: creates it once `rf_setting`'s replication factor of brokers is alive, one
  // creation at a time (`creating`).
  void create_internal_topic_async(cluster::TopicInfo topic, const char* rf_setting,
                                   std::atomic<bool>& creating);
  // __consumer_offsets as it is created (offsets.topic.* settings).
  cluster::TopicInfo offsets_topic_info(int16_t replication_factor) const;
  // principal.cc: the mapped certificate principal of a TLS connection ("User:<name>"), if any.
  std::optional<std::string> certificate_principal(const net::ConnectionInfo& conn) const;
  void maintenance_loop();
  // sasl.cc: false when the request must not pass before authentication (the caller closes).
  bool sasl_gate(const net::ConnectionInfo& conn, int16_t api_key);
  // sasl.cc: handles the frame as a raw SASL token when the connection expects one.
  bool handle_raw_sasl_token(const net::ConnectionInfo& conn, net::RequestFrame& frame,
                             net::Completion& done);

  BrokerConfig config_;
  std::vector<storage::DirectoryLock> dir_locks_;  // one per usable log.dirs entry, until exit
  // log.dirs entries (index, reason) unusable at start-up: they start offline (not the first).
  std::vector<std::pair<size_t, std::string>> offline_at_start_;
  std::string cluster_id_;
  std::vector<std::pair<std::string, AdvertisedBroker>> advertised_;  // per listener, in order
  // Before everything that may hold a Responder (its latency timer points into the metrics).
  BrokerMetrics metrics_;
  cluster::TopicRegistry topics_;
  std::unique_ptr<net::Server> server_;
  storage::Flusher flusher_;
  std::unique_ptr<cluster::PartitionManager> partitions_;
  std::unique_ptr<cluster::CleanerManager> cleaner_;  // stopped before the logs close
  std::unique_ptr<coordinator::GroupCoordinator> coordinator_;
  std::unique_ptr<txn::TxnCoordinator> txn_coordinator_;
  std::unique_ptr<txn::PartitionVerifier> txn_verifier_;  // KIP-890, for Produce
  std::unique_ptr<cluster::ProducerIdManager> producer_ids_;
  std::shared_ptr<security::ScramCredentialStore> scram_;
  std::unique_ptr<security::Authorizer> authorizer_;  // null: no authorization
  QuotaManager quotas_;
  std::shared_ptr<cluster::ReplicationQuota> leader_quota_;
  std::shared_ptr<cluster::ReplicationQuota> follower_quota_;
  std::shared_ptr<cluster::ReplicationQuota> move_quota_;  // moves between log directories
  mutable std::mutex dynamic_mu_;  // the two layers, and a change of either, one at a time
  DynamicConfigs dynamic_;         // guarded by dynamic_mu_
  BrokerConfig in_force_;          // the static settings with dynamic_ applied, guarded too
  FetchSessions fetch_sessions_;
  std::shared_ptr<coordinator::GroupConfigs> group_configs_ =
      std::make_shared<coordinator::GroupConfigs>();
  std::mutex group_config_file_mu_;  // a single node's changes of the group configs file
  std::mutex quota_file_mu_;         // a single node's changes of the quota file, one at a time
  // The HTTP admin API; destroyed before server_ (whose loop 0 it uses).
  std::unique_ptr<AdminApi> admin_;
  std::vector<cluster::TopicInfo> loaded_topics_;
  // In a cluster: the metadata store (its thread applies images) and the replication of the
  // partitions; stopped before the logs close.
  std::unique_ptr<cluster::ReplicaManager> replica_manager_;
  std::unique_ptr<cluster::EtcdMetadata> metadata_;
  std::unique_ptr<txn::MarkerSender> marker_sender_;  // transaction markers to other leaders
  std::atomic<bool> controlled_shutdown_{false};
  std::atomic<bool> creating_offsets_topic_{false};
  std::atomic<bool> creating_txn_topic_{false};
  std::atomic<bool> fenced_{false};
  int64_t fenced_incarnation_ = 0;  // metadata thread: this broker's registration when fenced

  std::mutex maintenance_mu_;
  std::condition_variable maintenance_cv_;
  bool maintenance_stop_ = false;
  std::thread maintenance_;
};

}  // namespace kaffa::broker
