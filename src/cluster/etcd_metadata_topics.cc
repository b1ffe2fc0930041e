// EtcdMetadata: topic writes. Creation writes the partition records under the new topic id in
// txns of at most kTxnOps puts, then the topic key with an "absent" compare (the commit point);
// deletion removes the topic key (commit point), then the partition records.
#include <algorithm>
#include <random>
#include <set>

#include "base/log.h"
#include "cluster/etcd_metadata_impl.h"
#include "cluster/replica_placement.h"

namespace kaffa::cluster {
namespace {

using protocol::ErrorCode;

// Explicit assignment checks: non-empty, same replica count everywhere, distinct live brokers.
std::optional<std::string> invalid_assignment(const std::vector<std::vector<int32_t>>& assignment,
                                              const std::map<int32_t, BrokerRegistration>& live) {
  if (assignment.empty()) return "empty assignment";
  const size_t rf = assignment.front().size();
  for (size_t i = 0; i < assignment.size(); ++i) {
    const auto& replicas = assignment[i];
    if (replicas.empty() || replicas.size() != rf) {
      return "partition " + std::to_string(i) + " has " + std::to_string(replicas.size()) +
             " replicas, the first has " + std::to_string(rf);
    }
    std::set<int32_t> seen;
    for (int32_t b : replicas) {
      if (!seen.insert(b).second) {
        return "partition " + std::to_string(i) + " names broker " + std::to_string(b) + " twice";
      }
      if (live.count(b) == 0) return "broker " + std::to_string(b) + " is not registered";
    }
  }
  return std::nullopt;
}

// The brokers new replicas go to: those not shutting down, unless too few of them remain.
std::vector<PlacementBroker> placement_brokers(const std::map<int32_t, BrokerRegistration>& live,
                                               int32_t replication_factor) {
  std::vector<PlacementBroker> all, staying;
  for (const auto& [id, b] : live) {
    all.push_back(PlacementBroker{id, b.rack});
    if (!b.shutting_down) staying.push_back(PlacementBroker{id, b.rack});
  }
  return static_cast<int32_t>(staying.size()) >= replication_factor ? staying : all;
}

int32_t random_start() {
  static thread_local std::mt19937 rng{std::random_device{}()};
  return static_cast<int32_t>(rng() % 1000);
}

}  // namespace

PartitionState EtcdMetadata::Impl::new_partition(const std::vector<int32_t>& replicas) const {
  PartitionState p;
  p.replicas = replicas;
  for (int32_t r : replicas) {
    if (brokers_.count(r) == 0) continue;
    p.isr.push_back(r);
    if (p.leader < 0 && is_live_broker(r)) p.leader = r;
  }
  // Only shutting-down replicas alive: one of them leads until the controller can move it.
  if (p.leader < 0 && !p.isr.empty()) p.leader = p.isr.front();
  return p;
}

void EtcdMetadata::Impl::write_partitions(
    std::vector<std::pair<std::string, PartitionState>> records, std::vector<etcd::Compare> guard,
    size_t from, std::function<void(std::optional<std::string>)> done) {
  if (from >= records.size()) return done(std::nullopt);
  etcd::TxnRequest t;
  t.compare = guard;
  const size_t end = std::min(records.size(), from + kTxnOps);
  for (size_t i = from; i < end; ++i) {
    t.success.emplace_back(
        etcd::PutRequest{records[i].first, records::encode_partition(records[i].second)});
  }
  client_->txn(std::move(t), [this, records = std::move(records), guard = std::move(guard), end,
                              done](etcd::Result<etcd::TxnResult> r) mutable {
    if (stopping_) return;
    if (!r) return done("etcd: " + r.error().describe());
    if (!r->succeeded) return done("the topic changed meanwhile");
    write_partitions(std::move(records), std::move(guard), end, done);
  });
}

void EtcdMetadata::Impl::create_topic(
    TopicSpec spec, std::function<void(protocol::ErrorCode, std::string, TopicInfo)> done) {
  TopicInfo info = std::move(spec.info);
  if (topics_.count(info.name) > 0) {
    return done(ErrorCode::topic_already_exists, "topic '" + info.name + "' already exists", info);
  }
  std::vector<std::vector<int32_t>> assignment = std::move(spec.assignment);
  if (!assignment.empty()) {
    if (auto why = invalid_assignment(assignment, brokers_)) {
      return done(ErrorCode::invalid_replica_assignment, *why, info);
    }
    info.partitions = static_cast<int32_t>(assignment.size());
    info.replication_factor = static_cast<int16_t>(assignment.front().size());
  } else {
    if (info.partitions <= 0) {
      return done(ErrorCode::invalid_partitions, "the number of partitions must be positive", info);
    }
    if (info.replication_factor <= 0 ||
        static_cast<size_t>(info.replication_factor) > brokers_.size()) {
      return done(ErrorCode::invalid_replication_factor,
                  "replication factor " + std::to_string(info.replication_factor) + " with " +
                      std::to_string(brokers_.size()) + " live brokers",
                  info);
    }
    assignment = place(info.partitions, info.replication_factor,
                       placement_brokers(brokers_, info.replication_factor), random_start());
  }
  info.id = protocol::Uuid::random();
  std::vector<std::pair<std::string, PartitionState>> records;
  for (size_t i = 0; i < assignment.size(); ++i) {
    records.emplace_back(keys_.partition(info.id, static_cast<int32_t>(i)),
                         new_partition(assignment[i]));
  }
  write_partitions(std::move(records), {}, 0, [this, info, done](std::optional<std::string> err) {
    if (err) {
      client_->delete_prefix(keys_.partitions_of(info.id), [](auto) {});
      return done(ErrorCode::request_timed_out, *err, info);
    }
    const std::string key = keys_.topic(info.name);
    etcd::TxnRequest t;
    t.compare.push_back(etcd::Compare::absent(key));
    t.success.emplace_back(etcd::PutRequest{key, records::encode_topic(info)});
    t.failure.emplace_back(etcd::RangeRequest::single(key));
    client_->txn(std::move(t), [this, info, done, key](etcd::Result<etcd::TxnResult> r) {
      if (stopping_) return;
      auto committed = [this, info, done](int64_t revision) {
        when_visible(revision, [info, done] { done(ErrorCode::none, "", info); });
      };
      auto lost = [this, info, done] {
        client_->delete_prefix(keys_.partitions_of(info.id), [](auto) {});
        done(ErrorCode::topic_already_exists, "topic '" + info.name + "' already exists", info);
      };
      if (r && r->succeeded) return committed(r->revision);
      if (r) return lost();
      // Unknown outcome (the write may have been applied): read the key to find out.
      client_->get(key, [this, info, done, committed,
                         lost](etcd::Result<std::optional<etcd::KeyValue>> g) {
        if (stopping_) return;
        if (!g || !g->has_value()) {
          return done(ErrorCode::request_timed_out, "etcd: topic creation outcome unknown", info);
        }
        auto stored = records::decode_topic(info.name, (*g)->value);
        if (stored && stored->id == info.id) return committed((*g)->mod_revision);
        lost();
      });
    });
  });
}

void EtcdMetadata::Impl::delete_topic(const std::string& name, Done done) {
  auto it = topics_.find(name);
  if (it == topics_.end()) {
    return done(ErrorCode::unknown_topic_or_partition, "unknown topic '" + name + "'");
  }
  const protocol::Uuid id = it->second.info.id;
  const std::string key = keys_.topic(name);
  etcd::TxnRequest t;
  t.compare.push_back(
      etcd::Compare::mod_revision(key, etcd::Compare::Op::equal, it->second.mod_revision));
  t.success.emplace_back(etcd::DeleteRequest{key});
  client_->txn(std::move(t), [this, name, id, key, done](etcd::Result<etcd::TxnResult> r) {
    if (stopping_) return;
    auto deleted = [this, id, done](int64_t revision) {
      client_->delete_prefix(keys_.partitions_of(id), [](auto) {});
      when_visible(revision, [done] { done(ErrorCode::none, ""); });
    };
    if (r && r->succeeded) return deleted(r->revision);
    // Changed meanwhile, or unknown outcome: look again.
    client_->range(etcd::RangeRequest::single(key), [this, name, id, done,
                                                     deleted](etcd::Result<etcd::RangeResult> g) {
      if (stopping_) return;
      if (!g) return done(ErrorCode::request_timed_out, "etcd: " + g.error().describe());
      auto stored =
          g->kvs.empty() ? std::nullopt : records::decode_topic(name, g->kvs.front().value);
      if (!stored || stored->id != id) return deleted(g->revision);
      // Still there (its configs changed meanwhile): try again.
      delete_topic(name, done);
    });
  });
}

void EtcdMetadata::Impl::set_topic_configs(const std::string& name, ConfigChange change, Done done,
                                           int attempts) {
  auto it = topics_.find(name);
  if (it == topics_.end()) {
    return done(ErrorCode::unknown_topic_or_partition, "unknown topic '" + name + "'");
  }
  TopicInfo info = it->second.info;
  if (auto why = change(info.configs)) return done(ErrorCode::invalid_config, std::move(*why));
  const std::string key = keys_.topic(name);
  const std::string value = records::encode_topic(info);
  client_->put_if_mod_revision(
      key, value, it->second.mod_revision,
      [this, name, change, done, attempts, key, value](etcd::Result<etcd::TxnResult> r) {
        if (stopping_) return;
        if (r && r->succeeded) {
          return when_visible(r->revision, [done] { done(ErrorCode::none, ""); });
        }
        if (attempts <= 1) {
          return done(ErrorCode::request_timed_out,
                      r ? "the topic kept changing" : "etcd: " + r.error().describe());
        }
        // Lost the race or unknown outcome: re-read, then try again on the newest record.
        client_->get(key, [this, name, change, done, attempts,
                           value](etcd::Result<std::optional<etcd::KeyValue>> g) {
          if (stopping_) return;
          if (g && g->has_value() && (*g)->value == value) {
            return when_visible((*g)->mod_revision, [done] { done(ErrorCode::none, ""); });
          }
          if (g && g->has_value()) {
            if (auto t = records::decode_topic(name, (*g)->value)) {
              topics_[name] = TopicRecord{*t, (*g)->mod_revision};
            }
          }
          set_topic_configs(name, change, done, attempts - 1);
        });
      });
}

void EtcdMetadata::Impl::add_partitions(const std::string& name, int32_t new_count,
                                        std::vector<std::vector<int32_t>> assignment, Done done) {
  auto it = topics_.find(name);
  if (it == topics_.end()) {
    return done(ErrorCode::unknown_topic_or_partition, "unknown topic '" + name + "'");
  }
  TopicInfo info = it->second.info;
  const int64_t mod_revision = it->second.mod_revision;
  if (new_count <= info.partitions) {
    return done(ErrorCode::invalid_partitions, "topic has " + std::to_string(info.partitions) +
                                                   " partitions, asked for " +
                                                   std::to_string(new_count));
  }
  const int32_t added = new_count - info.partitions;
  if (!assignment.empty()) {
    if (static_cast<int32_t>(assignment.size()) != added) {
      return done(ErrorCode::invalid_replica_assignment,
                  "assignment for " + std::to_string(assignment.size()) + " partitions, adding " +
                      std::to_string(added));
    }
    if (auto why = invalid_assignment(assignment, brokers_)) {
      return done(ErrorCode::invalid_replica_assignment, *why);
    }
  } else {
    if (static_cast<size_t>(info.replication_factor) > brokers_.size()) {
      return done(ErrorCode::invalid_replication_factor,
                  "replication factor " + std::to_string(info.replication_factor) + " with " +
                      std::to_string(brokers_.size()) + " live brokers");
    }
    assignment = place(added, info.replication_factor,
                       placement_brokers(brokers_, info.replication_factor), info.partitions);
  }
  std::vector<std::pair<std::string, PartitionState>> records;
  for (int32_t i = 0; i < added; ++i) {
    records.emplace_back(keys_.partition(info.id, info.partitions + i),
                         new_partition(assignment[static_cast<size_t>(i)]));
  }
  const std::string key = keys_.topic(name);
  // Every chunk is guarded by the topic record: once someone else changed the topic (added
  // partitions first), no record of a live partition can be overwritten.
  std::vector<etcd::Compare> guard{
      etcd::Compare::mod_revision(key, etcd::Compare::Op::equal, mod_revision)};
  info.partitions = new_count;
  write_partitions(
      std::move(records), guard, 0,
      [this, info, key, mod_revision, done](std::optional<std::string> err) {
        if (err) return done(ErrorCode::invalid_partitions, *err);
        client_->put_if_mod_revision(
            key, records::encode_topic(info), mod_revision,
            [this, done](etcd::Result<etcd::TxnResult> r) {
              if (stopping_) return;
              if (!r) return done(ErrorCode::request_timed_out, "etcd: " + r.error().describe());
              if (!r->succeeded) {
                return done(ErrorCode::invalid_partitions, "the topic changed meanwhile");
              }
              when_visible(r->revision, [done] { done(ErrorCode::none, ""); });
            });
      });
}

}  // namespace kaffa::cluster
