// What a handler gets for one request: the parsed header, the body bytes, the connection, the
// broker's state, and a Responder that frames the answer.
//
// Threading: a handler runs on the event-loop thread of the request's connection and must not
// block. It may finish later from another thread by moving the Responder there (acks=all,
// long-polling fetches); responses still leave the connection in request order.
#pragma once

#include <string>
#include <string_view>
#include <utility>

#include "base/log.h"
#include "base/metrics.h"
#include "net/server.h"
#include "protocol/headers.h"

namespace kaffa::broker {

class Broker;

class Responder {
 public:
  Responder(net::Completion done, int32_t correlation_id, int16_t api_key, int16_t api_version)
      : done_(std::move(done)),
        correlation_id_(correlation_id),
        api_key_(api_key),
        api_version_(api_version) {}

  // Encodes `body` at the request's version with the matching response header and sends it.
  template <class M>
  void send(const M& body) {
    send_at(body, api_version_, protocol::response_header_version(api_key_, api_version_));
  }
  // Same, with a body version chosen by the handler (ApiVersions answers v0 to unknown versions).
  template <class M>
  void send_at(const M& body, int16_t version, int16_t header_version = 0) {
    net::ResponseFrame frame;
    std::vector<protocol::Splice> splices;
    protocol::append_response_frame(frame.bytes, splices, correlation_id_, header_version, body,
                                    version);
    frame.splices.reserve(splices.size());
    for (auto& s : splices) {
      frame.splices.push_back(
          {s.at, s.range.fd, s.range.offset, s.range.length, std::move(s.range.keepalive)});
    }
    frame.written = timer_.release();  // the latency ends when the answer is written
    frame.mute_ms = mute_ms_;
    done_.send(std::move(frame));
  }
  // Sends `body`, then closes the connection once it is written (failed authentication).
  template <class M>
  void send_and_close(const M& body) {
    net::ResponseFrame frame;
    std::vector<protocol::Splice> splices;
    protocol::append_response_frame(frame.bytes, splices, correlation_id_,
                                    protocol::response_header_version(api_key_, api_version_), body,
                                    api_version_);
    frame.written = timer_.release();
    done_.send_and_close(std::move(frame));
  }
  void none() {
    done_.none();
    timer_.finish();
  }
  void close() {
    done_.close();
    timer_.finish();
  }
  // The request's latency (metrics), observed once the answer's last byte is written (at once for
  // none() and close(), which write nothing).
  void set_timer(metrics::Timer timer) { timer_ = std::move(timer); }
  // Reads no further request of this connection for `ms` once the answer is written (quotas).
  void mute_after(int32_t ms) { mute_ms_ = ms; }

 private:
  net::Completion done_;
  int32_t correlation_id_;
  int16_t api_key_;
  int16_t api_version_;
  metrics::Timer timer_;
  int32_t mute_ms_ = 0;
};

struct RequestContext {
  const protocol::RequestHeader& header;
  std::string_view body;
  const net::ConnectionInfo& conn;
  Broker& broker;
  // The request's bytes. A handler that finishes later and needs them (Produce appends the record
  // batches in place) moves the frame out; `body` views stay valid (the buffer does not move).
  net::RequestFrame* frame;

  int16_t version() const { return header.request_api_version; }
  // The principal the request acts as (Broker::principal_of).
  std::string principal() const;

  // Decodes the body; on failure logs one line and returns false (the caller closes the
  // connection, as Kafka does for a request it cannot parse).
  template <class M>
  bool decode(M& msg) const {
    protocol::Reader r(body);
    if (msg.decode(r, version())) return true;
    log::warn("closing connection {} from {}: malformed {} v{} request: {}", conn.id, conn.peer,
              header.request_api_key, version(), r.error());
    return false;
  }
};

}  // namespace kaffa::broker
