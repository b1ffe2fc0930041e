// A small HTTP/1.1 server for the broker's admin API (metrics, health, JSON views).
//
// Deliberately minimal: GET (and HEAD) only; the request head is bounded (max_request_bytes) and
// must arrive within request_timeout; any request body is ignored; every response carries
// Content-Length and `Connection: close`. A malformed request line or header gets 400, another
// method 405, a head too large 431; garbage never reaches the handler.
//
// Threading: it accepts and serves on loop 0 of a net::Server (the same thread as the Kafka
// acceptors); the handler is called there and must not block. It answers through the
// HttpReply it is given, exactly once, from any thread (the response is posted back to loop 0);
// an HttpReply dropped without a call closes the connection without an answer.
//
// Shutdown: when the Server begins stopping, the admin listener keeps answering while the Kafka
// connections drain (so /health can report 503), then closes its acceptor and connections once
// none is left or after `linger`, which lets loop 0 end.
//
// Like server.h, this header includes no Asio.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>

#include "net/server.h"

namespace kaffa::net {

struct HttpRequest {
  std::string method;                        // "GET" or "HEAD"
  std::string target;                        // as received, e.g. "/v1/log-level?set=debug"
  std::string path;                          // percent-decoded, without the query
  std::map<std::string, std::string> query;  // percent-decoded; later duplicates win
  std::string peer;                          // "host:port"
};

struct HttpResponse {
  int status = 200;
  std::string content_type = "text/plain; charset=utf-8";
  std::string body;
};

using HttpReply = std::function<void(HttpResponse)>;
using HttpHandler = std::function<void(const HttpRequest&, HttpReply)>;

struct HttpConfig {
  std::string host;                 // address or host name; empty = all IPv4 interfaces
  uint16_t port = 0;                // 0 = any free port
  size_t max_request_bytes = 8192;  // request line plus headers
  std::chrono::milliseconds request_timeout{10000};
  size_t max_connections = 64;              // beyond: accepted and closed at once
  std::chrono::milliseconds linger{10000};  // longest wait for Kafka connections at shutdown
};

// Parses a request head (request line and headers, without the blank line). Returns 0 and fills
// `out` when valid, else the HTTP status to answer (400, 405). Exposed for tests.
int parse_http_request(std::string_view head, HttpRequest& out);

// "%41b+c" -> "Ab c" ('+' as space, as in forms); invalid escapes are kept as they are.
std::string percent_decode(std::string_view s, bool plus_is_space);

class HttpServer {
 public:
  HttpServer(Server& server, HttpConfig config, HttpHandler handler);
  ~HttpServer();
  HttpServer(const HttpServer&) = delete;
  HttpServer& operator=(const HttpServer&) = delete;

  // Binds and listens; serving starts when the Server's loops run. Call once, before
  // Server::run(). Throws std::system_error naming the address on failure. Returns the bound port.
  uint16_t start();

  struct Impl;

 private:
  std::shared_ptr<Impl> impl_;
};

}  // namespace kaffa::net
