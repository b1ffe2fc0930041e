#include "cluster/etcd/lease.h"

#include <fmt/format.h>

#include <algorithm>

namespace kaffa::etcd {

Lease::Lease(std::shared_ptr<Client> client, int64_t id, int64_t ttl, LostHandler on_lost)
    : client_(std::move(client)),
      id_(id),
      ttl_(ttl),
      on_lost_(std::move(on_lost)),
      timer_(client_->executor()),
      last_refresh_(std::chrono::steady_clock::now()) {}

void Lease::grant(std::shared_ptr<Client> client, int64_t ttl_seconds, LostHandler on_lost,
                  Callback<std::shared_ptr<Lease>> done) {
  auto c = client;
  c->lease_grant(ttl_seconds, [client = std::move(client), on_lost = std::move(on_lost),
                               done = std::move(done)](Result<LeaseGrant> r) mutable {
    if (!r) return done(r.error());
    auto lease = std::make_shared<Lease>(std::move(client), r->id, r->ttl, std::move(on_lost));
    lease->schedule(std::chrono::milliseconds(std::max<int64_t>(r->ttl * 1000 / 3, 100)));
    done(lease);
  });
}

void Lease::schedule(std::chrono::milliseconds after) {
  timer_.expires_after(after);
  timer_.async_wait([self = shared_from_this()](std::error_code ec) {
    if (ec || !self->running_) return;
    self->keep_alive();
  });
}

void Lease::keep_alive() {
  const auto sent_at = std::chrono::steady_clock::now();
  client_->lease_keep_alive_once(id_, [self = shared_from_this(), sent_at](Result<int64_t> r) {
    if (!self->running_) return;
    const std::chrono::milliseconds ttl_ms(self->ttl_ * 1000);
    if (r && *r > 0) {
      // The server's clock restarted the TTL at some point after sent_at.
      self->last_refresh_ = sent_at;
      return self->schedule(std::max(ttl_ms / 3, std::chrono::milliseconds(100)));
    }
    if (r) {
      return self->lost(Error::make(Error::Code::lease_lost,
                                    fmt::format("lease {:x} expired or was revoked", self->id_)));
    }
    if (r.error().code == Error::Code::cancelled) {
      self->running_ = false;
      return;
    }
    const auto since = std::chrono::steady_clock::now() - self->last_refresh_;
    if (since >= ttl_ms) {
      return self->lost(Error::make(Error::Code::lease_lost,
                                    fmt::format("lease {:x} not refreshed within its TTL: {}",
                                                self->id_, r.error().describe())));
    }
    // Retry soon, but not in a tight loop.
    self->schedule(std::max(ttl_ms / 10, std::chrono::milliseconds(100)));
  });
}

void Lease::lost(Error e) {
  running_ = false;
  timer_.cancel();
  if (auto handler = std::move(on_lost_)) handler(e);
}

void Lease::stop() {
  running_ = false;
  timer_.cancel();
  on_lost_ = nullptr;
}

void Lease::close(Callback<Done> done) {
  stop();
  client_->lease_revoke(id_, std::move(done));
}

}  // namespace kaffa::etcd
