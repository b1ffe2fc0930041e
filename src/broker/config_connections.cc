// Limits on what clients may hold: connections per address (Kafka's max.connections.per.ip and
// max.connections.per.ip.overrides; an override names a host or an address, host names are
// resolved once, at start-up, as Kafka does) and the memory of requests read and not yet handled
// (queued.max.request.bytes), and the client sockets' kernel buffers and listen backlog. Kafka's
// names, defaults and rules.
#include <netdb.h>

#include <asio/ip/address.hpp>

#include "broker/config_settings.h"

namespace kaffa::broker::config_detail {
namespace {

// The address `host` stands for (its first IPv4 address if it has one, as Java prefers), as the
// network layer writes a peer's address; nullopt if it cannot be resolved.
std::optional<std::string> resolve_host(const std::string& host) {
  asio::error_code ec;
  if (auto a = asio::ip::make_address(host, ec); !ec) return a.to_string();
  addrinfo hints{};
  hints.ai_socktype = SOCK_STREAM;
  addrinfo* found = nullptr;
  if (::getaddrinfo(host.c_str(), nullptr, &hints, &found) != 0 || found == nullptr) {
    return std::nullopt;
  }
  const addrinfo* pick = found;
  for (const addrinfo* a = found; a != nullptr; a = a->ai_next) {
    if (a->ai_family == AF_INET) {
      pick = a;
      break;
    }
  }
  std::optional<std::string> out;
  char text[NI_MAXHOST];
  if (::getnameinfo(pick->ai_addr, pick->ai_addrlen, text, sizeof text, nullptr, 0,
                    NI_NUMERICHOST) == 0) {
    out = text;
  }
  ::freeaddrinfo(found);
  return out;
}

// "host:count[,host:count...]" (blanks allowed around items; an IPv6 address keeps its colons:
// the count follows the last one).
bool parse_overrides(const std::string& v, BrokerConfig& c, std::string& why) {
  std::map<std::string, int32_t> out;
  size_t pos = 0;
  while (pos <= v.size()) {
    const size_t comma = std::min(v.find(',', pos), v.size());
    const std::string item = trim(v.substr(pos, comma - pos));
    pos = comma + 1;
    if (item.empty()) continue;
    const size_t colon = item.rfind(':');
    int32_t count = 0;
    if (colon == std::string::npos || colon == 0 ||
        !parse_int(trim(item.substr(colon + 1)), count, 0, std::numeric_limits<int32_t>::max())) {
      why = "expected host:count items separated by commas, got '" + item + "'";
      return false;
    }
    const std::string host = trim(item.substr(0, colon));
    const auto address = resolve_host(host);
    if (!address) {
      why = "cannot resolve host '" + host + "'";
      return false;
    }
    out[*address] = count;
  }
  c.max_connections_per_ip_overrides = std::move(out);
  return true;
}

constexpr int64_t kMaxInt = std::numeric_limits<int32_t>::max();

}  // namespace

const std::vector<Setting>& connection_settings() {
  static const std::vector<Setting> kSettings = {
      {"max.connections.per.ip", "2147483647",
       "Connections accepted at once from one address; more are closed at once. 0 only with "
       "max.connections.per.ip.overrides (then only the addresses named there may connect).",
       int_setting(&BrokerConfig::max_connections_per_ip, 0, std::numeric_limits<int32_t>::max())},
      {"max.connections.per.ip.overrides", "",
       "Per-address limits in place of max.connections.per.ip: host:count items separated by "
       "commas (a host name or an address; names are resolved at start-up).",
       parse_overrides},
      {"queued.max.request.bytes", "-1",
       "Bytes of requests read and not yet handled, over all connections (a Produce's until its "
       "records are appended); at or above it no connection reads another request until some "
       "are handled. -1 or 0: no bound; else at least socket.request.max.bytes.",
       long_setting(&BrokerConfig::queued_max_request_bytes, -1)},
      {"socket.send.buffer.bytes", "102400",
       "SO_SNDBUF of each client connection (the kernel doubles it); -1 leaves the size to the "
       "kernel, which then grows it with the connection's needs.",
       int_setting(&BrokerConfig::socket_send_buffer_bytes, -1, kMaxInt)},
      {"socket.receive.buffer.bytes", "-1",
       "SO_RCVBUF of each client connection, set on the listening socket so that the TCP window "
       "is scaled for it (the kernel doubles it); -1 leaves the size to the kernel, which grows "
       "it with the traffic. Kafka's default, 102400, cost 10-15% of the produce throughput in "
       "Kaffa's benchmark (docs/PERFORMANCE.md).",
       int_setting(&BrokerConfig::socket_receive_buffer_bytes, -1, kMaxInt)},
      {"socket.listen.backlog.size", "50",
       "Connections the kernel queues for each listener before they are accepted (capped by "
       "net.core.somaxconn).",
       int_setting(&BrokerConfig::socket_listen_backlog_size, 1, kMaxInt)},
  };
  return kSettings;
}

std::optional<std::string> check_connection_settings(const BrokerConfig& c) {
  if (c.max_connections_per_ip == 0 && c.max_connections_per_ip_overrides.empty()) {
    return "max.connections.per.ip can be set to zero only if max.connections.per.ip.overrides "
           "property is set.";
  }
  if (c.queued_max_request_bytes > 0 && c.queued_max_request_bytes < c.socket_request_max_bytes) {
    return "queued.max.request.bytes must be larger or equal to socket.request.max.bytes";
  }
  for (const auto& [name, bytes] :
       {std::pair{"socket.send.buffer.bytes", c.socket_send_buffer_bytes},
        std::pair{"socket.receive.buffer.bytes", c.socket_receive_buffer_bytes},
        std::pair{"replica.socket.receive.buffer.bytes",
                  c.cluster.replica_socket_receive_buffer_bytes}}) {
    if (bytes == 0) return std::string(name) + " must be -1 (the kernel's size) or positive";
  }
  return std::nullopt;
}

}  // namespace kaffa::broker::config_detail
