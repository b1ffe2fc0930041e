// Test support for the etcd client: a real etcd process on free loopback ports with its own
// data directory, and helpers that run an io_context until an asynchronous result arrives.
#pragma once

#include <gtest/gtest.h>
#include <sys/types.h>

#include <asio/io_context.hpp>
#include <chrono>
#include <filesystem>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "cluster/etcd/client.h"

namespace kaffa::etcd::testing {

inline constexpr const char* kEtcdBinary = "/usr/bin/etcd";
bool etcd_available();

// A free TCP port on 127.0.0.1 (bound, then released).
uint16_t free_port();

// One etcd member; alone, a single-member cluster. start() waits for GET /health to say
// healthy (polling, with a deadline). The destructor kills the process and removes the data
// directory.
class EtcdProcess {
 public:
  explicit EtcdProcess(std::string name = "n1");
  ~EtcdProcess();
  EtcdProcess(const EtcdProcess&) = delete;
  EtcdProcess& operator=(const EtcdProcess&) = delete;

  // Starts etcd (again, on the same ports and data directory). False with a message on failure.
  bool start(std::string* error);
  // The halves of start(), for members of a cluster (they become healthy only together).
  bool spawn(std::string* error);
  bool wait_healthy(std::string* error);
  void kill9();   // SIGKILL and reap
  void freeze();  // SIGSTOP: alive (connections are accepted by the kernel) but silent
  void thaw();    // SIGCONT
  bool running() const { return pid_ > 0; }

  const std::string& name() const { return name_; }
  std::string peer_url() const { return "http://127.0.0.1:" + std::to_string(peer_port_); }
  // "n1=http://...,n2=http://..." for --initial-cluster; default: this member alone.
  void set_initial_cluster(std::string members) { initial_cluster_ = std::move(members); }

  uint16_t client_port() const { return client_port_; }
  Endpoint endpoint() const { return Endpoint{"127.0.0.1", client_port_}; }
  std::string log_tail() const;

 private:
  std::string name_;
  std::string initial_cluster_;
  std::filesystem::path dir_;
  uint16_t client_port_;
  uint16_t peer_port_;
  pid_t pid_ = -1;
  bool started_once_ = false;
};

// A cluster of `n` members started together; false with a message on failure.
bool start_cluster(std::vector<std::unique_ptr<EtcdProcess>>& members, size_t n,
                   std::string* error);

// Runs `io` until `done()` or the deadline; true if done.
bool run_until(asio::io_context& io, const std::function<bool()>& done,
               std::chrono::milliseconds deadline = std::chrono::seconds(20));

// Starts an operation with a callback and runs `io` until it completes.
template <class T, class Start>
Result<T> await(asio::io_context& io, Start&& start,
                std::chrono::milliseconds deadline = std::chrono::seconds(20)) {
  std::optional<Result<T>> out;
  start([&out](Result<T> r) { out.emplace(std::move(r)); });
  if (!run_until(
          io, [&] { return out.has_value(); }, deadline)) {
    return Error::make(Error::Code::timeout, "test deadline passed");
  }
  return std::move(*out);
}

std::shared_ptr<Client> make_client(asio::io_context& io, std::vector<Endpoint> endpoints,
                                    std::chrono::milliseconds timeout = std::chrono::seconds(5));

}  // namespace kaffa::etcd::testing

// Skips the test when etcd is not installed.
#define KAFFA_REQUIRE_ETCD()                                                            \
  do {                                                                                  \
    if (!::kaffa::etcd::testing::etcd_available()) {                                    \
      GTEST_SKIP() << "etcd not installed (" << ::kaffa::etcd::testing::kEtcdBinary     \
                   << " missing; Debian package etcd-server): skipping real-etcd test"; \
    }                                                                                   \
  } while (0)

namespace kaffa::etcd::testing {

// Fixture: one real etcd process and one client on io_ (skipped without etcd). The client's
// request timeout is the constructor's argument.
class SingleEtcdTest : public ::testing::Test {
 protected:
  explicit SingleEtcdTest(std::chrono::milliseconds timeout = std::chrono::seconds(5))
      : timeout_(timeout) {}
  void SetUp() override {
    KAFFA_REQUIRE_ETCD();
    etcd_ = std::make_unique<EtcdProcess>();
    std::string err;
    ASSERT_TRUE(etcd_->start(&err)) << err;
    client_ = make_client(io_, {etcd_->endpoint()}, timeout_);
  }
  void TearDown() override {
    if (client_) client_->close();
  }

  std::chrono::milliseconds timeout_;
  asio::io_context io_;
  std::unique_ptr<EtcdProcess> etcd_;
  std::shared_ptr<Client> client_;
};

}  // namespace kaffa::etcd::testing
