#include "tools/raw_client.h"

#include <netdb.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <map>
#include <optional>

#include "protocol/error_codes.h"
#include "protocol/messages/sasl_authenticate.h"
#include "protocol/messages/sasl_handshake.h"

namespace kaffa::cli {
namespace {

constexpr int16_t kSaslHandshake = 17;
constexpr int16_t kSaslAuthenticate = 36;

std::map<std::string, std::string> properties(const Globals& g) {
  std::map<std::string, std::string> out;
  for (const auto& p : g.properties) {
    const auto eq = p.find('=');
    if (eq == std::string::npos) usage_error("-X " + p + ": expected key=value");
    out[p.substr(0, eq)] = p.substr(eq + 1);
  }
  return out;
}

}  // namespace

std::optional<std::string> RawClient::unsupported(const Globals& g) {
  auto props = properties(g);
  const std::string protocol =
      props.count("security.protocol") ? props["security.protocol"] : "PLAINTEXT";
  std::string mechanism = props.count("sasl.mechanism") ? props["sasl.mechanism"] : "";
  if (mechanism.empty() && props.count("sasl.mechanisms")) mechanism = props["sasl.mechanisms"];
  for (const auto& [k, v] : props) {
    if (k != "security.protocol" && k != "sasl.mechanism" && k != "sasl.mechanisms" &&
        k != "sasl.username" && k != "sasl.password") {
      return "-X " + k + " is not supported by this verb";
    }
  }
  if (protocol != "PLAINTEXT" && protocol != "SASL_PLAINTEXT") {
    return "security.protocol " + protocol + " is not supported by this verb";
  }
  if (protocol == "SASL_PLAINTEXT" && mechanism != "PLAIN") {
    return "this verb authenticates with sasl.mechanism=PLAIN only";
  }
  return std::nullopt;
}

RawClient::RawClient(const Globals& g) {
  if (auto why = unsupported(g)) usage_error(*why);
  auto props = properties(g);
  const std::string protocol =
      props.count("security.protocol") ? props["security.protocol"] : "PLAINTEXT";

  std::string first = g.brokers.substr(0, g.brokers.find(','));
  const auto colon = first.rfind(':');
  if (colon == std::string::npos) usage_error("broker '" + first + "' is not host:port");
  const std::string host = first.substr(0, colon);
  const std::string port = first.substr(colon + 1);
  where_ = first;
  addrinfo hints{};
  hints.ai_socktype = SOCK_STREAM;
  addrinfo* res = nullptr;
  if (const int rc = ::getaddrinfo(host.c_str(), port.c_str(), &hints, &res); rc != 0) {
    throw Failure(kExitKafka, "cannot resolve " + first + ": " + ::gai_strerror(rc));
  }
  timeval tv{g.timeout_ms / 1000, (g.timeout_ms % 1000) * 1000};
  for (addrinfo* a = res; a != nullptr && fd_ < 0; a = a->ai_next) {
    fd_ = ::socket(a->ai_family, a->ai_socktype, a->ai_protocol);
    if (fd_ < 0) continue;
    ::setsockopt(fd_, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    ::setsockopt(fd_, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
    if (::connect(fd_, a->ai_addr, a->ai_addrlen) != 0) {
      ::close(fd_);
      fd_ = -1;
    }
  }
  ::freeaddrinfo(res);
  if (fd_ < 0)
    throw Failure(kExitKafka, "cannot connect to " + first + ": " + std::strerror(errno));
  if (protocol == "SASL_PLAINTEXT")
    authenticate_plain(props["sasl.username"], props["sasl.password"]);
}

RawClient::~RawClient() {
  if (fd_ >= 0) ::close(fd_);
}

protocol::RequestHeader RawClient::header(int16_t api_key, int16_t version) {
  protocol::RequestHeader h;
  h.request_api_key = api_key;
  h.request_api_version = version;
  h.correlation_id = ++correlation_;
  h.client_id = "kaffa-cli";
  return h;
}

std::string RawClient::round_trip(std::string& frame) {
  const auto n = static_cast<uint32_t>(frame.size() - 4);
  for (int i = 0; i < 4; ++i) frame[static_cast<size_t>(i)] = static_cast<char>(n >> (24 - 8 * i));
  for (size_t sent = 0; sent < frame.size();) {
    const ssize_t w = ::send(fd_, frame.data() + sent, frame.size() - sent, MSG_NOSIGNAL);
    if (w <= 0) throw Failure(kExitKafka, "cannot send to " + where_ + ": " + std::strerror(errno));
    sent += static_cast<size_t>(w);
  }
  auto read_exact = [&](char* p, size_t len) {
    for (size_t got = 0; got < len;) {
      const ssize_t r = ::recv(fd_, p + got, len - got, 0);
      if (r <= 0) {
        throw Failure(kExitKafka, where_ + " closed the connection or timed out (" +
                                      (r == 0 ? std::string("closed") : std::strerror(errno)) +
                                      ")");
      }
      got += static_cast<size_t>(r);
    }
  };
  unsigned char size[4];
  read_exact(reinterpret_cast<char*>(size), 4);
  const uint32_t len = (uint32_t{size[0]} << 24) | (uint32_t{size[1]} << 16) |
                       (uint32_t{size[2]} << 8) | uint32_t{size[3]};
  if (len > (64u << 20)) throw Failure(kExitKafka, "oversized answer from " + where_);
  std::string answer(len, '\0');
  read_exact(answer.data(), len);
  return answer;
}

void RawClient::authenticate_plain(const std::string& user, const std::string& password) {
  protocol::SaslHandshakeRequest hs;
  hs.mechanism = "PLAIN";
  protocol::SaslHandshakeResponse hs_resp;
  call(kSaslHandshake, 1, hs, hs_resp);
  if (hs_resp.error_code != 0) {
    throw Failure(kExitKafka, "SASL handshake with " + where_ + " failed (error " +
                                  std::to_string(hs_resp.error_code) + ")");
  }
  protocol::SaslAuthenticateRequest auth;
  const std::string token = std::string(1, '\0') + user + std::string(1, '\0') + password;
  auth.auth_bytes = token;
  protocol::SaslAuthenticateResponse auth_resp;
  call(kSaslAuthenticate, 2, auth, auth_resp);
  if (auth_resp.error_code != 0) {
    throw Failure(kExitKafka, "SASL authentication with " + where_ + " failed: " +
                                  auth_resp.error_message.value_or(
                                      "error " + std::to_string(auth_resp.error_code)));
  }
}

}  // namespace kaffa::cli
