#include "net/server.h"

#include <fmt/format.h>

#include <algorithm>
#include <asio/co_spawn.hpp>
#include <asio/ip/tcp.hpp>
#include <asio/post.hpp>
#include <asio/redirect_error.hpp>
#include <asio/signal_set.hpp>
#include <asio/steady_timer.hpp>
#include <asio/use_awaitable.hpp>
#include <atomic>
#include <csignal>
#include <limits>
#include <stdexcept>
#include <system_error>
#include <thread>
#include <utility>

#include "base/log.h"
#include "net/connection.h"
#include "net/server_executor.h"

namespace kaffa::net {

using asio::ip::tcp;

struct Server::Impl {
  Impl(ServerConfig c, RequestHandler& h) : config(std::move(c)), handler(h) {
    int n =
        config.threads > 0 ? config.threads : static_cast<int>(std::thread::hardware_concurrency());
    n = std::max(n, 1);
    for (int i = 0; i < n; ++i) workers.push_back(std::make_unique<detail::Worker>(i));
  }

  asio::io_context& loop0() { return workers.front()->ctx; }
  asio::awaitable<void> accept_loop(size_t listener);
  void configure(tcp::socket& socket);
  void stop_on_loop0(std::chrono::milliseconds quiet);
  static void run_loop(detail::Worker& worker);

  // Declaration order matters: connections (owned by the loops' pending work) are destroyed with
  // `workers` and still touch `stats`, so `stats` comes first; acceptors and the signal set use
  // loop 0 and go before it.
  ServerConfig config;
  RequestHandler& handler;
  ServerStats stats;
  detail::IpCounts ip_counts{config};
  detail::RequestMemory memory{config};
  detail::Shared shared{config, handler, stats, ip_counts, memory};
  std::vector<std::unique_ptr<detail::Worker>> workers;
  std::vector<std::unique_ptr<tcp::acceptor>> acceptors;
  std::vector<ListenerConfig> bound;
  std::unique_ptr<asio::signal_set> signals;
  std::vector<std::function<void()>> stop_hooks;  // Server::on_stop
  std::atomic<size_t> next_worker{0};
  std::atomic<size_t> next_post{0};
  std::atomic<uint64_t> next_connection_id{1};
  bool started = false;
  bool stopping = false;  // loop 0 only
};

Server::Impl& server_impl(Server& server) {
  return *server.impl_;
}

asio::io_context::executor_type executor(Server& server, size_t thread_index) {
  return server_impl(server).workers.at(thread_index)->ctx.get_executor();
}

namespace detail {

void Worker::add_timer(std::chrono::milliseconds delay, std::function<void()> fn,
                       bool run_on_stop) {
  if (stopping && !lingering) {
    if (run_on_stop) fn();
    return;
  }
  const uint64_t id = ++next_timer;
  auto timer = std::make_unique<asio::steady_timer>(ctx, delay);
  timer->async_wait([this, id](const asio::error_code& ec) {
    auto it = timers.find(id);
    if (ec || it == timers.end()) return;
    auto run = std::move(it->second.fn);
    timers.erase(it);
    run();
  });
  timers.emplace(id, DelayedWork{std::move(timer), std::move(fn), run_on_stop});
}

void Worker::flush_timers() {
  auto due = std::move(timers);
  timers.clear();
  for (auto& [id, entry] : due) {
    if (entry.run_on_stop) asio::post(ctx, std::move(entry.fn));
  }
  due.clear();  // destroys the timers: their waits end as cancelled and find no entry
}

void Worker::begin_stop(std::chrono::milliseconds timeout, std::chrono::milliseconds quiet,
                        std::function<void()> drained) {
  if (stopping) return;
  stopping = true;
  lingering = quiet.count() > 0;
  on_drained = std::move(drained);
  if (!lingering) flush_timers();
  std::vector<std::shared_ptr<Connection>> live;
  for (auto& [id, weak] : connections) {
    if (auto c = weak.lock()) live.push_back(std::move(c));
  }
  for (auto& c : live) c->drain(quiet);
  if (connections.empty()) return finish_drain();
  force_close.expires_after(timeout);
  force_close.async_wait([this](asio::error_code ec) {
    if (ec) return;
    log::warn("net: loop {}: closing {} connections still busy after the shutdown timeout", index,
              connections.size());
    std::vector<std::shared_ptr<Connection>> rest;
    for (auto& [id, weak] : connections) {
      if (auto c = weak.lock()) rest.push_back(std::move(c));
    }
    for (auto& c : rest) c->close_now();
    connections.clear();
    finish_drain();
  });
}

void Worker::on_connection_closed(uint64_t id) {
  connections.erase(id);
  if (stopping && connections.empty()) {
    force_close.cancel();
    finish_drain();
  }
}

IpCounts::IpCounts(const ServerConfig& config)
    : max_connections_(config.max_connections),
      per_ip_(config.max_connections_per_ip),
      overrides_(config.max_connections_per_ip_overrides) {}

void IpCounts::set_limits(int max_connections, int per_ip, std::map<std::string, int> overrides) {
  std::lock_guard lock(mu_);
  max_connections_ = max_connections;
  per_ip_ = per_ip;
  overrides_ = std::move(overrides);
}

bool IpCounts::admit(const std::string& ip, uint64_t open_total, int& limit, bool& per_ip) {
  std::lock_guard lock(mu_);
  per_ip = false;
  limit = max_connections_;
  if (open_total >= static_cast<uint64_t>(std::max(max_connections_, 0))) return false;
  if (ip.empty()) return true;
  per_ip = true;
  const auto o = overrides_.find(ip);
  limit = o != overrides_.end() ? o->second : per_ip_;
  int& open = open_[ip];
  if (open >= limit) {
    if (open == 0) open_.erase(ip);
    return false;
  }
  ++open;
  return true;
}

void IpCounts::release(const std::string& ip) {
  std::lock_guard lock(mu_);
  auto it = open_.find(ip);
  if (it != open_.end() && --it->second <= 0) open_.erase(it);
}

RequestMemory::RequestMemory(const ServerConfig& config)
    : state_(std::make_shared<State>(config.max_queued_request_bytes)) {}

std::shared_ptr<const void> RequestMemory::try_take(int64_t bytes) {
  int64_t now = state_->held.load(std::memory_order_relaxed);
  do {
    if (now >= state_->limit) return nullptr;
  } while (!state_->held.compare_exchange_weak(now, now + bytes, std::memory_order_acq_rel));
  // It points at the state (not null, so that it tests true); the deleter gives the bytes back
  // when the last copy of the share goes.
  return std::shared_ptr<const void>(
      state_.get(), [state = state_, bytes](const void*) { state->give_back(bytes); });
}

bool RequestMemory::wait(const std::shared_ptr<Connection>& conn) {
  std::lock_guard lock(state_->mu);
  if (state_->held.load(std::memory_order_acquire) < state_->limit) return false;
  state_->waiters.push_back(conn);
  return true;
}

void RequestMemory::State::give_back(int64_t bytes) {
  const int64_t before = held.fetch_sub(bytes, std::memory_order_acq_rel);
  if (before < limit || before - bytes >= limit) return;  // no room made where there was none
  std::vector<std::weak_ptr<Connection>> woken;
  {
    std::lock_guard lock(mu);
    woken.swap(waiters);
  }
  for (auto& w : woken) {
    if (auto c = w.lock()) c->memory_freed();
  }
}

void Worker::finish_drain() {
  if (std::exchange(lingering, false)) flush_timers();
  if (auto fn = std::exchange(on_drained, nullptr)) fn();
}

}  // namespace detail

namespace {

std::string endpoint_text(const tcp::endpoint& ep) {
  if (ep.address().is_v6()) return fmt::format("[{}]:{}", ep.address().to_string(), ep.port());
  return fmt::format("{}:{}", ep.address().to_string(), ep.port());
}

// Asio reports OS errors in its own category; callers of start() compare with std::errc.
std::error_code portable(const asio::error_code& ec) {
  if (ec.category() == asio::system_category()) return {ec.value(), std::system_category()};
  return ec;
}

}  // namespace

void Server::Impl::configure(tcp::socket& socket) {
  asio::error_code ec;
  socket.set_option(tcp::no_delay(true), ec);
  if (config.socket_send_buffer > 0) {
    socket.set_option(asio::socket_base::send_buffer_size(config.socket_send_buffer), ec);
  }
}

asio::awaitable<void> Server::Impl::accept_loop(size_t index) {
  tcp::acceptor& acceptor = *acceptors[index];
  const std::string& name = bound[index].name;
  while (!stopping) {
    detail::Worker& worker = *workers[next_worker.fetch_add(1) % workers.size()];
    asio::error_code ec;
    tcp::socket socket =
        co_await acceptor.async_accept(asio::any_io_executor(worker.ctx.get_executor()),
                                       asio::redirect_error(asio::use_awaitable, ec));
    if (stopping || ec == asio::error::operation_aborted) break;
    if (ec) {
      // Typically out of file descriptors: back off instead of spinning on the error.
      log::warn("net: listener {}: accept failed: {}", name, ec.message());
      asio::steady_timer pause(loop0(), std::chrono::milliseconds(100));
      co_await pause.async_wait(asio::redirect_error(asio::use_awaitable, ec));
      continue;
    }
    stats.connections_total.fetch_add(1, std::memory_order_relaxed);
    tcp::endpoint peer = socket.remote_endpoint(ec);
    std::string peer_text = ec ? std::string("?") : endpoint_text(peer);
    std::string counted_ip;
    if (!ec) {
      asio::ip::address address = peer.address();
      if (address.is_v6() && address.to_v6().is_v4_mapped()) {
        address = asio::ip::make_address_v4(asio::ip::v4_mapped, address.to_v6());
      }
      counted_ip = address.to_string();
    }
    {
      int limit = 0;
      bool per_ip = false;
      if (!ip_counts.admit(counted_ip, stats.connections_open.load(std::memory_order_relaxed),
                           limit, per_ip)) {
        if (per_ip) {
          log::info(
              "net: listener {}: refusing connection from {}: the address already has the "
              "configured maximum of {} connections",
              name, peer_text, limit);
        } else {
          log::warn("net: listener {}: refusing connection from {}: max.connections ({}) reached",
                    name, peer_text, limit);
        }
        socket.close(ec);
        continue;
      }
    }
    configure(socket);
    stats.connections_open.fetch_add(1, std::memory_order_relaxed);
    ConnectionInfo info{next_connection_id.fetch_add(1), std::move(peer_text), name, worker.index};
    std::shared_ptr<const TlsContext> tls;
    if (config.listeners[index].tls) tls = config.listeners[index].tls->current();
    auto conn = std::make_shared<detail::Connection>(shared, worker, std::move(socket),
                                                     std::move(info), std::move(tls));
    asio::post(worker.ctx, [conn = std::move(conn), ip = std::move(counted_ip)]() mutable {
      conn->start(std::move(ip));
    });
  }
}

void Server::Impl::stop_on_loop0(std::chrono::milliseconds quiet) {
  if (stopping) return;
  stopping = true;
  if (quiet.count() > 0) {
    log::info("net: stopping: no new connections; {} open are served until quiet for {} ms",
              stats.connections_open.load(), quiet.count());
  } else {
    log::info("net: stopping: no new connections; draining {} open", stats.connections_open.load());
  }
  asio::error_code ec;
  for (auto& acceptor : acceptors) acceptor->close(ec);
  if (signals) signals->cancel(ec);
  for (auto& hook : stop_hooks) hook();
  // Every loop keeps running until the last loop has drained its connections.
  auto draining = std::make_shared<std::atomic<size_t>>(workers.size());
  auto release_all = [this, draining] {
    if (draining->fetch_sub(1, std::memory_order_acq_rel) != 1) return;
    for (auto& w : workers) {
      asio::post(w->ctx, [worker = w.get()] { worker->guard.reset(); });
    }
  };
  for (auto& w : workers) {
    detail::Worker* worker = w.get();
    auto timeout = config.shutdown_timeout;
    asio::post(worker->ctx, [worker, timeout, quiet, release_all] {
      worker->begin_stop(timeout, quiet, release_all);
    });
  }
}

void Server::Impl::run_loop(detail::Worker& worker) {
  for (;;) {
    try {
      worker.ctx.run();
      return;
    } catch (const std::exception& e) {
      log::error("net: loop {}: unexpected exception: {}", worker.index, e.what());
    }
  }
}

Server::Server(ServerConfig cfg, RequestHandler& handler)
    : impl_(std::make_unique<Impl>(std::move(cfg), handler)) {}

Server::~Server() = default;

void Server::start() {
  Impl& s = *impl_;
  if (s.started) return;
  std::signal(SIGPIPE, SIG_IGN);
  for (const ListenerConfig& l : s.config.listeners) {
    asio::error_code ec;
    tcp::endpoint endpoint;
    if (l.host.empty()) {
      endpoint = tcp::endpoint(asio::ip::address_v4::any(), l.port);
    } else if (auto addr = asio::ip::make_address(l.host, ec); !ec) {
      endpoint = tcp::endpoint(addr, l.port);
    } else {
      tcp::resolver resolver(s.loop0());
      auto results = resolver.resolve(l.host, std::to_string(l.port), ec);
      if (ec || results.empty()) {
        throw std::system_error(
            portable(ec ? ec : asio::error::host_not_found),
            fmt::format("listener {}: cannot resolve host '{}'", l.name, l.host));
      }
      endpoint = results.begin()->endpoint();
    }
    auto acceptor = std::make_unique<tcp::acceptor>(s.loop0());
    const char* step = "open";
    acceptor->open(endpoint.protocol(), ec);
    if (!ec) acceptor->set_option(asio::socket_base::reuse_address(true), ec);
    if (!ec && s.config.socket_receive_buffer > 0) {
      acceptor->set_option(asio::socket_base::receive_buffer_size(s.config.socket_receive_buffer),
                           ec);
    }
    if (!ec) step = "bind", acceptor->bind(endpoint, ec);
    if (!ec) step = "listen", acceptor->listen(std::max(1, s.config.listen_backlog), ec);
    if (ec) {
      throw std::system_error(portable(ec),
                              fmt::format("listener {}: cannot {} {}:{}", l.name, step,
                                          l.host.empty() ? "0.0.0.0" : l.host, l.port));
    }
    uint16_t port = acceptor->local_endpoint().port();
    log::info("net: listener {} on {}", l.name,
              endpoint_text(tcp::endpoint(endpoint.address(), port)));
    s.bound.push_back(ListenerConfig{l.name, l.host, port});
    s.acceptors.push_back(std::move(acceptor));
  }
  s.started = true;
}

std::vector<ListenerConfig> Server::bound() const {
  return impl_->bound;
}

void Server::run() {
  Impl& s = *impl_;
  start();
  for (size_t i = 0; i < s.acceptors.size(); ++i) {
    asio::co_spawn(s.loop0(), s.accept_loop(i), [](std::exception_ptr e) {
      if (e) log::error("net: accept loop ended with an exception");
    });
  }
  std::vector<std::thread> threads;
  for (size_t i = 1; i < s.workers.size(); ++i) {
    threads.emplace_back([&s, i] { Impl::run_loop(*s.workers[i]); });
  }
  Impl::run_loop(*s.workers.front());
  for (auto& t : threads) t.join();
  log::info("net: stopped");
}

void Server::stop(std::chrono::milliseconds quiet) {
  Impl* s = impl_.get();
  asio::post(s->loop0(), [s, quiet] { s->stop_on_loop0(quiet); });
}

void Server::stop_on_signals(std::function<void()> before_stop) {
  Impl& s = *impl_;
  s.signals = std::make_unique<asio::signal_set>(s.loop0(), SIGINT, SIGTERM);
  s.signals->async_wait(
      [this, before_stop = std::move(before_stop)](const asio::error_code& ec, int signal) {
        if (ec) return;
        log::info("net: signal {} received", signal);
        if (before_stop) return before_stop();
        stop();
      });
}

int64_t Server::queued_request_bytes() const {
  return impl_->memory.held();
}

void Server::on_stop(std::function<void()> fn) {
  impl_->stop_hooks.push_back(std::move(fn));
}

void Server::set_connection_limits(int max_connections, int per_ip,
                                   std::map<std::string, int> per_ip_overrides) {
  impl_->ip_counts.set_limits(max_connections, per_ip, std::move(per_ip_overrides));
}

const ServerStats& Server::stats() const {
  return impl_->stats;
}

size_t Server::thread_count() const {
  return impl_->workers.size();
}

void Server::post(size_t thread_index, std::function<void()> fn) {
  asio::post(impl_->workers.at(thread_index)->ctx, std::move(fn));
}

void Server::post_after(size_t thread_index, std::chrono::milliseconds delay,
                        std::function<void()> fn, bool run_on_stop) {
  auto* worker = impl_->workers.at(thread_index).get();
  asio::post(worker->ctx, [worker, delay, fn = std::move(fn), run_on_stop]() mutable {
    worker->add_timer(delay, std::move(fn), run_on_stop);
  });
}

void Server::post_any(std::function<void()> fn) {
  post(impl_->next_post.fetch_add(1) % impl_->workers.size(), std::move(fn));
}

}  // namespace kaffa::net
