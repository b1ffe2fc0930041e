// The Kafka-protocol TCP server: listeners, connections, framing, in-order responses.
//
// Threads: Server owns `threads` event loops, one per thread ("one executor per core"). Listeners
// accept on loop 0 and hand each new connection to the next loop round-robin; a connection then
// lives on that loop for its whole life, so its state needs no lock. The broker sees a connection
// only through RequestHandler::handle() (called on the connection's loop, in request order) and
// the Completion it gets with each request (usable from any thread).
//
// This header deliberately includes no Asio, so that broker code compiles fast. Code that needs
// the loops' executors includes net/server_executor.h.
#pragma once

#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <limits>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "net/frame.h"
#include "net/tls.h"

namespace kaffa::net {

namespace detail {
class Connection;
}

struct ConnectionInfo {
  uint64_t id = 0;            // unique in this process
  std::string peer;           // "host:port" of the client
  std::string listener_name;  // ListenerConfig::name of the listener that accepted it
  size_t thread_index = 0;    // the event loop (Server::post index) the connection lives on
  // On a TLS listener: the subject (RFC 2253 form, e.g. "CN=alice,O=Acme") of the client's
  // certificate once the handshake verified it; empty without TLS or without a client certificate.
  std::string tls_peer_subject;
  // The request handler's own per-connection state (e.g. SASL progress and the authenticated
  // principal), created by it on first use. Touched only on the connection's loop thread, where
  // handle() runs in request order; released with the connection.
  mutable std::shared_ptr<void> handler_state;
};

// The answer to one request. Move-only. Exactly one of send()/none()/close() must be called,
// once, from any thread; the effect is applied on the connection's loop. Destroying a Completion
// without a call is treated as close() and logged, so that a bug cannot leave a client hanging.
// If the connection has already closed (or the server stopped), a call is a no-op.
class Completion {
 public:
  Completion() = default;  // an empty completion: every call is a no-op
  Completion(Completion&& other) noexcept;
  Completion& operator=(Completion&& other) noexcept;
  Completion(const Completion&) = delete;
  Completion& operator=(const Completion&) = delete;
  ~Completion();

  // Queues the response; it leaves after the responses of all earlier requests.
  void send(ResponseFrame frame);
  // Queues the response, then closes the connection once it is written (as close()).
  void send_and_close(ResponseFrame frame);
  // This request gets no response (produce with acks=0); later responses still flow.
  void none();
  // Writes the responses of all earlier requests, then closes the connection. Responses of later
  // requests are dropped; no further request is read.
  void close();

  // True until one of the calls above has been made.
  bool pending() const { return pending_; }

 private:
  friend class detail::Connection;
  Completion(std::weak_ptr<detail::Connection> conn, uint64_t sequence)
      : conn_(std::move(conn)), sequence_(sequence), pending_(true) {}
  void finish(int outcome, ResponseFrame* frame);

  std::weak_ptr<detail::Connection> conn_;
  uint64_t sequence_ = 0;
  bool pending_ = false;
  bool used_ = false;
};

// Implemented by the broker.
class RequestHandler {
 public:
  virtual ~RequestHandler() = default;
  // Called on the connection's loop thread, in request order (except for requests deferred by
  // waits_for_earlier). Must not block. An exception escaping it closes the connection.
  virtual void handle(const ConnectionInfo& conn, RequestFrame frame, Completion done) = 0;
  // On the connection's loop thread, once a request has been read. True defers its handle() until
  // every earlier request of the connection has been answered: the answer then reflects their
  // outcome and is computed when it is about to leave, not when the request arrived. Later
  // requests are not held behind it (their responses still leave in order). Must not block.
  virtual bool waits_for_earlier(std::string_view /*frame*/) const { return false; }
  // On a TLS listener, on the connection's loop thread: the handshake has completed (with
  // `conn.tls_peer_subject` set when the client presented a verified certificate), before any
  // request is read. Must not block. False closes the connection (e.g. no principal for it).
  virtual bool on_tls_established(const ConnectionInfo& /*conn*/) { return true; }
};

struct ListenerConfig {
  std::string name;
  std::string host;   // address or host name; empty = all IPv4 interfaces
  uint16_t port = 0;  // 0 = any free port (see Server::bound())
  // Set: a TLS listener. Each new connection takes the slot's current context and completes the
  // TLS handshake before any request is read.
  std::shared_ptr<TlsContextSlot> tls;
};

struct ServerConfig {
  std::vector<ListenerConfig> listeners;
  int32_t max_request_bytes = 104857600;           // socket.request.max.bytes
  int max_inflight_per_connection = 64;            // back-pressure: stop reading beyond this
  std::chrono::milliseconds idle_timeout{600000};  // connections.max.idle.ms
  int max_connections = 100000;                    // max.connections (refused beyond: accept+close)
  // max.connections.per.ip and max.connections.per.ip.overrides (by address, as
  // asio::ip::address::to_string writes it; IPv4-mapped IPv6 addresses count as IPv4): beyond
  // them a new connection from that address is closed at once.
  int max_connections_per_ip = std::numeric_limits<int>::max();
  std::map<std::string, int> max_connections_per_ip_overrides;
  int threads = 0;  // 0 = std::thread::hardware_concurrency()
  // queued.max.request.bytes: the request bytes read and held by requests not yet handled
  // (RequestFrame::memory), over all connections; a connection reads no further request while
  // they are at or above it (as Kafka, a request is read whenever any room is left, even if it
  // is larger). <= 0: no bound.
  int64_t max_queued_request_bytes = -1;
  // socket.send.buffer.bytes / socket.receive.buffer.bytes: SO_SNDBUF / SO_RCVBUF of each
  // accepted connection (the receive size is set on the listening socket, before listen(), so
  // that the window scale offered in the handshake fits it); <= 0 leaves them to the kernel.
  int socket_send_buffer = -1;
  int socket_receive_buffer = -1;
  int listen_backlog = 50;                            // socket.listen.backlog.size
  std::chrono::milliseconds shutdown_timeout{10000};  // stop(): longest wait for in-flight work
  std::chrono::milliseconds tls_handshake_timeout{10000};  // TLS listeners: then the peer is cut
};

// Monotonic counters, except connections_open. Read with relaxed loads from any thread.
struct ServerStats {
  std::atomic<uint64_t> connections_open{0};
  std::atomic<uint64_t> connections_total{0};  // accepted, including refused ones
  std::atomic<uint64_t> requests{0};           // request frames handed to the handler
  std::atomic<uint64_t> bytes_in{0};
  std::atomic<uint64_t> bytes_out{0};       // all response bytes, sendfile() bytes included
  std::atomic<uint64_t> bytes_sendfile{0};  // the part of bytes_out sent with (SSL_)sendfile()
  std::atomic<uint64_t> tls_handshakes_failed{0};  // TLS listeners: failed or timed out
  std::atomic<uint64_t> frames_rejected{0};        // size < 0 or > max_request_bytes
  std::atomic<uint64_t> request_memory_waits{0};   // reads that waited for request memory
};

// Lifecycle: construct -> start() -> run() (blocks) ... stop() from anywhere -> run() returns.
// The handler must outlive the Server. A Server runs once.
class Server {
 public:
  Server(ServerConfig cfg, RequestHandler& handler);
  ~Server();
  Server(const Server&) = delete;
  Server& operator=(const Server&) = delete;

  // Binds and listens on every listener; ignores SIGPIPE process-wide. Throws std::system_error
  // naming the listener and address on failure (e.g. port in use). Call once, before run().
  void start();

  // Bound endpoints (port resolved when configured as 0), in the order of cfg.listeners.
  std::vector<ListenerConfig> bound() const;

  // Any thread: new connection limits (max.connections, max.connections.per.ip and its
  // overrides, as in ServerConfig) for connections accepted from now on; open ones stay.
  void set_connection_limits(int max_connections, int per_ip,
                             std::map<std::string, int> per_ip_overrides);

  // Runs the event loops (the calling thread runs loop 0) until stop() has completed, then joins
  // every thread it started. Calls start() first if needed.
  void run();

  // Graceful stop, callable from any thread, any number of times (the first call decides): stop
  // accepting, stop reading new requests, let in-flight requests complete and their responses be
  // written (at most cfg.shutdown_timeout, then connections are closed regardless), close
  // connections, and make run() return.
  // With `quiet` > 0, a connection instead goes on being served until it has been quiet that
  // long (no bytes either way, nothing in flight), so that its client learns of the stop from
  // answers (a broker that handed its leaderships over answers NOT_LEADER_OR_FOLLOWER) rather
  // than from a closed socket with requests unanswered. Delayed work (post_after) runs at its
  // time meanwhile. Still bounded by cfg.shutdown_timeout.
  void stop(std::chrono::milliseconds quiet = std::chrono::milliseconds(0));

  // Makes SIGINT and SIGTERM call stop() (handled on loop 0 via a signal set), or, when given,
  // before_stop() instead, which calls stop() itself when ready (a broker in a cluster first
  // hands its leaderships over). Call before run().
  void stop_on_signals(std::function<void()> before_stop = {});

  // Runs fn on loop 0 when stop() takes effect, before the connections start draining (e.g. the
  // admin listener reports not-ready, then closes). Call before run().
  void on_stop(std::function<void()> fn);

  const ServerStats& stats() const;
  // Request bytes held against cfg.max_queued_request_bytes (0 without a budget).
  int64_t queued_request_bytes() const;

  // Number of event loops, and a way to run work on one of them (thread_index < thread_count())
  // or, with post_any(), on the next one round-robin. Usable from any thread once constructed.
  size_t thread_count() const;
  void post(size_t thread_index, std::function<void()> fn);
  void post_any(std::function<void()> fn);
  // Runs fn on loop `thread_index` after `delay`. When the server stops first, fn runs at once if
  // `run_on_stop` (work waiting on it, like a parked fetch, then finishes during the drain) and
  // is dropped otherwise. Not cancellable: a callback that may have become moot checks that
  // itself.
  void post_after(size_t thread_index, std::chrono::milliseconds delay, std::function<void()> fn,
                  bool run_on_stop = true);

  struct Impl;

 private:
  std::unique_ptr<Impl> impl_;
  friend Impl& server_impl(Server& server);
};

}  // namespace kaffa::net
