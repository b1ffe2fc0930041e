// Topic changes for the admin handlers: on a single node straight into the registry and the
// partition manager (at once, on the calling thread), in a cluster through the metadata store
// (done() on the store's thread once the change is in this broker's image; the replica manager
// creates or removes the logs as the image assigns them).
#include "base/log.h"
#include "broker/broker.h"
#include "cluster/etcd_metadata.h"

namespace kaffa::broker {
namespace {

using protocol::ErrorCode;

Broker::TopicResult failed(ErrorCode e, std::string message) {
  Broker::TopicResult r;
  r.error = e;
  r.message = std::move(message);
  return r;
}

}  // namespace

ErrorCode Broker::no_replica_error(std::string_view topic, int32_t partition) const {
  const auto info = topics_.find(topic);
  if (!clustered()) {
    // A partition of a topic known here that has no log: it is in a log directory that was
    // offline at start-up (PartitionManager::start_offline).
    const bool known = info && partition >= 0 && partition < info->partitions;
    return known && partitions_->some_log_dir_offline() ? ErrorCode::kafka_storage_error
                                                        : ErrorCode::unknown_topic_or_partition;
  }
  return info && partition >= 0 && partition < info->partitions
             ? ErrorCode::not_leader_or_follower
             : ErrorCode::unknown_topic_or_partition;
}

void Broker::create_topic_async(cluster::TopicInfo topic,
                                std::vector<std::vector<int32_t>> assignment, TopicDone done) {
  const std::string name = topic.name;
  if (metadata_) {
    // The store knows nothing of Kafka's '.' / '_' rule: checked here (the registry does it
    // on a single node).
    if (auto other = topics_.collision(name); other && *other != name) {
      return done(failed(ErrorCode::invalid_topic_exception,
                         "Topic '" + name + "' collides with existing topic: " + *other));
    }
    cluster::EtcdMetadata::TopicSpec spec{std::move(topic), std::move(assignment)};
    return metadata_->create_topic(
        std::move(spec),
        [done = std::move(done)](ErrorCode e, std::string message, cluster::TopicInfo created) {
          TopicResult r;
          r.error = e;
          r.message = std::move(message);
          r.topic = std::move(created);
          done(std::move(r));
        });
  }
  cluster::TopicInfo created;
  std::string why;
  switch (create_topic(std::move(topic), &created, &why)) {
    case cluster::TopicRegistry::CreateResult::created: {
      TopicResult r;
      r.topic = std::move(created);
      return done(std::move(r));
    }
    case cluster::TopicRegistry::CreateResult::exists:
      return done(failed(ErrorCode::topic_already_exists, "Topic '" + name + "' already exists."));
    case cluster::TopicRegistry::CreateResult::collides:
      return done(failed(ErrorCode::invalid_topic_exception,
                         "Topic '" + name + "' collides with another."));
    case cluster::TopicRegistry::CreateResult::storage_error:
      return done(failed(why.find("marked for deletion") != std::string::npos
                             ? ErrorCode::topic_already_exists
                             : ErrorCode::kafka_storage_error,
                         why));
  }
}

void Broker::delete_topic_async(const std::string& name, TopicDone done) {
  if (metadata_) {
    return metadata_->delete_topic(name, [done = std::move(done)](ErrorCode e, std::string why) {
      done(failed(e, std::move(why)));
    });
  }
  std::string why;
  if (!delete_topic(name, &why)) {
    return done(why.empty() ? failed(ErrorCode::unknown_topic_or_partition, {})
                            : failed(ErrorCode::kafka_storage_error, why));
  }
  done(TopicResult{});
}

void Broker::add_partitions_async(const cluster::TopicInfo& topic, int32_t count,
                                  std::vector<std::vector<int32_t>> assignment, TopicDone done) {
  if (metadata_) {
    return metadata_->add_partitions(topic.name, count, std::move(assignment),
                                     [done = std::move(done)](ErrorCode e, std::string why) {
                                       done(failed(e, std::move(why)));
                                     });
  }
  // Records the new count durably, then creates the partitions' logs.
  std::string error;
  if (!topics_.add_partitions(topic.name, count, &error)) {
    if (error.empty()) {  // deleted or grown meanwhile
      return done(failed(ErrorCode::invalid_partitions,
                         "The partition count of " + topic.name + " changed meanwhile."));
    }
    return done(failed(ErrorCode::kafka_storage_error, error));
  }
  auto updated = topics_.find(topic.name);
  if (!updated) {
    return done(failed(ErrorCode::unknown_topic_or_partition,
                       "This server does not host this topic-partition."));
  }
  if (!partitions_->add_partitions(*updated, topic.partitions, &error)) {
    log::error("cannot create new partitions of topic {}: {}", topic.name, error);
    return done(failed(ErrorCode::kafka_storage_error, error));
  }
  done(TopicResult{});
}

void Broker::set_topic_configs_async(const std::string& name, cluster::ConfigChange change,
                                     TopicDone done) {
  if (metadata_) {
    return metadata_->set_topic_configs(name, std::move(change),
                                        [done = std::move(done)](ErrorCode e, std::string why) {
                                          done(failed(e, std::move(why)));
                                        });
  }
  const auto topic = topics_.find(name);
  if (!topic) {
    return done(failed(ErrorCode::unknown_topic_or_partition,
                       "This server does not host this topic-partition."));
  }
  auto configs = topic->configs;
  if (auto why = change(configs)) return done(failed(ErrorCode::invalid_config, std::move(*why)));
  std::string error;
  if (!topics_.set_configs(name, std::move(configs), &error)) {
    return done(error.empty() ? failed(ErrorCode::unknown_topic_or_partition,
                                       "This server does not host this topic-partition.")
                              : failed(ErrorCode::kafka_storage_error, error));
  }
  if (auto updated = topics_.find(name)) partitions_->update_topic_config(*updated);
  done(TopicResult{});
}

}  // namespace kaffa::broker
