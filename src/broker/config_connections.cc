// Limits on what clients may hold: connections per address (Kafka's max.connections.per.ip and
// max.connections.per.ip.overrides; an override names a host or an address, host names are
// resolved once, at start-up, as Kafka does) and the memory of requests read and not yet handled
// (queued.max.request.bytes). Kafka's names, defaults and rules.
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
  return std::nullopt;
}

}  // namespace kaffa::broker::config_detail
