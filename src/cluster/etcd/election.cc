#include "cluster/etcd/election.h"

#include <asio/post.hpp>

namespace kaffa::etcd {

Election::Election(std::shared_ptr<Client> client, std::string key, int64_t lease_id)
    : client_(std::move(client)), key_(std::move(key)), lease_(lease_id) {}

std::shared_ptr<Election> Election::create(std::shared_ptr<Client> client, std::string key,
                                           int64_t lease_id) {
  return std::make_shared<Election>(std::move(client), std::move(key), lease_id);
}

void Election::campaign(std::string value, Callback<KeyValue> done, std::function<void()> on_lost) {
  cancel();
  value_ = std::move(value);
  done_ = std::move(done);
  on_lost_ = std::move(on_lost);
  active_ = true;
  try_acquire();
}

void Election::try_acquire() {
  TxnRequest t;
  t.compare.push_back(Compare::absent(key_));
  PutRequest p;
  p.key = key_;
  p.value = value_;
  p.lease = lease_;
  t.success.emplace_back(std::move(p));
  t.failure.emplace_back(RangeRequest::single(key_));
  client_->txn(std::move(t), [self = shared_from_this()](Result<TxnResult> r) {
    if (!self->active_) return;
    if (!r) return self->fail(r.error());
    if (r->succeeded) {
      KeyValue kv;
      kv.key = self->key_;
      kv.value = self->value_;
      kv.create_revision = kv.mod_revision = r->revision;
      kv.version = 1;
      kv.lease = self->lease_;
      return self->became_leader(std::move(kv));
    }
    const auto* range =
        r->responses.empty() ? nullptr : std::get_if<RangeResult>(&r->responses.front());
    if (!range) {
      return self->fail(Error::make(Error::Code::bad_response, "campaign txn without range"));
    }
    if (range->kvs.empty()) return self->try_acquire();  // deleted in between: try again
    const KeyValue& holder = range->kvs.front();
    if (holder.lease == self->lease_ && self->lease_ != 0) return self->became_leader(holder);
    self->wait_for_deletion(range->revision + 1);
  });
}

void Election::wait_for_deletion(int64_t from_revision) {
  WatchOptions o;
  o.key = key_;
  o.start_revision = from_revision;
  std::weak_ptr<Election> weak = shared_from_this();
  watch_ = Watch::start(
      client_, std::move(o),
      [weak](const WatchBatch& batch) {
        auto self = weak.lock();
        if (!self || !self->active_) return;
        for (const auto& e : batch.events) {
          if (e.type == WatchEvent::Type::del) {
            self->watch_->cancel();
            self->watch_.reset();
            return self->try_acquire();
          }
        }
      },
      [weak](const Error& e) {
        auto self = weak.lock();
        if (!self || !self->active_) return;
        self->watch_.reset();
        // Compacted past our revision: the key may have changed meanwhile; just ask again.
        if (e.code == Error::Code::compacted) return self->try_acquire();
        self->fail(e);
      });
}

void Election::became_leader(KeyValue kv) {
  leader_ = kv;
  WatchOptions o;
  o.key = key_;
  o.start_revision = kv.mod_revision + 1;
  std::weak_ptr<Election> weak = shared_from_this();
  watch_ = Watch::start(
      client_, std::move(o),
      [weak](const WatchBatch& batch) {
        auto self = weak.lock();
        if (!self || !self->active_ || !self->leader_) return;
        for (const auto& e : batch.events) {
          if (e.type == WatchEvent::Type::del || e.kv.lease != self->lease_) {
            self->leader_.reset();
            self->active_ = false;
            self->watch_->cancel();
            self->watch_.reset();
            if (auto lost = std::move(self->on_lost_)) lost();
            return;
          }
        }
      },
      [weak](const Error&) {
        // The watch ended (compaction or client closed): leadership can no longer be verified.
        auto self = weak.lock();
        if (!self || !self->active_ || !self->leader_) return;
        self->leader_.reset();
        self->active_ = false;
        self->watch_.reset();
        if (auto lost = std::move(self->on_lost_)) lost();
      });
  if (auto done = std::move(done_)) done(std::move(kv));
}

void Election::fail(Error e) {
  active_ = false;
  if (watch_) watch_->cancel();
  watch_.reset();
  if (auto done = std::move(done_)) done(std::move(e));
}

void Election::cancel() {
  active_ = false;
  if (watch_) watch_->cancel();
  watch_.reset();
  on_lost_ = nullptr;
  if (auto done = std::move(done_)) {
    asio::post(client_->executor(),
               [done] { done(Error::make(Error::Code::cancelled, "campaign cancelled")); });
  }
}

void Election::resign(Callback<Done> done) {
  const auto held = leader_;
  cancel();
  leader_.reset();
  if (!held) {
    asio::post(client_->executor(), [done = std::move(done)] { done(Done{}); });
    return;
  }
  TxnRequest t;
  t.compare.push_back(Compare::create_revision(key_, Compare::Op::equal, held->create_revision));
  DeleteRequest d;
  d.key = key_;
  t.success.emplace_back(std::move(d));
  client_->txn(std::move(t), [done = std::move(done)](Result<TxnResult> r) {
    if (!r) return done(r.error());
    done(Done{});
  });
}

void Election::current_leader(Callback<std::optional<KeyValue>> done) {
  client_->get(key_, std::move(done));
}

}  // namespace kaffa::etcd
