// Test helpers for the net server tests: a blocking loopback client and a server running on a
// background thread. Plain POSIX sockets on the client side, so the tests do not share code paths
// with the server under test.
#pragma once

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <chrono>
#include <cstdint>
#include <cstring>
#include <functional>
#include <memory>
#include <optional>
#include <random>
#include <string>
#include <string_view>
#include <thread>
#include <utility>

#include "net/server.h"

namespace kaffa::net::testing {

inline std::string be32(uint32_t v) {
  std::string s(4, '\0');
  s[0] = static_cast<char>(v >> 24);
  s[1] = static_cast<char>(v >> 16);
  s[2] = static_cast<char>(v >> 8);
  s[3] = static_cast<char>(v);
  return s;
}

inline std::string framed(std::string_view payload) {
  return be32(static_cast<uint32_t>(payload.size())) + std::string(payload);
}

inline ResponseFrame response(std::string_view payload) {
  return ResponseFrame{framed(payload), {}};
}

// A blocking client. Reads give up after 30 s (a guard against a hanging test, not a timing
// assertion: every test waits for an event that must happen).
class Client {
 public:
  explicit Client(uint16_t port) {
    fd_ = ::socket(AF_INET, SOCK_STREAM, 0);
    EXPECT_GE(fd_, 0);
    timeval tv{30, 0};
    ::setsockopt(fd_, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    int one = 1;
    ::setsockopt(fd_, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_port = htons(port);
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    connected_ = ::connect(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0;
    EXPECT_TRUE(connected_) << std::strerror(errno);
  }
  ~Client() {
    if (fd_ >= 0) ::close(fd_);
  }
  Client(const Client&) = delete;
  Client& operator=(const Client&) = delete;

  bool send_raw(std::string_view bytes) {
    while (!bytes.empty()) {
      ssize_t n = ::send(fd_, bytes.data(), bytes.size(), MSG_NOSIGNAL);
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) return false;
      bytes.remove_prefix(static_cast<size_t>(n));
    }
    return true;
  }
  bool send_frame(std::string_view payload) { return send_raw(framed(payload)); }

  // Exactly n bytes, or nullopt on EOF / error.
  std::optional<std::string> read_exact(size_t n) {
    std::string out(n, '\0');
    size_t got = 0;
    while (got < n) {
      ssize_t r = ::recv(fd_, out.data() + got, n - got, 0);
      if (r < 0 && errno == EINTR) continue;
      if (r <= 0) return std::nullopt;
      got += static_cast<size_t>(r);
    }
    return out;
  }

  // The payload of the next response frame, or nullopt on EOF / error.
  std::optional<std::string> read_frame() {
    auto head = read_exact(4);
    if (!head) return std::nullopt;
    auto* p = reinterpret_cast<const uint8_t*>(head->data());
    uint32_t size = (uint32_t{p[0]} << 24) | (uint32_t{p[1]} << 16) | (uint32_t{p[2]} << 8) | p[3];
    return read_exact(size);
  }

  // True when the server closed the connection (orderly EOF or reset) before sending anything.
  bool closed_by_peer() {
    char c;
    for (;;) {
      ssize_t r = ::recv(fd_, &c, 1, 0);
      if (r < 0 && errno == EINTR) continue;
      if (r == 0) return true;
      if (r < 0) return errno == ECONNRESET;
      return false;  // unexpected data
    }
  }

  void shutdown_write() { ::shutdown(fd_, SHUT_WR); }
  int fd() const { return fd_; }
  void close() {
    ::close(fd_);
    fd_ = -1;
  }

 private:
  int fd_ = -1;
  bool connected_ = false;
};

// A temporary file of `size` random bytes (seeded), and the response the splice tests send from
// it: "HEAD" <whole file> "MID" <file[100, 1100)> "TAIL".
class SpliceSource {
 public:
  SpliceSource(size_t size, unsigned seed) : content_(size, '\0') {
    std::string path = ::testing::TempDir() + "kaffa_splice_XXXXXX";
    fd_ = ::mkstemp(path.data());
    if (fd_ < 0) return;
    ::unlink(path.c_str());
    std::mt19937 rng(seed);
    for (auto& c : content_) c = static_cast<char>(rng());
    written_ =
        ::write(fd_, content_.data(), content_.size()) == static_cast<ssize_t>(content_.size());
    const int fd = fd_;
    keepalive_ = std::shared_ptr<const void>(nullptr, [fd](const void*) { ::close(fd); });
  }
  bool ok() const { return fd_ >= 0 && written_; }
  size_t size() const { return content_.size(); }
  std::string expected_payload() const {
    return "HEAD" + content_ + "MID" + content_.substr(100, 1000) + "TAIL";
  }
  ResponseFrame response() const {
    ResponseFrame frame;
    frame.bytes = be32(static_cast<uint32_t>(expected_payload().size())) + "HEAD" + "MID" + "TAIL";
    frame.splices.push_back(FileSplice{8, fd_, 0, content_.size(), keepalive_});
    frame.splices.push_back(FileSplice{11, fd_, 100, 1000, keepalive_});
    return frame;
  }

 private:
  std::string content_;
  int fd_ = -1;
  bool written_ = false;
  std::shared_ptr<const void> keepalive_;
};

// Forwards handle() to a function.
class FunctionHandler : public RequestHandler {
 public:
  using Fn = std::function<void(const ConnectionInfo&, RequestFrame, Completion)>;
  explicit FunctionHandler(Fn fn) : fn_(std::move(fn)) {}
  void handle(const ConnectionInfo& conn, RequestFrame frame, Completion done) override {
    fn_(conn, std::move(frame), std::move(done));
  }

 private:
  Fn fn_;
};

// A server counter once it reaches `want`, or its value after `deadline` (a safety net, never a
// timing assertion): the server counts bytes after its write returns, so a client can have read
// them all a moment before the count moves.
inline uint64_t counter_once(const std::atomic<uint64_t>& counter, uint64_t want,
                             std::chrono::milliseconds deadline = std::chrono::seconds(10)) {
  const auto until = std::chrono::steady_clock::now() + deadline;
  uint64_t v = counter.load();
  while (v < want && std::chrono::steady_clock::now() < until) {
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
    v = counter.load();
  }
  return v;
}

inline ServerConfig loopback_config() {
  ServerConfig cfg;
  cfg.listeners.push_back(ListenerConfig{"PLAINTEXT", "127.0.0.1", 0});
  cfg.threads = 2;
  return cfg;
}

// A started server whose loops run on a background thread until stop() / destruction.
class RunningServer {
 public:
  RunningServer(ServerConfig cfg, RequestHandler& handler) : server_(std::move(cfg), handler) {
    server_.start();
    thread_ = std::thread([this] { server_.run(); });
  }
  ~RunningServer() { stop(); }
  // Requests a graceful stop and waits for run() to return.
  void stop() {
    if (thread_.joinable()) {
      server_.stop();
      thread_.join();
    }
  }
  uint16_t port() const { return server_.bound().at(0).port; }
  Server& server() { return server_; }
  const ServerStats& stats() const { return server_.stats(); }

 private:
  Server server_;
  std::thread thread_;
};

}  // namespace kaffa::net::testing
