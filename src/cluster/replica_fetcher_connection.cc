#include "cluster/replica_fetcher_connection.h"

#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstring>

#include "base/clock.h"
#include "net/tls.h"
#include "protocol/messages/sasl_authenticate.h"
#include "protocol/messages/sasl_handshake.h"
#include "security/sasl.h"

namespace kaffa::cluster {
namespace {

constexpr uint32_t kMaxAnswerBytes = 256u << 20;

// Waits until fd is ready for `events` or the deadline passes; false on timeout or error.
bool wait_ready(int fd, short events, int64_t deadline_ms) {
  for (;;) {
    const int64_t left = deadline_ms - clock::steady_ms();
    if (left <= 0) return false;
    pollfd p{fd, events, 0};
    const int rc = ::poll(&p, 1, static_cast<int>(std::min<int64_t>(left, 1000)));
    if (rc > 0) return (p.revents & (POLLERR | POLLNVAL)) == 0 || (p.revents & events) != 0;
    if (rc < 0 && errno != EINTR) return false;
  }
}

}  // namespace

BrokerConnection::~BrokerConnection() {
  close();
}

void BrokerConnection::close() {
  if (ssl_ != nullptr) {
    SSL_free(ssl_);  // without close_notify: the socket may be dead already
    ssl_ = nullptr;
  }
  const int fd = fd_.exchange(-1);
  if (fd >= 0) ::close(fd);
}

bool BrokerConnection::peer_closed() const {
  const int fd = fd_.load();
  if (fd < 0) return false;
  pollfd p{fd, POLLRDHUP, 0};
  return ::poll(&p, 1, 0) > 0 && (p.revents & (POLLRDHUP | POLLHUP | POLLERR)) != 0;
}

void BrokerConnection::interrupt() {
  const int fd = fd_.load();
  if (fd >= 0) ::shutdown(fd, SHUT_RDWR);
}

bool BrokerConnection::fail(const std::string& what, std::string* error) {
  if (error != nullptr) *error = what;
  close();
  return false;
}

bool BrokerConnection::connect(const std::string& host, int32_t port, int64_t timeout_ms,
                               const std::shared_ptr<const net::TlsContext>& tls,
                               std::string* error) {
  close();
  where_ = host + ":" + std::to_string(port);
  addrinfo hints{};
  hints.ai_socktype = SOCK_STREAM;
  addrinfo* res = nullptr;
  if (const int rc = ::getaddrinfo(host.c_str(), std::to_string(port).c_str(), &hints, &res);
      rc != 0) {
    return fail("cannot resolve " + where_ + ": " + ::gai_strerror(rc), error);
  }
  const int64_t deadline = clock::steady_ms() + timeout_ms;
  std::string why = "no address";
  for (addrinfo* a = res; a != nullptr; a = a->ai_next) {
    const int fd =
        ::socket(a->ai_family, a->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC, a->ai_protocol);
    if (fd < 0) continue;
    if (receive_buffer_ > 0) {
      ::setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &receive_buffer_, sizeof receive_buffer_);
    }
    int rc = ::connect(fd, a->ai_addr, a->ai_addrlen);
    if (rc != 0 && errno == EINPROGRESS && wait_ready(fd, POLLOUT, deadline)) {
      int so_error = 0;
      socklen_t len = sizeof so_error;
      ::getsockopt(fd, SOL_SOCKET, SO_ERROR, &so_error, &len);
      rc = so_error == 0 ? 0 : -1;
      errno = so_error;
    }
    if (rc == 0) {
      const int one = 1;
      ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
      fd_.store(fd);
      break;
    }
    why = std::strerror(errno);
    ::close(fd);
  }
  ::freeaddrinfo(res);
  if (fd_.load() < 0) return fail("cannot connect to " + where_ + ": " + why, error);
  if (!tls) return true;
  ssl_ = tls->new_client_session(host);
  if (ssl_ == nullptr || SSL_set_fd(ssl_, fd_.load()) != 1) {
    return fail("cannot start TLS to " + where_ + ": " + net::openssl_error("SSL_new failed"),
                error);
  }
  return handshake(deadline, error);
}

bool BrokerConnection::login(const std::string& mechanism, const std::string& user,
                             const std::string& password, int64_t timeout_ms, std::string* error) {
  constexpr int16_t kHandshakeKey = 17;
  constexpr int16_t kAuthenticateKey = 36;
  auto client = security::make_sasl_client(mechanism, user, password);
  if (!client) return fail("SASL mechanism " + mechanism + " has no client here", error);
  std::shared_ptr<std::string> answer;
  protocol::SaslHandshakeRequest hreq;
  hreq.mechanism = mechanism;
  protocol::SaslHandshakeResponse hresp;
  if (!call(kHandshakeKey, 1, hreq, hresp, timeout_ms, answer, error)) return false;
  if (hresp.error_code != 0) {
    return fail(where_ + " does not offer SASL " + mechanism + " (error " +
                    std::to_string(hresp.error_code) + ")",
                error);
  }
  std::string token = client->first();
  for (int round = 0; round < 4; ++round) {  // SCRAM takes two, PLAIN one
    protocol::SaslAuthenticateRequest areq;
    areq.auth_bytes = std::move(token);
    protocol::SaslAuthenticateResponse aresp;
    if (!call(kAuthenticateKey, 1, areq, aresp, timeout_ms, answer, error)) return false;
    if (aresp.error_code != 0) {
      return fail("SASL " + mechanism + " login to " + where_ + " as " + user + " failed: " +
                      aresp.error_message.value_or("error " + std::to_string(aresp.error_code)),
                  error);
    }
    auto next = client->step(aresp.auth_bytes);
    if (next.state == security::SaslClientStep::State::done) return true;
    if (next.state == security::SaslClientStep::State::failed) {
      return fail("SASL " + mechanism + " login to " + where_ + ": " + next.error, error);
    }
    token = std::move(next.token);
  }
  return fail("SASL " + mechanism + " login to " + where_ + " did not end", error);
}

bool BrokerConnection::handshake(int64_t deadline_ms, std::string* error) {
  ERR_clear_error();
  for (;;) {
    const int rc = SSL_connect(ssl_);
    if (rc == 1) return true;
    const int e = SSL_get_error(ssl_, rc);
    short wait = 0;
    if (e == SSL_ERROR_WANT_READ) wait = POLLIN;
    if (e == SSL_ERROR_WANT_WRITE) wait = POLLOUT;
    if (wait == 0) {
      return fail("TLS handshake with " + where_ + " failed: " + net::handshake_error(ssl_), error);
    }
    if (!wait_ready(fd_.load(), wait, deadline_ms)) {
      return fail("TLS handshake with " + where_ + " timed out", error);
    }
  }
}

long BrokerConnection::transfer(char* p, size_t n, bool sending, short* wait) {
  if (ssl_ == nullptr) {
    const ssize_t k =
        sending ? ::send(fd_.load(), p, n, MSG_NOSIGNAL) : ::recv(fd_.load(), p, n, 0);
    if (k > 0) return k;
    if (k < 0 && (errno == EAGAIN || errno == EINTR)) {
      *wait = sending ? POLLOUT : POLLIN;
      return 0;
    }
    return -1;  // an error, or the end of the stream
  }
  ERR_clear_error();
  const int len = static_cast<int>(std::min<size_t>(n, size_t{1} << 30));
  const int k = sending ? SSL_write(ssl_, p, len) : SSL_read(ssl_, p, len);
  if (k > 0) return k;
  const int e = SSL_get_error(ssl_, k);
  if (e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE) {  // TLS may need either way
    *wait = e == SSL_ERROR_WANT_READ ? POLLIN : POLLOUT;
    return 0;
  }
  return -1;
}

bool BrokerConnection::round_trip(std::string& frame, int64_t timeout_ms, std::string& answer,
                                  size_t* len_out, std::string* error) {
  const int fd = fd_.load();
  if (fd < 0) return fail("not connected", error);
  const int64_t deadline = clock::steady_ms() + timeout_ms;
  const auto n = static_cast<uint32_t>(frame.size() - 4);
  for (int i = 0; i < 4; ++i) frame[static_cast<size_t>(i)] = static_cast<char>(n >> (24 - 8 * i));
  for (size_t sent = 0; sent < frame.size();) {
    short wait = 0;
    const long w = transfer(frame.data() + sent, frame.size() - sent, true, &wait);
    if (w > 0) {
      sent += static_cast<size_t>(w);
    } else if (w == 0) {
      if (!wait_ready(fd, wait, deadline)) return fail("timed out sending to " + where_, error);
    } else {
      return fail("cannot send to " + where_ + ": " + std::strerror(errno), error);
    }
  }
  auto read_exact = [&](char* p, size_t len) {
    for (size_t got = 0; got < len;) {
      short wait = 0;
      const long r = transfer(p + got, len - got, false, &wait);
      if (r > 0) {
        got += static_cast<size_t>(r);
      } else if (r == 0) {
        if (!wait_ready(fd, wait, deadline)) return false;
      } else {
        return false;
      }
    }
    return true;
  };
  unsigned char size[4];
  if (!read_exact(reinterpret_cast<char*>(size), 4)) {
    return fail(where_ + " closed the connection or timed out", error);
  }
  const uint32_t len = (uint32_t{size[0]} << 24) | (uint32_t{size[1]} << 16) |
                       (uint32_t{size[2]} << 8) | uint32_t{size[3]};
  if (len > kMaxAnswerBytes) return fail("oversized answer from " + where_, error);
  if (answer.size() < len) answer.resize(len);
  if (!read_exact(answer.data(), len)) {
    return fail(where_ + " closed the connection or timed out", error);
  }
  *len_out = len;
  return true;
}

}  // namespace kaffa::cluster
