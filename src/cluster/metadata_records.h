// The cluster metadata records on etcd: key layout and the JSON of each value. Pure encoding and
// decoding (no I/O), shared by the store (etcd_metadata.h) and its tests.
//
// Keys, under the prefix P (metadata.store.prefix, default "/kaffa"):
//   P/cluster_id                    the cluster id (Kafka's base64 UUID), plain text
//   P/brokers/<id>                  BrokerRegistration, under the broker's lease:
//       {"id":1,"rack":"r1","endpoints":[{"listener":"PLAINTEXT","host":"h","port":9092,
//        "security_protocol":"PLAINTEXT"}],"inter_broker_listener":"PLAINTEXT",
//        "shutting_down":false,"incarnation":"<lease id>"}
//   P/controller                    controller election key, value = broker id (decimal)
//   P/topics/<name>                 {"id":"<base64 uuid>","partitions":3,"replication_factor":3,
//                                    "configs":{"k":"v"},"internal":false}
//   P/partitions/<topic id>/<index> {"replicas":[1,2,3],"isr":[1,2],"leader":1,
//                                    "leader_epoch":4,"partition_epoch":9}
//                                   while a reassignment is in progress also
//                                   "adding":[4],"removing":[1] (subsets of replicas)
//   P/producer_id_block             {"next":"<first free producer id>"}
//   P/acls                          every ACL binding, in the ACL store's text (security/acl.h)
//   P/scram_credentials             every SCRAM credential, in the credential store's text
//                                   (security/scram.h); both read and written whole
//   P/client_quotas                 every client quota, in broker/client_quotas.h's text (whole)
//   P/group_configs                 every group's configs, in coordinator/group_configs.h's text
//   P/broker_configs                the cluster-wide dynamic broker configs (the broker resource
//                                   ""), in broker/tls_config.h's dynamic-configs text
// A partition's store_version is its key's etcd version (not in the JSON). 64-bit numbers are
// written as decimal strings (as etcd's gateway does), 32-bit ones as JSON numbers.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "cluster/metadata_image.h"

namespace kaffa::cluster::records {

struct Keys {
  std::string prefix;  // without trailing '/'

  std::string root() const { return prefix + "/"; }
  std::string cluster_id() const { return prefix + "/cluster_id"; }
  std::string controller() const { return prefix + "/controller"; }
  std::string producer_id_block() const { return prefix + "/producer_id_block"; }
  std::string acls() const { return prefix + "/acls"; }
  std::string scram_credentials() const { return prefix + "/scram_credentials"; }
  std::string client_quotas() const { return prefix + "/client_quotas"; }
  std::string group_configs() const { return prefix + "/group_configs"; }
  std::string broker_configs() const { return prefix + "/broker_configs"; }
  std::string brokers() const { return prefix + "/brokers/"; }
  std::string broker(int32_t id) const { return brokers() + std::to_string(id); }
  std::string topics() const { return prefix + "/topics/"; }
  std::string topic(std::string_view name) const { return topics() + std::string(name); }
  std::string partitions() const { return prefix + "/partitions/"; }
  std::string partitions_of(const protocol::Uuid& topic_id) const {
    return partitions() + topic_id.to_base64() + "/";
  }
  std::string partition(const protocol::Uuid& topic_id, int32_t index) const {
    return partitions_of(topic_id) + std::to_string(index);
  }
};

// What a key (with the prefix) names.
struct KeyRef {
  enum class Kind {
    cluster_id,
    controller,
    producer_id_block,
    acls,
    scram_credentials,
    client_quotas,
    group_configs,
    broker_configs,
    broker,
    topic,
    partition,
    other
  };
  Kind kind = Kind::other;
  int32_t broker_id = -1;
  std::string topic_name;  // for topic
  std::string topic_id;    // for partition: the id's base64 text
  int32_t index = -1;      // for partition
};
KeyRef parse_key(const Keys& keys, std::string_view key);

// The topic record: TopicInfo without the partition states.
std::string encode_topic(const TopicInfo& t);
std::optional<TopicInfo> decode_topic(std::string_view name, std::string_view json);

std::string encode_partition(const PartitionState& p);
// store_version is left 0: the caller sets it from the key's version.
std::optional<PartitionState> decode_partition(std::string_view json);

std::string encode_broker(const BrokerRegistration& b);
std::optional<BrokerRegistration> decode_broker(std::string_view json);

std::string encode_producer_id_block(int64_t next);
std::optional<int64_t> decode_producer_id_block(std::string_view json);

// Kafka's URL-safe unpadded base64 of a UUID (Uuid::to_base64) back to the UUID.
std::optional<protocol::Uuid> uuid_from_base64(std::string_view text);

}  // namespace kaffa::cluster::records
