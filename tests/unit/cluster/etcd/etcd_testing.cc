#include "cluster/etcd/etcd_testing.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>
#include <fstream>
#include <sstream>
#include <thread>
#include <vector>

#include "spawn_testing.h"

namespace kaffa::etcd::testing {
namespace {

// One blocking GET /health; true when etcd says it is healthy.
bool healthy(uint16_t port) {
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  if (fd < 0) return false;
  timeval tv{1, 0};
  ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(port);
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  std::string reply;
  if (::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0) {
    const std::string req = "GET /health HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n";
    if (::send(fd, req.data(), req.size(), MSG_NOSIGNAL) == static_cast<ssize_t>(req.size())) {
      char buf[4096];
      ssize_t n;
      while ((n = ::recv(fd, buf, sizeof buf, 0)) > 0) reply.append(buf, static_cast<size_t>(n));
    }
  }
  ::close(fd);
  return reply.find("\"health\":\"true\"") != std::string::npos;
}

}  // namespace

bool etcd_available() {
  return ::access(kEtcdBinary, X_OK) == 0;
}

uint16_t free_port() {
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = 0;
  ::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr);
  socklen_t len = sizeof addr;
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len);
  ::close(fd);
  return ntohs(addr.sin_port);
}

EtcdProcess::EtcdProcess(std::string name)
    : name_(std::move(name)), client_port_(free_port()), peer_port_(free_port()) {
  std::string tmpl = (std::filesystem::temp_directory_path() / "kaffa-etcd-XXXXXX").string();
  dir_ = ::mkdtemp(tmpl.data());
}

EtcdProcess::~EtcdProcess() {
  kill9();
  std::error_code ec;
  std::filesystem::remove_all(dir_, ec);
}

bool EtcdProcess::start(std::string* error) {
  return spawn(error) && wait_healthy(error);
}

bool EtcdProcess::spawn(std::string* error) {
  const std::string client = "http://127.0.0.1:" + std::to_string(client_port_);
  const std::string peer = "http://127.0.0.1:" + std::to_string(peer_port_);
  const std::string cluster = initial_cluster_.empty() ? name_ + "=" + peer : initial_cluster_;
  std::vector<std::string> args = {kEtcdBinary,
                                   "--name=" + name_,
                                   "--data-dir=" + (dir_ / "data").string(),
                                   "--listen-client-urls=" + client,
                                   "--advertise-client-urls=" + client,
                                   "--listen-peer-urls=" + peer,
                                   "--initial-advertise-peer-urls=" + peer,
                                   "--initial-cluster=" + cluster,
                                   "--log-level=warn"};
  const std::string log_path = (dir_ / "etcd.log").string();
  const pid_t pid = kaffa::testing::spawn_logged(std::move(args), log_path);
  if (pid < 0) {
    *error = "fork failed";
    return false;
  }
  pid_ = pid;
  return true;
}

bool EtcdProcess::wait_healthy(std::string* error) {
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);
  while (std::chrono::steady_clock::now() < deadline) {
    int status = 0;
    if (::waitpid(pid_, &status, WNOHANG) == pid_) {
      pid_ = -1;
      *error = "etcd exited during start-up:\n" + log_tail();
      return false;
    }
    if (healthy(client_port_)) return true;
    // Polling interval between two health checks (not a synchronisation sleep).
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  *error = "etcd not healthy within 30 s:\n" + log_tail();
  kill9();
  return false;
}

void EtcdProcess::freeze() {
  if (pid_ > 0) ::kill(pid_, SIGSTOP);
}

void EtcdProcess::thaw() {
  if (pid_ > 0) ::kill(pid_, SIGCONT);
}

bool start_cluster(std::vector<std::unique_ptr<EtcdProcess>>& members, size_t n,
                   std::string* error) {
  std::string initial;
  for (size_t i = 0; i < n; ++i) {
    members.push_back(std::make_unique<EtcdProcess>("n" + std::to_string(i + 1)));
    initial += (i ? "," : "") + members.back()->name() + "=" + members.back()->peer_url();
  }
  for (auto& m : members) {
    m->set_initial_cluster(initial);
    if (!m->spawn(error)) return false;
  }
  for (auto& m : members) {
    if (!m->wait_healthy(error)) return false;
  }
  return true;
}

void EtcdProcess::kill9() {
  if (pid_ <= 0) return;
  ::kill(pid_, SIGKILL);
  int status = 0;
  ::waitpid(pid_, &status, 0);
  pid_ = -1;
}

std::string EtcdProcess::log_tail() const {
  std::ifstream in(dir_ / "etcd.log");
  std::stringstream ss;
  ss << in.rdbuf();
  const std::string all = ss.str();
  return all.size() > 4000 ? all.substr(all.size() - 4000) : all;
}

bool run_until(asio::io_context& io, const std::function<bool()>& done,
               std::chrono::milliseconds deadline) {
  const auto until = std::chrono::steady_clock::now() + deadline;
  while (!done()) {
    if (std::chrono::steady_clock::now() >= until) return false;
    if (io.stopped()) io.restart();
    io.run_one_for(std::chrono::milliseconds(20));
  }
  return true;
}

std::shared_ptr<Client> make_client(asio::io_context& io, std::vector<Endpoint> endpoints,
                                    std::chrono::milliseconds timeout) {
  ClientOptions o;
  o.endpoints = std::move(endpoints);
  o.request_timeout = timeout;
  return Client::create(io.get_executor(), std::move(o));
}

}  // namespace kaffa::etcd::testing
