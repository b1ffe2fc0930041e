#include "net/connection.h"

#include <openssl/ssl.h>
#include <sys/sendfile.h>

#include <algorithm>
#include <asio/co_spawn.hpp>
#include <asio/post.hpp>
#include <asio/redirect_error.hpp>
#include <asio/use_awaitable.hpp>
#include <asio/write.hpp>
#include <cerrno>
#include <cstring>
#include <exception>
#include <span>

#include "base/log.h"

namespace kaffa::net {
namespace detail {
namespace {

using Clock = std::chrono::steady_clock;
using asio::use_awaitable;

// Read-ahead per connection while bytes are arriving; released when the connection goes idle.
constexpr size_t kReadAhead = size_t{64} << 10;
// Largest sendfile() request; the kernel sends less anyway when the socket buffer is full.
constexpr size_t kMaxSendfileChunk = size_t{1} << 30;

int32_t load_be32(const uint8_t* p) {
  uint32_t v = (uint32_t{p[0]} << 24) | (uint32_t{p[1]} << 16) | (uint32_t{p[2]} << 8) | p[3];
  return static_cast<int32_t>(v);
}

// Completion token for the connection's coroutines: an exception that escapes one is a bug;
// log it (the coroutine has already closed the connection on its way out, see below).
auto log_escape(const char* what) {
  return [what](std::exception_ptr e) {
    if (!e) return;
    try {
      std::rethrow_exception(e);
    } catch (const std::exception& ex) {
      log::error("net: {} failed: {}", what, ex.what());
    } catch (...) {
      log::error("net: {} failed with a non-standard exception", what);
    }
  };
}

}  // namespace

Connection::Connection(Shared& shared, Worker& worker, asio::ip::tcp::socket socket,
                       ConnectionInfo info, std::shared_ptr<const TlsContext> tls)
    : shared_(shared),
      worker_(worker),
      socket_(std::move(socket)),
      info_(std::move(info)),
      reader_wake_(worker.ctx),
      writer_wake_(worker.ctx),
      idle_timer_(worker.ctx),
      last_activity_(Clock::now()),
      tls_ctx_(std::move(tls)),
      handshake_timer_(worker.ctx) {
  if (tls_ctx_) ssl_ = tls_ctx_->new_session();
}

void Connection::start(std::string counted_ip) {
  counted_ip_ = std::move(counted_ip);
  worker_.connections.emplace(info_.id, weak_from_this());
  asio::error_code ec;
  // Non-blocking at the OS level: the reader tries a read before waiting, and sendfile() needs it.
  socket_.non_blocking(true, ec);
  if (tls_ctx_ && !ec && (ssl_ == nullptr || SSL_set_fd(ssl_, socket_.native_handle()) != 1)) {
    log::error("net: connection {} from {}: cannot set up TLS: {}", info_.id, info_.peer,
               openssl_error("SSL_new failed"));
    ec = asio::error::no_memory;
  }
  if (worker_.stopping || ec) {
    close_now();
    return;
  }
  log::debug("net: connection {} from {} on listener {} (loop {})", info_.id, info_.peer,
             info_.listener_name, info_.thread_index);
  auto self = shared_from_this();
  asio::co_spawn(worker_.ctx, read_loop(self), log_escape("connection reader"));
  asio::co_spawn(worker_.ctx, write_loop(self), log_escape("connection writer"));
  asio::co_spawn(worker_.ctx, watchdog(self), log_escape("connection watchdog"));
}

void Connection::drain(std::chrono::milliseconds quiet) {
  if (closed_ || draining_) return;
  if (quiet.count() > 0) {
    linger_quiet_ = quiet;
    wake(idle_timer_);  // the watchdog now watches for the quiet period
    return;
  }
  draining_ = true;
  // Wakes a reader parked waiting for bytes: it now sees end of stream.
  asio::error_code ec;
  socket_.shutdown(asio::socket_base::shutdown_receive, ec);
  wake(reader_wake_);
  wake(writer_wake_);
}

void Connection::close_now() {
  if (closed_) return;
  closed_ = true;
  tls_close();
  asio::error_code ec;
  socket_.shutdown(asio::socket_base::shutdown_both, ec);
  socket_.close(ec);
  reader_wake_.cancel();
  writer_wake_.cancel();
  idle_timer_.cancel();
  handshake_timer_.cancel();
  slots_.clear();
  inflight_ = unanswered_ = deferred_ = 0;
  read_buf_.release();
  read_pos_ = read_end_ = 0;
  shared_.stats.connections_open.fetch_sub(1, std::memory_order_relaxed);
  if (!counted_ip_.empty()) shared_.ip_counts.release(counted_ip_);
  log::debug("net: connection {} from {} closed", info_.id, info_.peer);
  worker_.on_connection_closed(info_.id);
}

void Connection::deliver(std::shared_ptr<Connection> self, uint64_t sequence, Outcome outcome,
                         ResponseFrame* frame) {
  asio::io_context& ctx = self->worker_.ctx;
  if (ctx.get_executor().running_in_this_thread()) {
    self->apply(sequence, outcome, frame);
    return;
  }
  ResponseFrame moved = frame != nullptr ? std::move(*frame) : ResponseFrame{};
  // `self` travels with the handler so that the last reference is dropped on the loop.
  asio::post(ctx, [self = std::move(self), sequence, outcome, f = std::move(moved)]() mutable {
    self->apply(sequence, outcome, &f);
  });
}

void Connection::apply(uint64_t sequence, Outcome outcome, ResponseFrame* frame) {
  if (closed_ || sequence < first_sequence_ || sequence - first_sequence_ >= slots_.size()) return;
  Slot& slot = slots_[sequence - first_sequence_];
  if (slot.outcome != Outcome::waiting || slot.deferred) return;
  slot.outcome = outcome;
  --unanswered_;
  const bool sends = outcome == Outcome::send || outcome == Outcome::send_close;
  if (sends && frame != nullptr) slot.frame = std::move(*frame);
  if (outcome == Outcome::close || outcome == Outcome::send_close) {
    close_requested_ = true;
    wake(reader_wake_);
  }
  wake(writer_wake_);
  release_deferred();
}

asio::awaitable<void> Connection::sleep_until_woken(asio::steady_timer& timer) {
  timer.expires_at(asio::steady_timer::time_point::max());
  asio::error_code ec;
  co_await timer.async_wait(asio::redirect_error(use_awaitable, ec));
}

asio::awaitable<bool> Connection::fill(size_t n, bool& clean_eof) {
  clean_eof = false;
  while (read_end_ - read_pos_ < n) {
    if (!reading_allowed()) {
      clean_eof = !closed_;
      co_return false;
    }
    if (read_buf_.capacity() == 0) {
      read_buf_ = bytes::Buffer::allocate(kReadAhead);
      read_pos_ = read_end_ = 0;
    } else if (read_pos_ > 0) {  // keep the unconsumed tail (< n bytes) at the front
      std::memmove(read_buf_.data(), read_buf_.data() + read_pos_, read_end_ - read_pos_);
      read_end_ -= read_pos_;
      read_pos_ = 0;
    }
    asio::error_code ec;
    Wait wait = Wait::read;
    size_t got = try_read(read_buf_.data() + read_end_, read_buf_.capacity() - read_end_, ec, wait);
    if (ec == asio::error::would_block || ec == asio::error::try_again) {
      if (read_end_ == read_pos_) {  // idle: hold no memory while waiting
        read_buf_.release();
        read_pos_ = read_end_ = 0;
      }
      bool ready = co_await await_ready(wait);
      if (!ready) co_return false;
      continue;
    }
    if (ec == asio::error::eof) {
      clean_eof = read_end_ == read_pos_;
      if (!clean_eof)
        log::debug("net: connection {} from {}: EOF inside a frame", info_.id, info_.peer);
      co_return false;
    }
    if (ec) {
      log::debug("net: connection {} from {}: read failed: {}", info_.id, info_.peer, ec.message());
      co_return false;
    }
    read_end_ += got;
    shared_.stats.bytes_in.fetch_add(got, std::memory_order_relaxed);
    last_activity_ = Clock::now();
  }
  co_return true;
}

void Connection::memory_freed() {
  asio::post(worker_.ctx, [self = shared_from_this()] {
    self->memory_waiting_ = false;
    wake(self->reader_wake_);
  });
}

asio::awaitable<std::shared_ptr<const void>> Connection::take_memory(int64_t size) {
  std::shared_ptr<const void> share = shared_.memory.try_take(size);
  if (share) co_return share;
  shared_.stats.request_memory_waits.fetch_add(1, std::memory_order_relaxed);
  while (reading_allowed()) {
    share = shared_.memory.try_take(size);
    if (share) break;
    if (!memory_waiting_) {
      if (!shared_.memory.wait(shared_from_this())) continue;  // room already: try again
      memory_waiting_ = true;
    }
    co_await sleep_until_woken(reader_wake_);
  }
  co_return share;
}

void Connection::admit(bytes::Buffer frame, std::shared_ptr<const void> memory) {
  const uint64_t sequence = first_sequence_ + slots_.size();
  const auto received = Clock::now();
  Slot& slot = slots_.emplace_back();
  ++inflight_;
  const bool defer = unanswered_ > 0 && shared_.handler.waits_for_earlier(frame.view());
  ++unanswered_;
  if (defer) {
    slot.deferred = true;
    slot.request = std::move(frame);
    slot.received = received;
    slot.memory = std::move(memory);
    ++deferred_;
    return;
  }
  dispatch(sequence, RequestFrame{std::move(frame), received, std::move(memory)});
}

void Connection::release_deferred() {
  if (releasing_ || deferred_ == 0) return;
  releasing_ = true;
  // A synchronous answer applies on this stack (apply() does not re-enter here), so the slot
  // just dispatched is looked at again: still unanswered, it holds back the deferred ones after it.
  for (size_t i = 0; !closed_ && !close_requested_ && deferred_ > 0 && i < slots_.size(); ++i) {
    if (slots_[i].outcome != Outcome::waiting) continue;
    if (!slots_[i].deferred) break;
    slots_[i].deferred = false;
    --deferred_;
    dispatch(first_sequence_ + i, RequestFrame{std::move(slots_[i].request), slots_[i].received,
                                               std::move(slots_[i].memory)});
    if (closed_ || slots_[i].outcome == Outcome::waiting) break;
  }
  releasing_ = false;
}

void Connection::dispatch(uint64_t sequence, RequestFrame frame) {
  shared_.stats.requests.fetch_add(1, std::memory_order_relaxed);
  try {
    shared_.handler.handle(info_, std::move(frame), Completion(weak_from_this(), sequence));
  } catch (const std::exception& e) {
    log::error("net: connection {} from {}: request handler threw: {}", info_.id, info_.peer,
               e.what());
    close_now();
  } catch (...) {
    log::error("net: connection {} from {}: request handler threw", info_.id, info_.peer);
    close_now();
  }
}

asio::awaitable<void> Connection::read_loop([[maybe_unused]] std::shared_ptr<Connection> self) {
  bool failed = false;
  try {
    bool ready = true;
    if (ssl_ != nullptr) ready = co_await tls_handshake();
    if (ready) {
      co_await read_frames();
    } else {
      close_now();
    }
  } catch (const std::exception& e) {  // e.g. bad_alloc for a frame buffer
    log::error("net: connection {} from {}: reader failed: {}", info_.id, info_.peer, e.what());
    failed = true;
  }
  if (failed) close_now();
  read_done_ = true;
  read_buf_.release();
  read_pos_ = read_end_ = 0;
  wake(writer_wake_);
}

asio::awaitable<void> Connection::read_frames() {
  const size_t max_inflight =
      static_cast<size_t>(std::max(1, shared_.config.max_inflight_per_connection));
  const int32_t max_bytes = shared_.config.max_request_bytes;
  for (;;) {
    while (reading_allowed() && inflight_ >= max_inflight) {
      co_await sleep_until_woken(reader_wake_);  // back-pressure: the writer wakes us
    }
    if (!reading_allowed()) break;
    bool clean_eof = false;
    // (g++ 12 miscompiles co_await inside conditions: always await into a local first.)
    bool have_header = co_await fill(4, clean_eof);
    if (!have_header) {
      if (!clean_eof) close_now();
      break;
    }
    int32_t size = load_be32(read_buf_.data() + read_pos_);
    if (size < 0 || size > max_bytes) {
      log::warn("net: connection {} from {}: request size {} outside [0, {}]; closing", info_.id,
                info_.peer, size, max_bytes);
      shared_.stats.frames_rejected.fetch_add(1, std::memory_order_relaxed);
      close_now();
      break;
    }
    std::shared_ptr<const void> memory;
    if (shared_.memory.enabled()) {
      memory = co_await take_memory(size);
      if (!memory) break;  // stopped reading while waiting
    }
    read_pos_ += 4;
    auto frame = bytes::Buffer::allocate(static_cast<size_t>(size));
    frame.resize(static_cast<size_t>(size));
    size_t have = std::min(frame.size(), read_end_ - read_pos_);
    if (have > 0) std::memcpy(frame.data(), read_buf_.data() + read_pos_, have);
    read_pos_ += have;
    if (have < frame.size()) {  // the rest goes straight into the frame buffer
      bool complete = co_await read_exact(frame.data() + have, frame.size() - have);
      if (!complete) {
        close_now();
        break;
      }
    }
    // Throttled (a quota, ResponseFrame::mute_ms): a request that arrives meanwhile waits.
    while (muted_until_ != Clock::time_point{} && reading_allowed() &&
           Clock::now() < muted_until_) {
      reader_wake_.expires_at(muted_until_);
      asio::error_code ec;
      co_await reader_wake_.async_wait(asio::redirect_error(use_awaitable, ec));
    }
    if (closed_ || close_requested_) break;
    admit(std::move(frame), std::move(memory));
  }
}

asio::awaitable<void> Connection::write_loop([[maybe_unused]] std::shared_ptr<Connection> self) {
  while (!closed_) {
    if (!slots_.empty() && slots_.front().outcome != Outcome::waiting) {
      bool written = false;
      try {
        written = co_await write_pending();
      } catch (const std::exception& e) {
        log::error("net: connection {} from {}: writer failed: {}", info_.id, info_.peer, e.what());
      }
      if (!written) close_now();
    } else if (read_done_ && slots_.empty()) {
      close_now();  // end of stream or stop(): everything owed has been written
    } else {
      co_await sleep_until_woken(writer_wake_);
    }
  }
}

asio::awaitable<bool> Connection::write_pending() {
  bool close_after = false;
  size_t skipped = 0;
  batch_.clear();
  while (!slots_.empty() && slots_.front().outcome != Outcome::waiting && !close_after) {
    Slot& slot = slots_.front();
    if (slot.outcome == Outcome::send || slot.outcome == Outcome::send_close) {
      batch_.push_back(std::move(slot.frame));
      close_after = slot.outcome == Outcome::send_close;
    } else if (slot.outcome == Outcome::none) {
      ++skipped;
    } else {
      close_after = true;
    }
    slots_.pop_front();
    ++first_sequence_;
  }
  inflight_ -= skipped;

  gather_.clear();
  bool ok = true;
  for (const ResponseFrame& frame : batch_) {
    size_t pos = 0;
    for (const FileSplice& splice : frame.splices) {
      if (splice.at < pos || splice.at > frame.bytes.size()) {
        log::error("net: connection {}: response splice at {} outside [{}, {}]; closing", info_.id,
                   splice.at, pos, frame.bytes.size());
        ok = false;
        break;
      }
      if (splice.at > pos) gather_.emplace_back(frame.bytes.data() + pos, splice.at - pos);
      pos = splice.at;
      ok = co_await flush_gather();
      if (ok) ok = co_await send_splice(splice);
      if (!ok) break;
    }
    if (!ok) break;
    if (pos < frame.bytes.size())
      gather_.emplace_back(frame.bytes.data() + pos, frame.bytes.size() - pos);
  }
  if (ok) ok = co_await flush_gather();
  if (closed_) co_return false;
  if (ok) {
    for (ResponseFrame& frame : batch_) {
      if (frame.written) frame.written();
      if (frame.mute_ms > 0) {
        muted_until_ =
            std::max(muted_until_, Clock::now() + std::chrono::milliseconds(frame.mute_ms));
      }
    }
  }
  inflight_ -= batch_.size();
  batch_.clear();  // drops the splices' keepalives
  last_activity_ = Clock::now();
  wake(reader_wake_);
  co_return ok && !close_after;
}

asio::awaitable<bool> Connection::flush_gather() {
  if (gather_.empty()) co_return !closed_;
  if (ssl_ != nullptr) {
    bool ok = co_await tls_flush_gather();
    co_return ok;
  }
  asio::error_code ec;
  size_t sent = co_await asio::async_write(socket_, std::span<const asio::const_buffer>(gather_),
                                           asio::redirect_error(use_awaitable, ec));
  gather_.clear();
  shared_.stats.bytes_out.fetch_add(sent, std::memory_order_relaxed);
  if (ec && !closed_) {
    log::debug("net: connection {} from {}: write failed: {}", info_.id, info_.peer, ec.message());
  }
  co_return !ec && !closed_;
}

asio::awaitable<bool> Connection::send_splice(const FileSplice& splice) {
  if (ssl_ != nullptr) {
    bool ok = co_await tls_send_splice(splice);
    co_return ok;
  }
  off_t offset = static_cast<off_t>(splice.offset);
  size_t left = splice.length;
  while (left > 0 && !closed_) {
    ssize_t n =
        ::sendfile(socket_.native_handle(), splice.fd, &offset, std::min(left, kMaxSendfileChunk));
    if (n > 0) {
      left -= static_cast<size_t>(n);
      shared_.stats.bytes_sendfile.fetch_add(static_cast<uint64_t>(n), std::memory_order_relaxed);
      shared_.stats.bytes_out.fetch_add(static_cast<uint64_t>(n), std::memory_order_relaxed);
      continue;
    }
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
      asio::error_code ec;
      co_await socket_.async_wait(asio::socket_base::wait_write,
                                  asio::redirect_error(use_awaitable, ec));
      if (ec) co_return false;
      continue;
    }
    if (n == 0) {
      log::error("net: connection {}: file range ends {} bytes early (fd {}, offset {}); closing",
                 info_.id, left, splice.fd, static_cast<int64_t>(offset));
    } else {
      log::debug("net: connection {} from {}: sendfile failed: {}", info_.id, info_.peer,
                 std::strerror(errno));
    }
    co_return false;
  }
  co_return !closed_;
}

asio::awaitable<void> Connection::watchdog([[maybe_unused]] std::shared_ptr<Connection> self) {
  while (!closed_) {
    const bool lingering = linger_quiet_.count() > 0;
    const auto idle = lingering ? linger_quiet_ : shared_.config.idle_timeout;
    if (idle.count() <= 0) {  // no idle timeout: wait for a stop with a quiet period
      co_await sleep_until_woken(idle_timer_);
      continue;
    }
    // While work is in flight the connection is not idle; look again one period later.
    idle_timer_.expires_at(inflight_ > 0 ? Clock::now() + idle : last_activity_ + idle);
    asio::error_code ec;
    co_await idle_timer_.async_wait(asio::redirect_error(use_awaitable, ec));
    if (closed_) break;
    if (inflight_ == 0 && Clock::now() - last_activity_ >= idle) {
      if (lingering) {
        log::debug("net: closing connection {} from {}: quiet for {} ms while stopping", info_.id,
                   info_.peer, idle.count());
      } else {
        log::info("net: closing connection {} from {}: idle for {} ms", info_.id, info_.peer,
                  idle.count());
      }
      close_now();
    }
  }
}

}  // namespace detail
}  // namespace kaffa::net
