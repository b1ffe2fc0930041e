// RawClient: a small blocking Kafka client for the few requests librdkafka 2.0 (Debian's) has no
// API for — SCRAM credential management (KIP-554) — or answers badly (DescribeAcls, whose error
// code librdkafka drops). It speaks to the first bootstrap server only, with the protocol
// library's generated messages.
//
// Security: `-X security.protocol=PLAINTEXT` (default) or `SASL_PLAINTEXT` with
// `-X sasl.mechanism(s)=PLAIN`, `-X sasl.username=...`, `-X sasl.password=...` (SaslHandshake v1 +
// SaslAuthenticate v2). Other settings are refused with a usage error naming them.
//
// Threading: one thread; one request at a time.
#pragma once

#include <cstdint>
#include <optional>
#include <string>

#include "protocol/headers.h"
#include "protocol/wire.h"
#include "tools/cli_common.h"

namespace kaffa::cli {

class RawClient {
 public:
  explicit RawClient(const Globals& g);  // a usage error when unsupported(g)
  // Why these settings cannot be used here (security protocols and -X settings above), or nullopt.
  static std::optional<std::string> unsupported(const Globals& g);
  ~RawClient();
  RawClient(const RawClient&) = delete;
  RawClient& operator=(const RawClient&) = delete;

  // Sends `req` as API `api_key` version `version` and decodes the answer into `resp`; throws
  // Failure (exit 1) on a network error or an undecodable answer.
  template <class Req, class Resp>
  void call(int16_t api_key, int16_t version, const Req& req, Resp& resp) {
    std::string frame(4, '\0');
    protocol::Writer w(frame);
    header(api_key, version).encode(w, protocol::request_header_version(api_key, version));
    req.encode(w, version);
    const std::string answer = round_trip(frame);
    protocol::Reader r(answer);
    protocol::ResponseHeader h;
    if (!h.decode(r, protocol::response_header_version(api_key, version)) ||
        !resp.decode(r, version) || r.remaining() != 0) {
      throw Failure(kExitKafka, "malformed answer from " + where_ + ": " + r.error());
    }
  }
  // call(), then a Failure (exit 1) naming `what` when the answer's top-level error_code is set.
  template <class Req, class Resp>
  void call_checked(const char* what, int16_t api_key, int16_t version, const Req& req,
                    Resp& resp) {
    call(api_key, version, req, resp);
    if (resp.error_code != 0) {
      throw Failure(kExitKafka, std::string(what) + " failed: " +
                                    resp.error_message.value_or(std::to_string(resp.error_code)));
    }
  }

 private:
  protocol::RequestHeader header(int16_t api_key, int16_t version);
  std::string round_trip(std::string& frame);  // fills the size prefix; the answer's bytes
  void authenticate_plain(const std::string& user, const std::string& password);

  int fd_ = -1;
  int32_t correlation_ = 0;
  std::string where_;
};

}  // namespace kaffa::cli
