// Internal: the state behind EtcdMetadata (etcd_metadata.h), split over
//   etcd_metadata.cc            lifecycle: thread, start/stop, registration, session, election
//   etcd_metadata_image.cc      records → image: load, watch, publish, waiters
//   etcd_metadata_topics.cc     topic writes: create, delete, configs, partitions
//   etcd_metadata_partitions.cc partition writes: alter_partition, elections, controlled
//                               shutdown, producer id blocks, the controller's CAS
//   etcd_metadata_shared.cc     records shared whole: ACLs, SCRAM credentials
// Everything but the members marked otherwise is used on the metadata thread only.
#pragma once

#include <asio/executor_work_guard.hpp>
#include <asio/io_context.hpp>
#include <asio/steady_timer.hpp>
#include <atomic>
#include <map>
#include <mutex>
#include <set>
#include <thread>

#include "cluster/controller.h"
#include "cluster/etcd/client.h"
#include "cluster/etcd/election.h"
#include "cluster/etcd/lease.h"
#include "cluster/etcd/watch.h"
#include "cluster/etcd_metadata.h"
#include "cluster/metadata_records.h"

namespace kaffa::cluster {

class EtcdMetadata::Impl : public std::enable_shared_from_this<Impl> {
 public:
  using Clock = std::chrono::steady_clock;
  using StartDone = std::function<void(std::optional<std::string>)>;

  explicit Impl(EtcdMetadataOptions options);

  // --- lifecycle (etcd_metadata.cc) ---
  std::optional<std::string> start(std::chrono::milliseconds timeout);
  void stop();
  void begin_start(Clock::time_point deadline, StartDone done);
  void first_load(Clock::time_point deadline, StartDone done);
  void init_cluster_id(Clock::time_point deadline, std::function<void()> next, StartDone fail);
  // Grants a lease and writes the registration; retries until `deadline` (none: forever).
  void register_broker(std::optional<Clock::time_point> deadline, StartDone done);
  void write_registration(std::optional<Clock::time_point> deadline, StartDone done);
  void session_lost(const std::string& why);
  void campaign();
  void after(std::chrono::milliseconds delay, std::function<void()> fn);
  void finish_stop(std::function<void()> done);

  // --- image (etcd_metadata_image.cc) ---
  void load(std::function<void(std::optional<etcd::Error>)> done);
  void start_watch(int64_t from_revision);
  void reload();  // after the watch ended (compaction): everything again, then watch
  void apply_kv(const etcd::KeyValue& kv);
  void apply_delete(const std::string& key);
  void publish(int64_t revision);
  ImagePtr build_image(int64_t revision) const;
  // Runs fn once the image reflects `revision`.
  void when_visible(int64_t revision, std::function<void()> fn);
  // Runs check on every new image (and now) until it returns true.
  void watch_images(std::function<bool(const MetadataImage&)> check);

  // --- topics (etcd_metadata_topics.cc) ---
  void create_topic(TopicSpec spec,
                    std::function<void(protocol::ErrorCode, std::string, TopicInfo)> done);
  void delete_topic(const std::string& name, Done done);
  void set_topic_configs(const std::string& name, ConfigChange change, Done done, int attempts);
  void add_partitions(const std::string& name, int32_t new_count,
                      std::vector<std::vector<int32_t>> assignment, Done done);
  // Writes partition records in txns of at most kTxnOps puts, each guarded by `guard`.
  void write_partitions(std::vector<std::pair<std::string, PartitionState>> records,
                        std::vector<etcd::Compare> guard, size_t from,
                        std::function<void(std::optional<std::string>)> done);
  PartitionState new_partition(const std::vector<int32_t>& replicas) const;

  // --- partitions (etcd_metadata_partitions.cc) ---
  void alter_partition(const std::string& topic, int32_t index, const PartitionState& proposed,
                       AlterPartitionDone done);
  void elect_leaders(bool unclean, std::vector<std::pair<std::string, int32_t>> partitions,
                     std::function<void(std::vector<Election>)> done);
  void controlled_shutdown(std::chrono::milliseconds timeout, std::function<void(bool)> done);
  void allocate_producer_ids(int32_t count, std::function<void(protocol::ErrorCode, int64_t)> done,
                             int attempts);
  void alter_reassignments(std::vector<Reassignment> list,
                           std::function<void(std::vector<PartitionResult>)> done);
  // One partition's change decided by `rule` from its state (ElectLeaders, reassignments): a CAS;
  // a lost race runs the rule again on the state that won, up to `attempts` times in all.
  using Rule = std::function<std::optional<PartitionState>(
      const MetadataImage&, const PartitionState&, protocol::ErrorCode*, std::string*)>;
  void change_partition(const std::string& topic, const protocol::Uuid& id, int32_t index,
                        const PartitionState& state, Rule rule, int attempts, Done done);
  // This broker's registration written again under its lease (shutting_down_, options_.self's
  // offline replicas), retried every 300 ms until `deadline`.
  void rewrite_registration(std::shared_ptr<asio::steady_timer> deadline);
  void report_offline_replicas(std::vector<std::pair<protocol::Uuid, int32_t>> replicas);
  bool is_live_broker(int32_t id) const;
  // CAS of one partition record on change.next.store_version (plus `guard`); the outcome once
  // visible in the image.
  void write_partition(const PartitionChange& change, std::vector<etcd::Compare> guard,
                       std::function<void(Controller::Outcome, PartitionState current)> done);

  // --- records shared whole (etcd_metadata_shared.cc) ---
  void update_shared(Shared which, RecordChange change, Done done, int attempts);

  // --- state ---
  EtcdMetadataOptions options_;
  records::Keys keys_;
  asio::io_context io_;
  asio::executor_work_guard<asio::io_context::executor_type> work_;
  std::thread thread_;
  std::shared_ptr<etcd::Client> client_;
  std::shared_ptr<etcd::Lease> lease_;
  std::set<int64_t> own_leases_;  // every lease this instance was granted
  std::shared_ptr<etcd::Election> election_;
  int64_t controller_create_revision_ = 0;  // of our controller key while we hold it
  std::shared_ptr<etcd::Watch> watch_;
  std::unique_ptr<Controller> controller_;
  std::function<void(ImagePtr, ImagePtr)> on_image_;
  std::function<void()> on_session_lost_;
  bool started_ = false;   // caller thread
  bool stopped_ = false;   // caller thread
  bool stopping_ = false;  // metadata thread
  bool registered_ = false;
  bool shutting_down_ = false;

  // Raw records, as of revision_.
  int64_t revision_ = 0;
  std::map<int32_t, BrokerRegistration> brokers_;
  std::map<int32_t, etcd::KeyValue> broker_kvs_;
  int32_t controller_id_ = -1;
  struct TopicRecord {
    TopicInfo info;
    int64_t mod_revision = 0;
  };
  std::map<std::string, TopicRecord, std::less<>> topics_;
  std::map<std::string, std::map<int32_t, PartitionState>> partitions_;  // by topic id (base64)
  SharedRecord acls_;
  SharedRecord scram_credentials_;
  SharedRecord client_quotas_;
  SharedRecord group_configs_;
  SharedRecord broker_configs_;

  std::multimap<int64_t, std::function<void()>> revision_waiters_;
  std::vector<std::function<bool(const MetadataImage&)>> image_waiters_;

  // Any thread.
  mutable std::mutex mu_;
  ImagePtr image_;          // guarded by mu_
  std::string cluster_id_;  // set before start() returns, then constant
  std::atomic<bool> is_controller_{false};
};

inline constexpr size_t kTxnOps = 100;  // etcd allows 128 operations per txn by default

}  // namespace kaffa::cluster
