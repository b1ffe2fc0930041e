// One HTTP/1.1 connection to one etcd endpoint, used for one exchange at a time (keep-alive:
// the client pools idle ones). Owned through shared_ptr: pending operations keep it alive.
//
// Threading: used only on its executor (the client's); its callbacks run there. close() makes
// pending operations complete with asio::error::operation_aborted.
#pragma once

#include <array>
#include <asio/any_io_executor.hpp>
#include <asio/ip/tcp.hpp>
#include <functional>
#include <memory>
#include <string>
#include <system_error>

#include "cluster/etcd/http.h"

namespace kaffa::etcd {

struct Endpoint {
  std::string host;
  uint16_t port = 0;
  // "host:port", IPv6 addresses in brackets (the form of an HTTP Host header).
  std::string str() const {
    const bool v6 = host.find(':') != std::string::npos;
    return (v6 ? "[" + host + "]" : host) + ":" + std::to_string(port);
  }
};

class HttpConnection : public std::enable_shared_from_this<HttpConnection> {
 public:
  HttpConnection(asio::any_io_executor ex, Endpoint endpoint, size_t endpoint_index);

  const Endpoint& endpoint() const { return endpoint_; }
  size_t endpoint_index() const { return endpoint_index_; }

  // Resolves the host and connects (first address that accepts).
  void connect(std::function<void(std::error_code)> done);

  // Writes `request`, then feeds what arrives to `parser` until it is done or failed, or the
  // connection ends (then parser->finish()). `done(ec, sent)`: ec is an I/O error that stopped
  // the exchange (none when the parser decided); `sent` whether the request was fully written.
  void exchange(std::string request, std::shared_ptr<HttpResponseParser> parser,
                std::function<void(std::error_code ec, bool sent)> done);

  // Writes more of a streamed request body while the exchange reads the answer. At most one
  // such write is in flight: while one is, further ones are dropped (returns false).
  bool write_more(std::string bytes);

  // Whether an idle connection can take another request: open, the last response allowed
  // keep-alive, and the peer has not closed it meanwhile (checked with a non-blocking peek).
  bool reusable();
  void close();

 private:
  void read_more(std::shared_ptr<HttpResponseParser> parser,
                 std::function<void(std::error_code, bool)> done);

  asio::ip::tcp::resolver resolver_;
  asio::ip::tcp::socket socket_;
  Endpoint endpoint_;
  size_t endpoint_index_;
  std::string out_;
  std::string out_more_;
  bool writing_more_ = false;
  std::array<char, 16 * 1024> in_{};
  bool reusable_ = false;
};

}  // namespace kaffa::etcd
