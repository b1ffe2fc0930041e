// Connection transport: reads that work the same on plaintext and TLS (try_read, await_ready,
// read_exact), and over TLS the server-side handshake and the encrypted read/write paths. OpenSSL
// drives the non-blocking socket itself (SSL_set_fd); a WANT_READ/WANT_WRITE becomes an
// asynchronous wait for that readiness, on the connection's loop. Reader and writer coroutines
// interleave their calls on the one SSL object on that one thread, each retrying its own pending
// operation with the same arguments, as OpenSSL requires.
//
// Responses: the gather list is copied into record-sized batches (small pieces coalesced) and
// written with SSL_write. File splices cannot use sendfile() through user-space TLS: they are
// read with pread() into a pooled buffer and encrypted, unless the kernel took the session's
// send direction (kTLS), in which case SSL_sendfile() keeps them zero-copy.
#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <unistd.h>

#include <algorithm>
#include <asio/redirect_error.hpp>
#include <asio/use_awaitable.hpp>
#include <atomic>
#include <cerrno>
#include <cstring>

#include "base/log.h"
#include "net/connection.h"

namespace kaffa::net::detail {
namespace {

using Clock = std::chrono::steady_clock;
using asio::use_awaitable;

// Gather pieces at least this large are encrypted in place; smaller ones are coalesced.
constexpr size_t kDirectWrite = size_t{16} << 10;
// Coalescing buffer for small pieces, and the read buffer of a file splice.
constexpr size_t kWriteBatch = size_t{64} << 10;
constexpr size_t kSpliceChunk = size_t{256} << 10;

// Logs once per process which way TLS file splices leave (per mode, so both show when mixed).
void log_splice_mode(bool ktls) {
  static std::atomic<bool> logged[2];
  if (logged[ktls ? 1 : 0].exchange(true)) return;
  if (ktls) {
    log::info("net: kernel TLS offload active: TLS fetches send file ranges with SSL_sendfile");
  } else {
    log::info(
        "net: kernel TLS offload not available: TLS fetches read file ranges and encrypt them "
        "in user space");
  }
}

}  // namespace

size_t Connection::try_read(uint8_t* p, size_t n, asio::error_code& ec, Wait& wait) {
  if (ssl_ != nullptr) return tls_read(p, n, ec, wait);
  wait = Wait::read;
  return socket_.read_some(asio::buffer(p, n), ec);
}

asio::awaitable<bool> Connection::await_ready(Wait wait) {
  asio::error_code ec;
  co_await socket_.async_wait(
      wait == Wait::read ? asio::socket_base::wait_read : asio::socket_base::wait_write,
      asio::redirect_error(use_awaitable, ec));
  co_return !ec && !closed_;
}

asio::awaitable<bool> Connection::read_exact(uint8_t* p, size_t n) {
  while (n > 0) {
    if (closed_) co_return false;
    asio::error_code ec;
    Wait wait = Wait::read;
    size_t got = try_read(p, n, ec, wait);
    if (ec == asio::error::would_block || ec == asio::error::try_again) {
      bool ready = co_await await_ready(wait);
      if (!ready) co_return false;
      continue;
    }
    if (ec) {
      log::debug("net: connection {} from {}: frame cut short: {}", info_.id, info_.peer,
                 ec.message());
      co_return false;
    }
    p += got;
    n -= got;
    shared_.stats.bytes_in.fetch_add(got, std::memory_order_relaxed);
    last_activity_ = Clock::now();
  }
  co_return !closed_;
}

Connection::~Connection() {
  if (ssl_ != nullptr) SSL_free(ssl_);
}

void Connection::tls_close() {
  if (ssl_ == nullptr || !tls_ready_ || tls_failed_) return;
  ERR_clear_error();
  SSL_shutdown(ssl_);  // one non-blocking attempt at close_notify; the socket closes next
  ERR_clear_error();
}

asio::awaitable<bool> Connection::tls_handshake() {
  handshake_timer_.expires_after(shared_.config.tls_handshake_timeout);
  handshake_timer_.async_wait([weak = weak_from_this()](asio::error_code ec) {
    auto self = weak.lock();
    if (ec || !self || self->tls_ready_ || self->closed_) return;
    log::info("net: connection {} from {} on listener {}: TLS handshake timed out", self->info_.id,
              self->info_.peer, self->info_.listener_name);
    self->shared_.stats.tls_handshakes_failed.fetch_add(1, std::memory_order_relaxed);
    self->tls_failed_ = true;
    self->close_now();
  });
  for (;;) {
    if (closed_) co_return false;
    ERR_clear_error();
    const int r = SSL_accept(ssl_);
    if (r == 1) break;
    const int e = SSL_get_error(ssl_, r);
    if (e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE) {
      bool ready = co_await await_ready(e == SSL_ERROR_WANT_READ ? Wait::read : Wait::write);
      if (!ready) co_return false;
      last_activity_ = Clock::now();
      continue;
    }
    tls_failed_ = true;
    const std::string why = e == SSL_ERROR_SYSCALL && ERR_peek_error() == 0
                                ? std::string(errno != 0 ? std::strerror(errno) : "peer closed")
                                : openssl_error("protocol error");
    log::info("net: connection {} from {} on listener {}: TLS handshake failed: {}", info_.id,
              info_.peer, info_.listener_name, why);
    shared_.stats.tls_handshakes_failed.fetch_add(1, std::memory_order_relaxed);
    co_return false;
  }
  handshake_timer_.cancel();
  tls_ready_ = true;
  last_activity_ = Clock::now();
  info_.tls_peer_subject = peer_subject(ssl_);
  ktls_send_ = BIO_get_ktls_send(SSL_get_wbio(ssl_)) != 0;
  log_splice_mode(ktls_send_);
  log::debug("net: connection {} from {}: {} {}, client certificate: {}, kTLS send: {}", info_.id,
             info_.peer, SSL_get_version(ssl_), SSL_get_cipher_name(ssl_),
             info_.tls_peer_subject.empty() ? "none" : info_.tls_peer_subject, ktls_send_);
  bool accepted = shared_.handler.on_tls_established(info_);
  co_return accepted && !closed_;
}

size_t Connection::tls_read(uint8_t* p, size_t n, asio::error_code& ec, Wait& wait) {
  size_t got = 0;
  ERR_clear_error();
  const int r = SSL_read_ex(ssl_, p, n, &got);
  if (r == 1) {
    ec = {};
    return got;
  }
  switch (SSL_get_error(ssl_, r)) {
    case SSL_ERROR_WANT_READ:
      ec = asio::error::would_block;
      wait = Wait::read;
      break;
    case SSL_ERROR_WANT_WRITE:
      ec = asio::error::would_block;
      wait = Wait::write;
      break;
    case SSL_ERROR_ZERO_RETURN:  // close_notify, or EOF (SSL_OP_IGNORE_UNEXPECTED_EOF)
      ec = asio::error::eof;
      break;
    case SSL_ERROR_SYSCALL:
      tls_failed_ = true;
      ec = errno != 0 ? asio::error_code(errno, asio::system_category())
                      : asio::error_code(asio::error::connection_reset);
      ERR_clear_error();
      break;
    default:
      tls_failed_ = true;
      log::debug("net: connection {} from {}: TLS read failed: {}", info_.id, info_.peer,
                 openssl_error("protocol error"));
      ec = asio::error::connection_aborted;
      break;
  }
  return 0;
}

asio::awaitable<bool> Connection::tls_write(const uint8_t* p, size_t n) {
  while (n > 0) {
    if (closed_) co_return false;
    size_t written = 0;
    ERR_clear_error();
    const int r = SSL_write_ex(ssl_, p, n, &written);
    if (r == 1) {
      p += written;
      n -= written;
      shared_.stats.bytes_out.fetch_add(written, std::memory_order_relaxed);
      continue;
    }
    const int e = SSL_get_error(ssl_, r);
    if (e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE) {
      bool ready = co_await await_ready(e == SSL_ERROR_WANT_READ ? Wait::read : Wait::write);
      if (!ready) co_return false;
      continue;
    }
    tls_failed_ = true;
    log::debug("net: connection {} from {}: TLS write failed: {}", info_.id, info_.peer,
               e == SSL_ERROR_SYSCALL ? std::string(std::strerror(errno))
                                      : openssl_error("protocol error"));
    co_return false;
  }
  co_return !closed_;
}

asio::awaitable<bool> Connection::tls_flush_gather() {
  bytes::Buffer batch;
  size_t used = 0;
  bool ok = true;
  for (const asio::const_buffer& b : gather_) {
    const auto* p = static_cast<const uint8_t*>(b.data());
    if (b.size() >= kDirectWrite || (batch.capacity() > 0 && used + b.size() > batch.capacity())) {
      if (used > 0) {
        ok = co_await tls_write(batch.data(), used);
        used = 0;
        if (!ok) break;
      }
    }
    if (b.size() >= kDirectWrite) {
      ok = co_await tls_write(p, b.size());
      if (!ok) break;
      continue;
    }
    if (batch.capacity() == 0) batch = bytes::Buffer::allocate(kWriteBatch);
    std::memcpy(batch.data() + used, p, b.size());
    used += b.size();
  }
  if (ok && used > 0) ok = co_await tls_write(batch.data(), used);
  gather_.clear();
  co_return ok && !closed_;
}

asio::awaitable<bool> Connection::tls_send_splice(const FileSplice& splice) {
  off_t offset = static_cast<off_t>(splice.offset);
  size_t left = splice.length;
  if (ktls_send_) {
    while (left > 0) {
      if (closed_) co_return false;
      ERR_clear_error();
      const ossl_ssize_t n = SSL_sendfile(ssl_, splice.fd, offset, std::min(left, kSpliceChunk), 0);
      if (n > 0) {
        offset += n;
        left -= static_cast<size_t>(n);
        shared_.stats.bytes_sendfile.fetch_add(static_cast<uint64_t>(n), std::memory_order_relaxed);
        shared_.stats.bytes_out.fetch_add(static_cast<uint64_t>(n), std::memory_order_relaxed);
        continue;
      }
      const int e = SSL_get_error(ssl_, static_cast<int>(n));
      if (e == SSL_ERROR_WANT_WRITE || e == SSL_ERROR_WANT_READ) {
        bool ready = co_await await_ready(e == SSL_ERROR_WANT_READ ? Wait::read : Wait::write);
        if (!ready) co_return false;
        continue;
      }
      tls_failed_ = true;
      log::debug("net: connection {} from {}: SSL_sendfile failed: {}", info_.id, info_.peer,
                 openssl_error(std::strerror(errno)));
      co_return false;
    }
    co_return !closed_;
  }
  bytes::Buffer chunk = bytes::Buffer::allocate(std::min(std::max(left, size_t{1}), kSpliceChunk));
  while (left > 0) {
    if (closed_) co_return false;
    const ssize_t n = ::pread(splice.fd, chunk.data(), std::min(left, chunk.capacity()), offset);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      if (n == 0) {
        log::error("net: connection {}: file range ends {} bytes early (fd {}, offset {}); closing",
                   info_.id, left, splice.fd, static_cast<int64_t>(offset));
      } else {
        log::error("net: connection {}: pread of a file range failed: {}; closing", info_.id,
                   std::strerror(errno));
      }
      co_return false;
    }
    bool ok = co_await tls_write(chunk.data(), static_cast<size_t>(n));
    if (!ok) co_return false;
    offset += n;
    left -= static_cast<size_t>(n);
  }
  co_return !closed_;
}

}  // namespace kaffa::net::detail
