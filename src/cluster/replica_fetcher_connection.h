// BrokerConnection: one blocking Kafka connection from a replica fetcher thread to a leader's
// inter-broker listener (PLAINTEXT, SSL with a client TLS context, SASL_PLAINTEXT or SASL_SSL
// after a SASL login), one request at a time, with the generated messages.
//
// Threading: used by one fetcher thread; interrupt() may be called from any thread to make a
// blocked call fail at once (shutdown).
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <string>

#include "protocol/headers.h"
#include "protocol/wire.h"

struct ssl_st;  // SSL

namespace kaffa::net {
class TlsContext;
}

namespace kaffa::cluster {

class BrokerConnection {
 public:
  BrokerConnection() = default;
  ~BrokerConnection();
  BrokerConnection(const BrokerConnection&) = delete;
  BrokerConnection& operator=(const BrokerConnection&) = delete;

  // Connects (closing any previous socket), then, with `tls` (a client context), completes a TLS
  // handshake whose certificate checks are the context's; false with *error.
  bool connect(const std::string& host, int32_t port, int64_t timeout_ms,
               const std::shared_ptr<const net::TlsContext>& tls, std::string* error);
  // After connect(): SaslHandshake v1 and SaslAuthenticate v1 with `mechanism` (PLAIN,
  // SCRAM-SHA-256/512) as `user`; false with *error (the server's message, or why the client gave
  // up) and the connection closed.
  bool login(const std::string& mechanism, const std::string& user, const std::string& password,
             int64_t timeout_ms, std::string* error);
  // SO_RCVBUF of the sockets connect() opens from now on, set before connecting so that the
  // window scale offered fits it; <= 0 (the default) leaves it to the kernel.
  void set_receive_buffer(int bytes) { receive_buffer_ = bytes; }
  bool connected() const { return fd_.load() >= 0; }
  // Between calls: whether the peer has closed or reset the connection (for instance after its
  // connections.max.idle.ms), so that the caller reconnects instead of failing its next call.
  // Looks only at the socket's hang-up and error flags: bytes waiting (a TLS 1.3 session ticket)
  // do not count.
  bool peer_closed() const;
  void close();
  void interrupt();  // any thread

  // Sends `req` as API `api_key` v`version` and decodes the answer into `resp`, whose views
  // (records) point into *answer, which the caller keeps alive (its size may exceed the answer).
  // False with *error (and the connection closed) on an I/O error, a timeout or an undecodable
  // answer.
  template <class Req, class Resp>
  bool call(int16_t api_key, int16_t version, const Req& req, Resp& resp, int64_t timeout_ms,
            std::shared_ptr<std::string>& answer, std::string* error) {
    std::string frame(4, '\0');
    protocol::Writer w(frame);
    protocol::RequestHeader h;
    h.request_api_key = api_key;
    h.request_api_version = version;
    h.correlation_id = ++correlation_;
    h.client_id = "kaffa-replica-fetcher";
    h.encode(w, protocol::request_header_version(api_key, version));
    req.encode(w, version);
    // The answer buffer is reused once nobody holds the previous answer (a follower's fetch
    // answers are megabytes: a fresh buffer each time cost page faults, the kernel's zeroing
    // and a memset, about a tenth of a follower's CPU).
    if (!spare_ || spare_.use_count() > 1) spare_ = std::make_shared<std::string>();
    size_t len = 0;
    if (!round_trip(frame, timeout_ms, *spare_, &len, error)) return false;
    answer = spare_;
    protocol::Reader r(std::string_view(*answer).substr(0, len));
    protocol::ResponseHeader rh;
    if (!rh.decode(r, protocol::response_header_version(api_key, version)) ||
        rh.correlation_id != h.correlation_id || !resp.decode(r, version)) {
      if (error != nullptr) *error = "malformed answer from " + where_ + ": " + r.error();
      close();
      return false;
    }
    return true;
  }

 private:
  // Sends the frame and reads the answer into the first *len bytes of `answer` (grown when too
  // small, never shrunk nor cleared).
  bool round_trip(std::string& frame, int64_t timeout_ms, std::string& answer, size_t* len,
                  std::string* error);
  bool fail(const std::string& what, std::string* error);
  bool handshake(int64_t deadline_ms, std::string* error);
  // One send (`sending`) or receive on the socket or through TLS: > 0 bytes moved, 0 for "wait
  // for `*wait` (POLLIN / POLLOUT), then call again", -1 on an error or the end of the stream.
  long transfer(char* p, size_t n, bool sending, short* wait);

  std::atomic<int> fd_{-1};
  ssl_st* ssl_ = nullptr;  // with TLS; fetcher thread only
  int32_t correlation_ = 0;
  int receive_buffer_ = -1;
  std::string where_;
  std::shared_ptr<std::string> spare_;  // the last answer's buffer
};

}  // namespace kaffa::cluster
