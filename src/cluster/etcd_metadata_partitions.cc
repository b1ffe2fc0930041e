// EtcdMetadata: partition writes (AlterPartition, ElectLeaders, the controller's changes), the
// controlled shutdown and producer id blocks. Every partition write is a CAS on the record's
// etcd version; an unknown outcome ("request timed out") is settled by reading the record again.
#include <algorithm>
#include <asio/steady_timer.hpp>
#include <set>

#include "base/log.h"
#include "cluster/etcd_metadata_impl.h"

namespace kaffa::cluster {
namespace {

using protocol::ErrorCode;
using Outcome = Controller::Outcome;

bool contains(const std::vector<int32_t>& v, int32_t x) {
  return std::find(v.begin(), v.end(), x) != v.end();
}

}  // namespace

void EtcdMetadata::Impl::write_partition(
    const PartitionChange& change, std::vector<etcd::Compare> guard,
    std::function<void(Outcome, PartitionState current)> done) {
  const std::string key = keys_.partition(change.topic_id, change.index);
  const int64_t expected = change.next.store_version;
  const std::string value = records::encode_partition(change.next);
  etcd::TxnRequest t;
  t.compare = std::move(guard);
  t.compare.push_back(etcd::Compare::version(key, etcd::Compare::Op::equal, expected));
  t.success.emplace_back(etcd::PutRequest{key, value});
  t.failure.emplace_back(etcd::RangeRequest::single(key));
  auto settle = [this, done, expected, value](const etcd::KeyValue* kv, bool write_failed) {
    if (kv == nullptr) return done(write_failed ? Outcome::failed : Outcome::lost_race, {});
    auto current = records::decode_partition(kv->value);
    if (!current) return done(Outcome::lost_race, {});
    current->store_version = kv->version;
    if (kv->version == expected + 1 && kv->value == value) {
      // Ours (an unknown outcome that was applied after all).
      return when_visible(kv->mod_revision,
                          [done, current = *current] { done(Outcome::applied, current); });
    }
    done(Outcome::lost_race, *current);
  };
  client_->txn(
      std::move(t), [this, key, done, expected, change, settle](etcd::Result<etcd::TxnResult> r) {
        if (stopping_) return;
        if (r && r->succeeded) {
          PartitionState stored = change.next;
          stored.store_version = expected + 1;
          return when_visible(r->revision, [done, stored] { done(Outcome::applied, stored); });
        }
        if (r) {
          const auto* range =
              r->responses.empty() ? nullptr : std::get_if<etcd::RangeResult>(&r->responses.back());
          return settle(range && !range->kvs.empty() ? &range->kvs.front() : nullptr, false);
        }
        client_->get(key, [this, done, settle](etcd::Result<std::optional<etcd::KeyValue>> g) {
          if (stopping_) return;
          if (!g) return done(Outcome::failed, {});
          settle(g->has_value() ? &**g : nullptr, true);
        });
      });
}

void EtcdMetadata::Impl::alter_partition(const std::string& topic, int32_t index,
                                         const PartitionState& proposed, AlterPartitionDone done) {
  auto t = topics_.find(topic);
  const std::map<int32_t, PartitionState>* parts = nullptr;
  if (t != topics_.end()) {
    auto p = partitions_.find(t->second.info.id.to_base64());
    if (p != partitions_.end()) parts = &p->second;
  }
  auto found = parts ? parts->find(index) : std::map<int32_t, PartitionState>::const_iterator{};
  if (parts == nullptr || found == parts->end() || index >= t->second.info.partitions) {
    return done(ErrorCode::unknown_topic_or_partition, PartitionState{});
  }
  const PartitionState& stored = found->second;
  if (proposed.leader_epoch != stored.leader_epoch) {
    return done(ErrorCode::fenced_leader_epoch, stored);
  }
  if (proposed.leader != stored.leader) return done(ErrorCode::not_leader_or_follower, stored);
  std::set<int32_t> seen;
  for (int32_t r : proposed.isr) {
    const bool added = !contains(stored.isr, r);
    if (!contains(stored.replicas, r) || !seen.insert(r).second ||
        (added &&
         (!is_live_broker(r) || brokers_.at(r).replica_offline(t->second.info.id, index)))) {
      return done(ErrorCode::invalid_request, stored);
    }
  }
  if (!contains(proposed.isr, stored.leader)) return done(ErrorCode::invalid_request, stored);
  if (proposed.store_version != stored.store_version) {
    return done(ErrorCode::invalid_update_version, stored);
  }
  if (proposed.isr == stored.isr) return done(ErrorCode::none, stored);
  PartitionChange change{topic, t->second.info.id, index, stored};
  change.next.isr = proposed.isr;
  change.next.partition_epoch = stored.partition_epoch + 1;
  const int32_t epoch = proposed.leader_epoch;
  write_partition(change, {}, [done, epoch](Outcome o, const PartitionState& current) {
    switch (o) {
      case Outcome::applied:
        return done(ErrorCode::none, current);
      case Outcome::lost_race:
        if (current.replicas.empty()) return done(ErrorCode::unknown_topic_or_partition, current);
        return done(current.leader_epoch != epoch ? ErrorCode::fenced_leader_epoch
                                                  : ErrorCode::invalid_update_version,
                    current);
      case Outcome::failed:
        return done(ErrorCode::request_timed_out, current);
    }
  });
}

bool EtcdMetadata::Impl::is_live_broker(int32_t id) const {
  auto it = brokers_.find(id);
  return it != brokers_.end() && !it->second.shutting_down;
}

void EtcdMetadata::Impl::elect_leaders(bool unclean,
                                       std::vector<std::pair<std::string, int32_t>> partitions,
                                       std::function<void(std::vector<Election>)> done) {
  ImagePtr image;
  {
    std::lock_guard lock(mu_);
    image = image_;
  }
  if (!image) return done({});
  const bool all = partitions.empty();
  if (all) {
    for (const auto& [name, topic] : image->topics) {
      for (int32_t i = 0; i < topic.info.partitions; ++i) partitions.emplace_back(name, i);
    }
  }
  auto results = std::make_shared<std::vector<Election>>();
  auto pending = std::make_shared<size_t>(partitions.size() + 1);
  auto finish = [results, pending, done, all] {
    if (--*pending > 0) return;
    if (all) {
      // Kafka leaves out the partitions that needed nothing when asked for all of them.
      std::erase_if(*results,
                    [](const Election& e) { return e.error == ErrorCode::election_not_needed; });
    }
    done(std::move(*results));
  };
  for (const auto& [name, index] : partitions) {
    const TopicImage* topic = image->topic(name);
    const PartitionState* p = image->partition(name, index);
    if (p == nullptr) {
      results->push_back({name, index, ErrorCode::unknown_topic_or_partition, "unknown partition"});
      finish();
      continue;
    }
    Rule rule = [unclean](const MetadataImage& image, const PartitionState& state, ErrorCode* error,
                          std::string*) {
      return unclean ? unclean_election(image, state, error)
                     : preferred_election(image, state, error);
    };
    change_partition(name, topic->info.id, index, *p, std::move(rule), 3,
                     [results, finish, name, index](ErrorCode error, std::string message) {
                       results->push_back({name, index, error, std::move(message)});
                       finish();
                     });
  }
  finish();
}

void EtcdMetadata::Impl::change_partition(const std::string& topic, const protocol::Uuid& id,
                                          int32_t index, const PartitionState& state, Rule rule,
                                          int attempts, Done done) {
  ImagePtr image;
  {
    std::lock_guard lock(mu_);
    image = image_;
  }
  ErrorCode error = ErrorCode::none;
  std::string message;
  auto next = rule(*image, state, &error, &message);
  if (!next) return done(error, std::move(message));
  PartitionChange change{topic, id, index, *next};
  write_partition(change, {},
                  [this, topic, id, index, rule = std::move(rule), attempts, done](
                      Outcome o, const PartitionState& current) mutable {
                    if (o == Outcome::applied) return done(ErrorCode::none, "");
                    if (o == Outcome::failed || attempts <= 1 || current.replicas.empty()) {
                      return done(ErrorCode::request_timed_out, "the change could not be written");
                    }
                    // Lost a race: the rule decides again from the state that won.
                    change_partition(topic, id, index, current, std::move(rule), attempts - 1,
                                     done);
                  });
}

void EtcdMetadata::Impl::alter_reassignments(
    std::vector<Reassignment> list, std::function<void(std::vector<PartitionResult>)> done) {
  ImagePtr image;
  {
    std::lock_guard lock(mu_);
    image = image_;
  }
  auto results = std::make_shared<std::vector<PartitionResult>>(list.size());
  auto pending = std::make_shared<size_t>(list.size() + 1);
  auto finish = [results, pending, done] {
    if (--*pending == 0) done(std::move(*results));
  };
  for (size_t i = 0; i < list.size(); ++i) {
    auto& r = list[i];
    const TopicImage* topic = image ? image->topic(r.topic) : nullptr;
    const PartitionState* p = image ? image->partition(r.topic, r.partition) : nullptr;
    if (p == nullptr) {
      (*results)[i] = {ErrorCode::unknown_topic_or_partition, "The partition does not exist."};
      finish();
      continue;
    }
    const bool unclean = unclean_election_enabled(topic->info, options_.unclean_leader_election);
    Rule rule = [target = std::move(r.target), unclean](const MetadataImage& image,
                                                        const PartitionState& state,
                                                        ErrorCode* error, std::string* message) {
      return target ? start_reassignment(image, state, *target, error, message)
                    : cancel_reassignment(image, state, unclean, error, message);
    };
    change_partition(r.topic, topic->info.id, r.partition, *p, std::move(rule), 3,
                     [results, finish, i](ErrorCode error, std::string message) {
                       (*results)[i] = {error, std::move(message)};
                       finish();
                     });
  }
  finish();
}

void EtcdMetadata::Impl::controlled_shutdown(std::chrono::milliseconds timeout,
                                             std::function<void(bool)> done) {
  shutting_down_ = true;
  auto once = std::make_shared<std::function<void(bool)>>(std::move(done));
  auto finish = [once](bool ok) {
    if (auto fn = std::exchange(*once, nullptr)) fn(ok);
  };
  auto timer = std::make_shared<asio::steady_timer>(io_, timeout);
  timer->async_wait([timer, finish](std::error_code) { finish(false); });
  rewrite_registration(timer);
  const int32_t self = options_.self.id;
  watch_images([self, finish, timer, once](const MetadataImage& image) {
    if (!*once) return true;
    const BrokerRegistration* me = image.broker(self);
    if (me == nullptr || !me->shutting_down) return false;
    for (const auto& [name, topic] : image.topics) {
      for (const auto& p : topic.partitions) {
        // Leading, or in the ISR, where another live ISR member could take over.
        if (p.leader != self && !contains(p.isr, self)) continue;
        for (int32_t r : p.isr) {
          if (r != self && is_live(image, r)) return false;
        }
      }
    }
    timer->cancel();
    finish(true);
    return true;
  });
}

void EtcdMetadata::Impl::report_offline_replicas(
    std::vector<std::pair<protocol::Uuid, int32_t>> replicas) {
  auto& known = options_.self.offline_replicas;
  for (auto& r : replicas) {
    if (std::find(known.begin(), known.end(), r) == known.end()) known.push_back(std::move(r));
  }
  // Until it is written; a lost session re-registers with it (write_registration).
  rewrite_registration(std::make_shared<asio::steady_timer>(io_, std::chrono::seconds(60)));
}

void EtcdMetadata::Impl::rewrite_registration(std::shared_ptr<asio::steady_timer> deadline) {
  if (!registered_ || !lease_) return;  // the re-registration carries the flag
  BrokerRegistration reg = options_.self;
  reg.incarnation = lease_->id();
  reg.shutting_down = shutting_down_;
  const std::string key = keys_.broker(reg.id);
  etcd::TxnRequest t;
  t.compare.push_back(etcd::Compare::lease_is(key, etcd::Compare::Op::equal, lease_->id()));
  t.success.emplace_back(etcd::PutRequest{key, records::encode_broker(reg), lease_->id()});
  client_->txn(std::move(t), [this, deadline](etcd::Result<etcd::TxnResult> r) {
    if (stopping_ || (r && r->succeeded)) return;
    if (deadline->expiry() <= std::chrono::steady_clock::now()) return;
    after(std::chrono::milliseconds(300), [this, deadline] { rewrite_registration(deadline); });
  });
}

void EtcdMetadata::Impl::allocate_producer_ids(
    int32_t count, std::function<void(protocol::ErrorCode, int64_t)> done, int attempts) {
  if (count <= 0) return done(ErrorCode::invalid_request, -1);
  const std::string key = keys_.producer_id_block();
  client_->get(
      key, [this, key, count, done, attempts](etcd::Result<std::optional<etcd::KeyValue>> g) {
        if (stopping_) return;
        auto retry = [this, count, done, attempts] {
          if (attempts <= 1) return done(ErrorCode::request_timed_out, -1);
          after(std::chrono::milliseconds(20), [this, count, done, attempts] {
            allocate_producer_ids(count, done, attempts - 1);
          });
        };
        if (!g) return retry();
        int64_t next = 0;
        int64_t version = 0;
        if (g->has_value()) {
          auto stored = records::decode_producer_id_block((*g)->value);
          if (!stored) return done(ErrorCode::unknown_server_error, -1);
          next = *stored;
          version = (*g)->version;
        }
        // A write with an unknown outcome may have taken the block: the next attempt reads again
        // and takes a later one, so ids may be skipped but never handed out twice.
        client_->put_if_version(key, records::encode_producer_id_block(next + count), version,
                                [this, next, done, retry](etcd::Result<etcd::TxnResult> r) {
                                  if (stopping_) return;
                                  if (r && r->succeeded) return done(ErrorCode::none, next);
                                  retry();
                                });
      });
}

}  // namespace kaffa::cluster
