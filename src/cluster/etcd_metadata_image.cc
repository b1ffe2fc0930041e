// EtcdMetadata: from records to images. The whole prefix is read once (load), then watched from
// the next revision; every batch of events updates the raw records and publishes a new image. A
// topic appears in an image only when its key and all its partition keys exist (the topic key is
// written last, so it is the commit point of a creation). A watch that falls behind compaction
// re-loads everything.
#include <asio/post.hpp>

#include "base/log.h"
#include "cluster/etcd_metadata_impl.h"

namespace kaffa::cluster {

void EtcdMetadata::Impl::load(std::function<void(std::optional<etcd::Error>)> done) {
  client_->get_prefix(keys_.root(), [this, done](etcd::Result<etcd::RangeResult> r) {
    if (stopping_) return;
    if (!r) return done(r.error());
    brokers_.clear();
    broker_kvs_.clear();
    topics_.clear();
    partitions_.clear();
    acls_ = {};
    scram_credentials_ = {};
    client_quotas_ = {};
    group_configs_ = {};
    broker_configs_ = {};
    controller_id_ = -1;
    for (const auto& kv : r->kvs) apply_kv(kv);
    publish(r->revision);
    done(std::nullopt);
  });
}

void EtcdMetadata::Impl::start_watch(int64_t from_revision) {
  if (watch_) watch_->cancel();
  watch_ = etcd::Watch::start(
      client_, etcd::WatchOptions::prefix(keys_.root(), from_revision),
      [this](const etcd::WatchBatch& batch) {
        if (stopping_) return;
        // One image per revision: a broker whose registration expired and came back (a fast
        // restart) is absent from one image, so the controller sees it go.
        for (size_t i = 0; i < batch.events.size();) {
          const int64_t revision = batch.events[i].kv.mod_revision;
          for (; i < batch.events.size() && batch.events[i].kv.mod_revision == revision; ++i) {
            const auto& e = batch.events[i];
            if (e.type == etcd::WatchEvent::Type::put) {
              apply_kv(e.kv);
            } else {
              apply_delete(e.kv.key);
            }
          }
          publish(std::max(revision, revision_));
        }
      },
      [this](const etcd::Error& e) {
        if (stopping_ || e.code == etcd::Error::Code::cancelled) return;
        log::warn("etcd metadata: watch ended ({}); reloading", e.describe());
        reload();
      });
}

void EtcdMetadata::Impl::reload() {
  load([this](std::optional<etcd::Error> err) {
    if (err) return after(std::chrono::milliseconds(500), [this] { reload(); });
    start_watch(revision_ + 1);
  });
}

void EtcdMetadata::Impl::apply_kv(const etcd::KeyValue& kv) {
  const auto ref = records::parse_key(keys_, kv.key);
  using Kind = records::KeyRef::Kind;
  switch (ref.kind) {
    case Kind::broker:
      if (auto b = records::decode_broker(kv.value)) {
        brokers_[ref.broker_id] = *b;
        broker_kvs_[ref.broker_id] = kv;
      } else {
        log::warn("etcd metadata: bad broker record {}: ignored", kv.key);
        brokers_.erase(ref.broker_id);
        broker_kvs_.erase(ref.broker_id);
      }
      break;
    case Kind::controller: {
      int32_t id = -1;
      try {
        id = std::stoi(kv.value);
      } catch (...) {
        id = -1;
      }
      controller_id_ = id;
      break;
    }
    case Kind::topic:
      if (auto t = records::decode_topic(ref.topic_name, kv.value)) {
        topics_[ref.topic_name] = TopicRecord{*t, kv.mod_revision};
      } else {
        log::warn("etcd metadata: bad topic record {}: ignored", kv.key);
        topics_.erase(ref.topic_name);
      }
      break;
    case Kind::partition:
      if (auto p = records::decode_partition(kv.value)) {
        p->store_version = kv.version;
        partitions_[ref.topic_id][ref.index] = *p;
      } else {
        // The topic stops being shown (a partition is missing) rather than showing a guess.
        log::warn("etcd metadata: bad partition record {}: ignored", kv.key);
        partitions_[ref.topic_id].erase(ref.index);
      }
      break;
    case Kind::acls:
      acls_ = {std::make_shared<const std::string>(kv.value), kv.mod_revision};
      break;
    case Kind::scram_credentials:
      scram_credentials_ = {std::make_shared<const std::string>(kv.value), kv.mod_revision};
      break;
    case Kind::client_quotas:
      client_quotas_ = {std::make_shared<const std::string>(kv.value), kv.mod_revision};
      break;
    case Kind::group_configs:
      group_configs_ = {std::make_shared<const std::string>(kv.value), kv.mod_revision};
      break;
    case Kind::broker_configs:
      broker_configs_ = {std::make_shared<const std::string>(kv.value), kv.mod_revision};
      break;
    case Kind::cluster_id:
    case Kind::producer_id_block:
    case Kind::other:
      break;
  }
}

void EtcdMetadata::Impl::apply_delete(const std::string& key) {
  const auto ref = records::parse_key(keys_, key);
  using Kind = records::KeyRef::Kind;
  switch (ref.kind) {
    case Kind::broker: {
      auto kv = broker_kvs_.find(ref.broker_id);
      const int64_t held_by = kv == broker_kvs_.end() ? 0 : kv->second.lease;
      brokers_.erase(ref.broker_id);
      broker_kvs_.erase(ref.broker_id);
      // (A registration under an older lease of ours going away is expected after a session
      // loss: only the current one matters.)
      if (ref.broker_id == options_.self.id && registered_ && !stopping_ && lease_ &&
          lease_->alive() && held_by == lease_->id()) {
        // Our registration vanished while the lease looks alive (deleted by hand, or the lease
        // expired on the server first): fenced until registered again.
        lease_->stop();
        asio::post(io_, [this] { session_lost("registration key deleted"); });
      }
      break;
    }
    case Kind::controller:
      controller_id_ = -1;
      break;
    case Kind::topic:
      topics_.erase(ref.topic_name);
      break;
    case Kind::acls:
      acls_ = {};
      break;
    case Kind::scram_credentials:
      scram_credentials_ = {};
      break;
    case Kind::client_quotas:
      client_quotas_ = {};
      break;
    case Kind::group_configs:
      group_configs_ = {};
      break;
    case Kind::broker_configs:
      broker_configs_ = {};
      break;
    case Kind::partition: {
      auto it = partitions_.find(ref.topic_id);
      if (it != partitions_.end()) {
        it->second.erase(ref.index);
        if (it->second.empty()) partitions_.erase(it);
      }
      break;
    }
    default:
      break;
  }
}

ImagePtr EtcdMetadata::Impl::build_image(int64_t revision) const {
  auto image = std::make_shared<MetadataImage>();
  image->revision = revision;
  image->cluster_id = cluster_id_;
  image->controller_id = controller_id_;
  image->brokers = brokers_;
  image->acls = acls_;
  image->scram_credentials = scram_credentials_;
  image->client_quotas = client_quotas_;
  image->group_configs = group_configs_;
  image->broker_configs = broker_configs_;
  for (const auto& [name, rec] : topics_) {
    auto parts = partitions_.find(rec.info.id.to_base64());
    if (parts == partitions_.end() && rec.info.partitions > 0) continue;
    TopicImage t;
    t.info = rec.info;
    bool complete = true;
    for (int32_t i = 0; i < rec.info.partitions && complete; ++i) {
      auto p = parts->second.find(i);
      if (p == parts->second.end()) {
        complete = false;
      } else {
        t.partitions.push_back(p->second);
      }
    }
    if (complete) image->topics.emplace(name, std::move(t));
  }
  return image;
}

void EtcdMetadata::Impl::publish(int64_t revision) {
  revision_ = revision;
  ImagePtr current = build_image(revision);
  ImagePtr previous;
  {
    std::lock_guard lock(mu_);
    previous = image_;
    image_ = current;
  }
  if (on_image_) on_image_(previous, current);
  while (!revision_waiters_.empty() && revision_waiters_.begin()->first <= revision) {
    auto fn = std::move(revision_waiters_.begin()->second);
    revision_waiters_.erase(revision_waiters_.begin());
    fn();
  }
  auto checks = std::move(image_waiters_);
  image_waiters_.clear();
  for (auto& check : checks) {
    if (!check(*current)) image_waiters_.push_back(std::move(check));
  }
  if (controller_) controller_->on_image(current);
}

void EtcdMetadata::Impl::when_visible(int64_t revision, std::function<void()> fn) {
  if (revision <= revision_) return fn();
  revision_waiters_.emplace(revision, std::move(fn));
}

void EtcdMetadata::Impl::watch_images(std::function<bool(const MetadataImage&)> check) {
  ImagePtr image;
  {
    std::lock_guard lock(mu_);
    image = image_;
  }
  if (image && check(*image)) return;
  image_waiters_.push_back(std::move(check));
}

}  // namespace kaffa::cluster
