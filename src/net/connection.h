// Internal to kaffa_net: one client connection and the event loop ("worker") it lives on.
//
// A Connection is created by the acceptor, then started on its worker's loop; from then on every
// member is touched only on that loop's thread. Three coroutines run per connection:
//   reader   - on a TLS listener first completes the handshake (connection_tls.cc), then reads
//              frames, hands them to the handler (or defers one until the earlier requests
//              are answered, see RequestHandler::waits_for_earlier), applies back-pressure;
//   writer   - writes ready responses strictly in request order (writev, sendfile for splices;
//              on TLS: records encrypted by OpenSSL, splices read with pread and encrypted);
//   watchdog - closes the connection after idle_timeout without traffic or work in flight (or,
//              during a stop with a quiet period, after that period).
// Each coroutine holds a shared_ptr to the connection, so it is destroyed when the last of them
// has finished. Completions hold only a weak_ptr and post their outcome to the loop.
#pragma once

#include <asio/awaitable.hpp>
#include <asio/buffer.hpp>
#include <asio/io_context.hpp>
#include <asio/ip/tcp.hpp>
#include <asio/steady_timer.hpp>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

#include "bytes/buffer_pool.h"
#include "net/server.h"
#include "net/tls.h"

namespace kaffa::net::detail {

// What the Completion said about a request.
enum class Outcome : int { waiting = 0, send = 1, none = 2, close = 3, send_close = 4 };

class Connection;

// One event loop and the connections living on it. Members other than `ctx` and `index` are
// touched only on the loop's thread.
struct Worker {
  explicit Worker(size_t i) : index(i), guard(asio::make_work_guard(ctx)), force_close(ctx) {}

  asio::io_context ctx{1};
  size_t index;
  std::optional<asio::executor_work_guard<asio::io_context::executor_type>> guard;
  std::unordered_map<uint64_t, std::weak_ptr<Connection>> connections;
  bool stopping = false;
  bool lingering = false;  // stopping, but connections are served until quiet (Server::stop)
  asio::steady_timer force_close;
  // Delayed work of Server::post_after, run early when the loop stops so that what waits on it
  // (parked fetches) completes during the drain instead of holding the loop open.
  struct DelayedWork {
    std::unique_ptr<asio::steady_timer> timer;
    std::function<void()> fn;
    bool run_on_stop;
  };
  std::map<uint64_t, DelayedWork> timers;
  uint64_t next_timer = 0;

  void add_timer(std::chrono::milliseconds delay, std::function<void()> fn, bool run_on_stop);
  // Runs the run_on_stop timers' work now (posted) and drops the others.
  void flush_timers();

  // Stop on this loop: drain every connection (`quiet`: see Connection::drain) and force-close
  // them after `timeout`. Once the last one has gone the loop calls `drained` (once); the server
  // then lets every loop run out of work together, when all of them are drained: until then
  // another loop's requests may still post work here (a partition's append, a fetch's read),
  // which must run.
  void begin_stop(std::chrono::milliseconds timeout, std::chrono::milliseconds quiet,
                  std::function<void()> drained);
  void on_connection_closed(uint64_t id);
  std::function<void()> on_drained;  // set by begin_stop; called by finish_drain
  void finish_drain();
};

// Open connections per client address (always counted: the limits may change while the server
// runs) and the limits: the per-address one and the server-wide max.connections.
class IpCounts {
 public:
  explicit IpCounts(const ServerConfig& config);
  // Counts a new connection from `ip` (empty: an address that could not be read, counted only
  // against max.connections); false (nothing counted) if it is over a limit, which `limit` then
  // holds and `per_ip` says which.
  bool admit(const std::string& ip, uint64_t open_total, int& limit, bool& per_ip);
  void release(const std::string& ip);
  void set_limits(int max_connections, int per_ip, std::map<std::string, int> overrides);

 private:
  std::mutex mu_;
  int max_connections_;
  int per_ip_;
  std::map<std::string, int> overrides_;
  std::unordered_map<std::string, int> open_;
};

// The request memory budget (ServerConfig::max_queued_request_bytes), over every loop. Its state
// is shared with the shares handed out, which may outlive the server (a handler's last copy).
class RequestMemory {
 public:
  explicit RequestMemory(const ServerConfig& config);
  bool enabled() const { return state_->limit > 0; }
  int64_t held() const { return state_->held.load(std::memory_order_relaxed); }
  // A share of `bytes` (RequestFrame::memory) if the amount held is below the limit (it may then
  // go over by this request, as in Kafka), else null.
  std::shared_ptr<const void> try_take(int64_t bytes);
  // Has `conn`'s reader woken (Connection::memory_freed) once the amount held falls below the
  // limit; false, registering nothing, if it is below already.
  bool wait(const std::shared_ptr<Connection>& conn);

 private:
  struct State {
    explicit State(int64_t l) : limit(l) {}
    void give_back(int64_t bytes);

    const int64_t limit;
    std::atomic<int64_t> held{0};
    std::mutex mu;
    std::vector<std::weak_ptr<Connection>> waiters;
  };
  std::shared_ptr<State> state_;
};

// What every connection shares with the server; outlives all connections.
struct Shared {
  const ServerConfig& config;
  RequestHandler& handler;
  ServerStats& stats;
  IpCounts& ip_counts;
  RequestMemory& memory;
};

class Connection : public std::enable_shared_from_this<Connection> {
 public:
  // `tls`: set on a TLS listener (the listener's context when the connection was accepted).
  Connection(Shared& shared, Worker& worker, asio::ip::tcp::socket socket, ConnectionInfo info,
             std::shared_ptr<const TlsContext> tls);
  ~Connection();

  // On the worker's loop: register with the worker and spawn the coroutines. `counted_ip`: the
  // address this connection counts against in Shared::ip_counts (empty: not counted).
  void start(std::string counted_ip = {});
  // On the worker's loop: stop reading requests; close once in-flight work is written. With
  // `quiet` > 0: go on reading and answering, and close once the connection has been quiet that
  // long (nothing read or written, nothing in flight).
  void drain(std::chrono::milliseconds quiet);
  // On the worker's loop: close the socket now, dropping unwritten responses. Idempotent.
  void close_now();

  // From any thread: request memory was freed; the reader, if it waits for some, tries again.
  void memory_freed();

  // From any thread: apply a Completion's outcome (on the loop).
  static void deliver(std::shared_ptr<Connection> self, uint64_t sequence, Outcome outcome,
                      ResponseFrame* frame);

 private:
  struct Slot {
    Outcome outcome = Outcome::waiting;
    ResponseFrame frame;
    bool deferred = false;  // `request` waits for the earlier requests' answers
    bytes::Buffer request;
    std::chrono::steady_clock::time_point received;  // of a deferred request
    std::shared_ptr<const void> memory;              // of a deferred request
  };

  // `self` lives in each coroutine's frame and keeps the connection alive while it runs.
  asio::awaitable<void> read_loop(std::shared_ptr<Connection> self);
  asio::awaitable<void> read_frames();
  asio::awaitable<void> write_loop(std::shared_ptr<Connection> self);
  asio::awaitable<void> watchdog(std::shared_ptr<Connection> self);
  // Reads until at least `n` bytes are buffered in read_buf_. False on EOF, error or close.
  asio::awaitable<bool> fill(size_t n, bool& clean_eof);
  // Writes every consecutive ready response at the head of slots_. Returns false on failure or
  // when a close() outcome was reached (the caller closes).
  asio::awaitable<bool> write_pending();
  asio::awaitable<bool> flush_gather();
  asio::awaitable<bool> send_splice(const FileSplice& splice);
  void apply(uint64_t sequence, Outcome outcome, ResponseFrame* frame);
  // Takes a slot for a request just read and hands it to the handler, or defers it.
  void admit(bytes::Buffer frame, std::shared_ptr<const void> memory);
  // Waits until the request memory budget has room for a frame of `size` bytes; its share, or
  // null if reading stopped meanwhile (or there is no budget).
  asio::awaitable<std::shared_ptr<const void>> take_memory(int64_t size);
  void dispatch(uint64_t sequence, RequestFrame frame);
  // Hands deferred requests to the handler once every request before them has an outcome.
  void release_deferred();
  bool reading_allowed() const { return !closed_ && !draining_ && !close_requested_; }
  static void wake(asio::steady_timer& timer) { timer.cancel(); }
  asio::awaitable<void> sleep_until_woken(asio::steady_timer& timer);

  // Transport (connection_tls.cc): the socket itself, or TLS over it. try_read never blocks;
  // on would_block, `wait` says which readiness to await (TLS may need to write while reading).
  enum class Wait { read, write };
  size_t try_read(uint8_t* p, size_t n, asio::error_code& ec, Wait& wait);
  // Waits for the socket to become readable/writable. False on error or close.
  asio::awaitable<bool> await_ready(Wait wait);
  // Reads exactly n bytes (the rest of a frame). False on EOF, error or close.
  asio::awaitable<bool> read_exact(uint8_t* p, size_t n);

  // TLS (connection_tls.cc). The handshake, with tls_handshake_timeout; false = failed.
  asio::awaitable<bool> tls_handshake();
  size_t tls_read(uint8_t* p, size_t n, asio::error_code& ec, Wait& wait);
  asio::awaitable<bool> tls_write(const uint8_t* p, size_t n);
  asio::awaitable<bool> tls_flush_gather();
  asio::awaitable<bool> tls_send_splice(const FileSplice& splice);
  void tls_close();  // best-effort close_notify

  Shared& shared_;
  Worker& worker_;
  asio::ip::tcp::socket socket_;
  ConnectionInfo info_;
  asio::steady_timer reader_wake_;
  asio::steady_timer writer_wake_;
  asio::steady_timer idle_timer_;
  std::chrono::steady_clock::time_point last_activity_;
  std::chrono::steady_clock::time_point muted_until_{};  // ResponseFrame::mute_ms

  // Read-ahead: bytes [read_pos_, read_end_) of read_buf_ are received but not yet consumed.
  // The buffer is returned to the pool whenever it is drained, so idle connections hold none.
  bytes::Buffer read_buf_;
  size_t read_pos_ = 0;
  size_t read_end_ = 0;

  // Requests handed to the handler and not yet written, oldest first; slots_.front() has
  // sequence number first_sequence_.
  std::deque<Slot> slots_;
  uint64_t first_sequence_ = 0;
  size_t inflight_ = 0;     // requests read whose response is not fully written yet
  size_t unanswered_ = 0;   // slots without an outcome yet (deferred ones included)
  size_t deferred_ = 0;     // slots whose request waits for the earlier answers
  bool releasing_ = false;  // release_deferred() is on the stack (a synchronous answer re-enters)

  // Writer scratch: the responses being written and the gather list of the current writev.
  std::vector<ResponseFrame> batch_;
  std::vector<asio::const_buffer> gather_;

  std::string counted_ip_;       // released from Shared::ip_counts on close
  bool memory_waiting_ = false;  // registered with Shared::memory, not yet woken
  bool closed_ = false;
  bool draining_ = false;                      // stop(): read no more requests
  std::chrono::milliseconds linger_quiet_{0};  // stop(quiet): close once quiet this long
  bool close_requested_ = false;               // a Completion asked for close()
  bool read_done_ = false;                     // the reader has finished (EOF or draining)

  // TLS: the context (kept alive while the session uses it) and the session; null on plaintext.
  std::shared_ptr<const TlsContext> tls_ctx_;
  ssl_st* ssl_ = nullptr;
  asio::steady_timer handshake_timer_;
  bool tls_ready_ = false;   // handshake completed
  bool tls_failed_ = false;  // a fatal TLS or socket error: send no close_notify
  bool ktls_send_ = false;   // the kernel encrypts: splices leave with SSL_sendfile
};

}  // namespace kaffa::net::detail
