// The cluster's metadata on etcd: this broker's registration under a lease, the controller
// election, topics and partition states as versioned records, and the MetadataImage every broker
// builds from a watch on the whole key prefix. Layout and record formats: metadata_records.h;
// the controller's rules: controller_rules.h; replica placement: replica_placement.h.
//
// Threading: one EtcdMetadata owns one thread running its own io_context (the "metadata
// thread"); the etcd client, the raw records, the controller and every callback live there.
// Public methods may be called from any thread (they post to the metadata thread), except
// start() and stop(), which block the caller and must not be called on the metadata thread.
// image() and cluster_id() are safe anywhere.
//
// Writes are made by the broker that is asked (any broker, not only the controller): every
// change of a partition record is a compare-and-swap on its etcd version, so concurrent writers
// (a controller, a leader's ISR change, an ElectLeaders request) never both win. A completion
// runs only once the change is visible in image() and on_image has run for it.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "cluster/config_catalog.h"
#include "cluster/metadata_image.h"
#include "protocol/error_codes.h"

namespace kaffa::cluster {

struct EtcdMetadataOptions {
  std::string endpoints;  // metadata.store, "etcd://h:p[,h:p...]"
  std::string prefix = "/kaffa";
  BrokerRegistration self;            // this broker: id, rack, endpoints, inter_broker_listener
  int64_t session_timeout_ms = 9000;  // lease TTL = ceil(/1000), at least 2 s
  bool unclean_leader_election = false;
  bool auto_leader_rebalance = true;
  int64_t leader_imbalance_check_interval_ms = 300000;
  std::string cluster_id_if_new;  // used only when etcd has no cluster id yet
  // etcd request deadline (added): at most this, and at most a third of the session timeout
  // (but at least 1 s), so that a lost session is noticed soon after the lease expired.
  std::chrono::milliseconds request_timeout{5000};
};

class EtcdMetadata {
 public:
  explicit EtcdMetadata(EtcdMetadataOptions options);  // owns one thread + io_context
  ~EtcdMetadata();                                     // stop() if not stopped
  EtcdMetadata(const EtcdMetadata&) = delete;
  EtcdMetadata& operator=(const EtcdMetadata&) = delete;

  // Set before start(). Run on the metadata thread after every new image (previous is null the
  // first time), in revision order, never concurrently.
  void on_image(std::function<void(ImagePtr previous, ImagePtr current)> fn);
  // Set before start(). The registration lease was lost (etcd unreachable for a session, or the
  // key deleted): this broker must consider itself fenced until re-registered. The store keeps
  // trying to register again and publishes images as usual meanwhile.
  void on_session_lost(std::function<void()> fn);

  // Blocking (broker start-up thread): connect, cluster id, register this broker under a lease,
  // load every record into the first image (on_image runs before start returns), start the
  // watch and the controller campaign. nullopt on success, else the reason. A registration of
  // the same id still alive is an error ("node.id N is already registered") once it outlived
  // its own session (a crashed predecessor's registration expires with its lease: start waits
  // for that, within `timeout`).
  std::optional<std::string> start(std::chrono::milliseconds timeout);
  // Blocking: resign the controller, revoke the lease (the broker disappears from the image at
  // once), stop the thread. Idempotent.
  void stop();

  ImagePtr image() const;  // any thread: newest image
  const std::string& cluster_id() const;

  // Writes. Any thread; done() runs on the metadata thread, and only after the change (if any)
  // is visible in image() and on_image has run for it. Calls pending at stop() (and later ones)
  // never complete.
  struct TopicSpec {
    TopicInfo info;  // name, partitions, replication_factor, configs, internal
    std::vector<std::vector<int32_t>> assignment;  // explicit, or empty: replica_placement decides
  };
  using Done = std::function<void(protocol::ErrorCode, std::string message)>;
  // TOPIC_ALREADY_EXISTS; INVALID_REPLICATION_FACTOR (more than live brokers);
  // INVALID_REPLICA_ASSIGNMENT (unknown/duplicate broker, uneven counts); REQUEST_TIMED_OUT on an
  // etcd failure. New partitions: leader = first replica that is alive, ISR = all replicas that
  // are alive, leader_epoch 0. The generated topic id goes into info.id. (Also INVALID_PARTITIONS
  // for a partition count below 1 without an assignment.)
  void create_topic(TopicSpec spec,
                    std::function<void(protocol::ErrorCode, std::string, TopicInfo)> done);
  void delete_topic(std::string name, Done done);  // UNKNOWN_TOPIC_OR_PARTITION
  // Applies `change` to the topic's stored configs (again to the newest after a lost race, so
  // that concurrent changes through different brokers all count); INVALID_CONFIG with the
  // change's message if it refuses.
  void set_topic_configs(std::string name, ConfigChange change, Done done);
  void add_partitions(std::string name, int32_t new_count,
                      std::vector<std::vector<int32_t>> assignment,
                      Done done);  // INVALID_PARTITIONS
  // The AlterPartition of metadata_image.h: CAS on store_version; also refuses when
  // proposed.leader_epoch != stored leader_epoch (FENCED_LEADER_EPOCH) or the ISR would not
  // contain the leader or would name a non-replica (INVALID_REQUEST).
  void alter_partition(const std::string& topic, int32_t index, const PartitionState& proposed,
                       AlterPartitionDone done);
  // ElectLeaders. preferred: make replicas[0] leader if it is alive and in the ISR
  // (ELECTION_NOT_NEEDED when it already leads, PREFERRED_LEADER_NOT_AVAILABLE otherwise);
  // unclean: only for a partition without leader, any alive replica
  // (ELIGIBLE_LEADERS_NOT_AVAILABLE when none, ELECTION_NOT_NEEDED when it has a leader).
  // With the empty list, as Kafka, the partitions that needed no election are left out.
  struct Election {
    std::string topic;
    int32_t partition;
    protocol::ErrorCode error;
    std::string message;
  };
  void elect_leaders(bool unclean, std::vector<std::pair<std::string, int32_t>> partitions,
                     std::function<void(std::vector<Election>)> done);  // empty list = all
  // Any thread: the broker default of unclean.leader.election.enable as it now is (the dynamic
  // broker configs change it); the controller, when this broker is it, acts on it at once.
  void set_unclean_leader_election(bool enabled);
  // AlterPartitionReassignments (KIP-455): for each entry, start (or replace) a reassignment of
  // the partition to `target`, or cancel the one in progress (`target` nullopt); the rules are
  // controller_rules.h's, and the controller completes a reassignment once the target replicas
  // are in sync. done() gets one result per entry, in order: NONE once the change is visible in
  // image() (or when nothing had to change), else UNKNOWN_TOPIC_OR_PARTITION,
  // INVALID_REPLICA_ASSIGNMENT, NO_REASSIGNMENT_IN_PROGRESS or REQUEST_TIMED_OUT, with a message.
  struct Reassignment {
    std::string topic;
    int32_t partition = 0;
    std::optional<std::vector<int32_t>> target;  // nullopt: cancel
  };
  struct PartitionResult {
    protocol::ErrorCode error = protocol::ErrorCode::none;
    std::string message;
  };
  void alter_reassignments(std::vector<Reassignment> list,
                           std::function<void(std::vector<PartitionResult>)> done);
  // Controlled shutdown: marks this broker's registration shutting_down; the controller moves
  // leadership of its partitions to other ISR members and removes it from ISRs where others
  // remain. done(true) once the image shows it leading nothing that another live ISR member could
  // lead, and in no ISR that has another live member; done(false) after `timeout`.
  void controlled_shutdown(std::chrono::milliseconds timeout, std::function<void(bool)> done);
  // Replicas whose log directory failed here (topic id, partition): added to this broker's
  // registration, so that the controller moves their leadership to other in-sync replicas and
  // takes them out of their ISRs, as for a dead broker (Kafka's offline log directories).
  void report_offline_replicas(std::vector<std::pair<protocol::Uuid, int32_t>> replicas);
  // A block of `count` producer ids, never handed out twice cluster-wide (CAS on
  // producer_id_block). done(NONE, first) or an error.
  void allocate_producer_ids(int32_t count, std::function<void(protocol::ErrorCode, int64_t)> done);

  // Read-modify-write of a record shared whole (MetadataImage::acls, ::scram_credentials).
  // change(current) gets the stored text ("" when absent) and returns the text to store, or
  // nullopt to store nothing: with *error set the update is refused (UNKNOWN_SERVER_ERROR and
  // that message), else done(NONE) once the image shows what change saw. A compare-and-swap on
  // the key's version: after a lost race or an unknown outcome the record is read again and change
  // runs again (at most kSharedAttempts times, then REQUEST_TIMED_OUT), so change must start from
  // what it is given each time. change runs on the metadata thread.
  enum class Shared { acls, scram_credentials, client_quotas, group_configs, broker_configs };
  using RecordChange =
      std::function<std::optional<std::string>(const std::string& current, std::string* error)>;
  static constexpr int kSharedAttempts = 50;
  void update_shared(Shared which, RecordChange change, Done done);

  // Added: whether this broker currently holds the controller key (any thread).
  bool is_controller() const;

  class Impl;

 private:
  std::shared_ptr<Impl> impl_;
};

}  // namespace kaffa::cluster
