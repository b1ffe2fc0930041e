// The cluster's metadata as one broker sees it: live brokers, topics, and each partition's
// assignment, leader, leader epoch and in-sync replicas. The etcd-backed store
// (cluster/etcd_metadata.h) publishes a new immutable MetadataImage after every change it
// watches; the replica manager and the handlers read the newest one. A single node builds an
// image of one broker leading every partition.
//
// Threading: an image is immutable once published (shared_ptr<const MetadataImage>); any thread
// may read it.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "cluster/topic_registry.h"
#include "protocol/error_codes.h"

namespace kaffa::cluster {

// One partition's replication state, as recorded in the metadata store (Kafka's
// PartitionRegistration). Every change — leader or ISR — is a compare-and-swap on the stored
// record's version, so two writers (two controllers, a stale leader) can never both win.
struct PartitionState {
  std::vector<int32_t> replicas;  // the assignment, preferred leader first
  std::vector<int32_t> isr;       // in-sync replicas (contains the leader when there is one)
  int32_t leader = -1;            // -1: no leader (offline)
  int32_t leader_epoch = 0;       // +1 at every leader change
  int32_t partition_epoch = 0;    // +1 at every change of leader or ISR
  int64_t store_version = 0;      // the etcd key's version (the CAS token); 0 on a single node
  // A reassignment in progress (KIP-455): `replicas` is then the target followed by `removing`;
  // `adding` (target brokers not in the old assignment) and `removing` (old brokers not in the
  // target) are subsets of it, ascending. Both empty otherwise.
  std::vector<int32_t> adding;
  std::vector<int32_t> removing;

  bool operator==(const PartitionState&) const = default;
  bool reassigning() const { return !adding.empty() || !removing.empty(); }
};

struct BrokerEndpoint {
  std::string listener;  // listener name, e.g. PLAINTEXT
  std::string host;      // advertised host
  int32_t port = 0;
  std::string security_protocol = "PLAINTEXT";
  bool operator==(const BrokerEndpoint&) const = default;
};

struct BrokerRegistration {
  int32_t id = -1;
  std::string rack;  // "" = none
  std::vector<BrokerEndpoint> endpoints;
  std::string inter_broker_listener;  // the listener other brokers connect to
  bool shutting_down = false;         // controlled shutdown in progress: lead nothing
  int64_t incarnation = 0;            // changes at every registration (the lease id)
  // Replicas this broker cannot serve: their log directory failed (Kafka's offline log
  // directories, KIP-858). The controller treats them as it treats a dead broker's.
  std::vector<std::pair<protocol::Uuid, int32_t>> offline_replicas;  // (topic id, partition)
  bool operator==(const BrokerRegistration&) const = default;

  bool replica_offline(const protocol::Uuid& topic_id, int32_t partition) const {
    for (const auto& [id, index] : offline_replicas) {
      if (index == partition && id == topic_id) return true;
    }
    return false;
  }

  // The endpoint of `listener`, else nullptr.
  const BrokerEndpoint* endpoint(std::string_view listener) const {
    for (const auto& e : endpoints) {
      if (e.listener == listener) return &e;
    }
    return nullptr;
  }
};

struct TopicImage {
  TopicInfo info;                          // name, id, partition count, configs
  std::vector<PartitionState> partitions;  // index = partition
};

// A record the cluster shares without reading it: the ACLs and the SCRAM credentials, in the
// security module's text formats. mod_revision 0: absent (no value).
struct SharedRecord {
  std::shared_ptr<const std::string> value;
  int64_t mod_revision = 0;
  bool operator==(const SharedRecord& o) const { return mod_revision == o.mod_revision; }
};

struct MetadataImage {
  int64_t revision = 0;  // the etcd revision this image reflects (0 on a single node)
  std::string cluster_id;
  int32_t controller_id = -1;
  std::map<int32_t, BrokerRegistration> brokers;  // live (registered) brokers
  std::map<std::string, TopicImage, std::less<>> topics;
  SharedRecord acls;               // <prefix>/acls
  SharedRecord scram_credentials;  // <prefix>/scram_credentials
  SharedRecord client_quotas;      // <prefix>/client_quotas
  SharedRecord group_configs;      // <prefix>/group_configs
  SharedRecord broker_configs;     // <prefix>/broker_configs

  const TopicImage* topic(std::string_view name) const {
    auto it = topics.find(name);
    return it == topics.end() ? nullptr : &it->second;
  }
  const PartitionState* partition(std::string_view name, int32_t index) const {
    const TopicImage* t = topic(name);
    if (t == nullptr || index < 0 || index >= static_cast<int32_t>(t->partitions.size())) {
      return nullptr;
    }
    return &t->partitions[static_cast<size_t>(index)];
  }
  const BrokerRegistration* broker(int32_t id) const {
    auto it = brokers.find(id);
    return it == brokers.end() ? nullptr : &it->second;
  }
};

using ImagePtr = std::shared_ptr<const MetadataImage>;

// A partition leader's request to change its ISR (Kafka's AlterPartition): `proposed` carries
// the leader and leader_epoch it holds and the partition_epoch/store_version it last saw; the
// store applies it only if the record is still at that version and that leader epoch. done()
// gets NONE and the state now stored, or an error (FENCED_LEADER_EPOCH, INVALID_UPDATE_VERSION,
// NOT_LEADER_OR_FOLLOWER, UNKNOWN_TOPIC_OR_PARTITION, REQUEST_TIMED_OUT) and, when known, the
// current state. Called from any thread; done() runs on the store's thread.
using AlterPartitionDone = std::function<void(protocol::ErrorCode, const PartitionState& current)>;
using AlterPartition = std::function<void(const std::string& topic, int32_t index,
                                          const PartitionState& proposed, AlterPartitionDone done)>;

}  // namespace kaffa::cluster
