// The broker's view of topics: names, ids, partition counts and topic configs. A single node is a
// cluster of one: every partition's leader and only replica is this node.
//
// Durable through a persistence hook (metadata_store.h), called with the whole new topic list
// under the registry's lock on every change: a change that cannot be persisted is undone and
// reported. Thread-safe: handlers on any event-loop thread read and change it; readers take a
// snapshot (TopicInfo copies), so no lock is held while a response is built.
#pragma once

#include <array>
#include <atomic>
#include <cstdint>
#include <functional>
#include <map>
#include <mutex>
#include <optional>
#include <shared_mutex>
#include <string>
#include <string_view>
#include <vector>

#include "protocol/wire.h"

namespace kaffa::cluster {

struct TopicInfo {
  std::string name;
  protocol::Uuid id;
  int32_t partitions = 0;
  int16_t replication_factor = 1;
  std::map<std::string, std::string> configs;  // only settings given at creation or altered
  bool internal = false;
};

// Kafka's rules for a topic name: 1-249 characters of [a-zA-Z0-9._-], not "." or "..".
// Returns an explanation, or nullopt when valid.
std::optional<std::string> invalid_topic_name(std::string_view name);

class TopicRegistry {
 public:
  enum class CreateResult { created, exists, collides, storage_error };
  using Persist = std::function<bool(const std::vector<TopicInfo>&, std::string* error)>;

  // Before serving: the topics found on disk, and the hook that keeps the disk up to date.
  void load(std::vector<TopicInfo> topics);
  void set_persistence(Persist persist);
  // In a cluster: the topics of a new metadata image replace all others (the store persists).
  void replace_all(std::vector<TopicInfo> topics);

  // Creates the topic with a fresh random id unless a topic of that name exists, or one whose
  // name differs only in '.' versus '_' (Kafka forbids those pairs: their metric names collide).
  CreateResult create(TopicInfo topic, TopicInfo* created = nullptr);
  // False when absent, or (with *error set) when the change could not be persisted.
  bool remove(std::string_view name, std::string* error = nullptr);
  // topic_changes.cc. Replace a topic's config overrides / raise its partition count, durably.
  // False when absent, when new_count is not larger, or (with *error) when not persisted.
  bool set_configs(std::string_view name, std::map<std::string, std::string> configs,
                   std::string* error = nullptr);
  bool add_partitions(std::string_view name, int32_t new_count, std::string* error = nullptr);
  std::optional<TopicInfo> find(std::string_view name) const;
  std::optional<TopicInfo> find(const protocol::Uuid& id) const;
  // The name of the topic with this id (an index lookup, no copy of the configs: Fetch v13+).
  std::optional<std::string> name_of(const protocol::Uuid& id) const;
  // The id and partition count of a topic, without copying its configs (group heartbeats).
  struct Shape {
    protocol::Uuid id;
    int32_t partitions = 0;
  };
  std::optional<Shape> shape_of(std::string_view name) const;
  std::vector<TopicInfo> list() const;  // sorted by name
  // The names of the topics that are not internal, sorted (no configs copied).
  std::vector<std::string> user_topic_names() const;
  // Moves on (from 1) whenever a topic is created or deleted, or the set is replaced: equal values
  // mean the same names, so a reader can keep what it derived from them (topic regexes).
  uint64_t names_version() const { return names_version_.load(std::memory_order_acquire); }
  // Would `name` collide with an existing topic ('.' vs '_')? Returns the existing name.
  std::optional<std::string> collision(std::string_view name) const;

 private:
  std::optional<std::string> collision_locked(std::string_view name) const;
  bool persist_locked(std::string* error) const;
  void reindex_locked();  // rebuilds names_by_id_ from topics_

  Persist persist_;

  mutable std::shared_mutex mu_;
  std::map<std::string, TopicInfo, std::less<>> topics_;
  std::map<std::array<uint8_t, 16>, std::string> names_by_id_;  // follows topics_
  std::atomic<uint64_t> names_version_{1};                      // moved on under mu_
};

}  // namespace kaffa::cluster
