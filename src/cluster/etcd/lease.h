// A lease kept alive: granted with a TTL, refreshed by a keep-alive every TTL/3. The lease is
// reported lost (once, then the keeper stops) when a keep-alive finds it gone (etcd answers TTL
// 0) or when no keep-alive has succeeded for a whole TTL (it may have expired on the server:
// assume the worst). close() stops the keep-alives and revokes the lease, deleting its keys.
//
// Threading: like Client (its executor; callbacks there). Pending timers keep it alive; call
// close() or stop() to end it.
#pragma once

#include <asio/steady_timer.hpp>
#include <chrono>
#include <functional>
#include <memory>

#include "cluster/etcd/client.h"

namespace kaffa::etcd {

class Lease : public std::enable_shared_from_this<Lease> {
 public:
  using LostHandler = std::function<void(const Error&)>;

  // Grants a lease of `ttl_seconds` and starts keeping it alive; `on_lost` is called if it is
  // lost later.
  static void grant(std::shared_ptr<Client> client, int64_t ttl_seconds, LostHandler on_lost,
                    Callback<std::shared_ptr<Lease>> done);

  int64_t id() const { return id_; }
  int64_t ttl_seconds() const { return ttl_; }
  bool alive() const { return running_; }

  // Stops the keep-alives without revoking: the lease expires after its TTL (what a crashed
  // process leaves behind). on_lost is not called.
  void stop();
  // Stops and revokes. `done` gets the revoke's result (an etcd NOT_FOUND error when the lease
  // had expired already).
  void close(Callback<Done> done);

  Lease(std::shared_ptr<Client> client, int64_t id, int64_t ttl, LostHandler on_lost);

 private:
  void schedule(std::chrono::milliseconds after);
  void keep_alive();
  void lost(Error e);

  std::shared_ptr<Client> client_;
  int64_t id_;
  int64_t ttl_;
  LostHandler on_lost_;
  asio::steady_timer timer_;
  std::chrono::steady_clock::time_point last_refresh_;
  bool running_ = true;
};

}  // namespace kaffa::etcd
