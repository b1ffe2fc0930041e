#include "net/http_server.h"

#include <fmt/format.h>

#include <array>
#include <asio/ip/tcp.hpp>
#include <asio/post.hpp>
#include <asio/steady_timer.hpp>
#include <asio/write.hpp>
#include <stdexcept>
#include <system_error>
#include <unordered_map>

#include "base/log.h"
#include "net/server_executor.h"

namespace kaffa::net {

using asio::ip::tcp;

namespace {

const char* reason(int status) {
  switch (status) {
    case 200:
      return "OK";
    case 400:
      return "Bad Request";
    case 404:
      return "Not Found";
    case 405:
      return "Method Not Allowed";
    case 408:
      return "Request Timeout";
    case 431:
      return "Request Header Fields Too Large";
    case 500:
      return "Internal Server Error";
    case 503:
      return "Service Unavailable";
    default:
      return "Unknown";
  }
}

int hex_digit(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

bool is_token_char(char c) {
  return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' ||
         c == '_' || c == '.' || c == '!' || c == '#' || c == '$' || c == '%' || c == '&' ||
         c == '\'' || c == '*' || c == '+' || c == '^' || c == '`' || c == '|' || c == '~';
}

// End of the request head ("\r\n\r\n" or a bare "\n\n"), or npos.
size_t head_end(std::string_view buf, size_t* terminator) {
  const size_t crlf = buf.find("\r\n\r\n");
  const size_t lf = buf.find("\n\n");
  if (crlf == std::string_view::npos && lf == std::string_view::npos) return std::string_view::npos;
  if (lf == std::string_view::npos || (crlf != std::string_view::npos && crlf < lf)) {
    *terminator = 4;
    return crlf;
  }
  *terminator = 2;
  return lf;
}

}  // namespace

std::string percent_decode(std::string_view s, bool plus_is_space) {
  std::string out;
  out.reserve(s.size());
  for (size_t i = 0; i < s.size(); ++i) {
    const char c = s[i];
    if (c == '%' && i + 2 < s.size()) {
      const int hi = hex_digit(s[i + 1]);
      const int lo = hex_digit(s[i + 2]);
      if (hi >= 0 && lo >= 0) {
        out += static_cast<char>(hi * 16 + lo);
        i += 2;
        continue;
      }
    }
    out += (plus_is_space && c == '+') ? ' ' : c;
  }
  return out;
}

int parse_http_request(std::string_view head, HttpRequest& out) {
  const size_t eol = head.find('\n');
  std::string_view line = head.substr(0, eol);
  if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
  const size_t sp1 = line.find(' ');
  if (sp1 == std::string_view::npos || sp1 == 0) return 400;
  const size_t sp2 = line.find(' ', sp1 + 1);
  if (sp2 == std::string_view::npos || sp2 == sp1 + 1) return 400;
  const std::string_view method = line.substr(0, sp1);
  const std::string_view target = line.substr(sp1 + 1, sp2 - sp1 - 1);
  const std::string_view version = line.substr(sp2 + 1);
  for (char c : method) {
    if (!is_token_char(c)) return 400;
  }
  if (version != "HTTP/1.1" && version != "HTTP/1.0") return 400;
  if (target.empty() || target.front() != '/') return 400;
  for (char c : target) {
    const auto u = static_cast<unsigned char>(c);
    if (u <= 0x20 || u >= 0x7f) return 400;
  }
  // Header lines: "name: value", name a token. Obsolete line folding is refused.
  std::string_view rest = eol == std::string_view::npos ? std::string_view() : head.substr(eol + 1);
  while (!rest.empty()) {
    const size_t e = rest.find('\n');
    std::string_view h = rest.substr(0, e);
    rest = e == std::string_view::npos ? std::string_view() : rest.substr(e + 1);
    if (!h.empty() && h.back() == '\r') h.remove_suffix(1);
    if (h.empty()) continue;
    const size_t colon = h.find(':');
    if (colon == std::string_view::npos || colon == 0) return 400;
    for (char c : h.substr(0, colon)) {
      if (!is_token_char(c)) return 400;
    }
  }
  out.method = std::string(method);
  out.target = std::string(target);
  const size_t q = target.find('?');
  out.path = percent_decode(target.substr(0, q), false);
  out.query.clear();
  if (q != std::string_view::npos) {
    std::string_view qs = target.substr(q + 1);
    while (!qs.empty()) {
      const size_t amp = qs.find('&');
      const std::string_view kv = qs.substr(0, amp);
      qs = amp == std::string_view::npos ? std::string_view() : qs.substr(amp + 1);
      if (kv.empty()) continue;
      const size_t eq = kv.find('=');
      out.query[percent_decode(kv.substr(0, eq), true)] =
          eq == std::string_view::npos ? std::string() : percent_decode(kv.substr(eq + 1), true);
    }
  }
  if (out.method != "GET" && out.method != "HEAD") return 405;
  return 0;
}

namespace {

class HttpConnection;

}  // namespace

struct HttpServer::Impl : std::enable_shared_from_this<HttpServer::Impl> {
  Impl(Server& s, HttpConfig c, HttpHandler h)
      : server(s),
        config(std::move(c)),
        handler(std::move(h)),
        ex(executor(s, 0)),
        acceptor(ex),
        linger_timer(ex) {}

  void accept();
  void begin_linger();
  void check_linger();
  void close_all();

  Server& server;
  const HttpConfig config;
  HttpHandler handler;
  asio::io_context::executor_type ex;
  tcp::acceptor acceptor;
  asio::steady_timer linger_timer;
  std::chrono::steady_clock::time_point linger_deadline{};
  std::unordered_map<uint64_t, std::weak_ptr<HttpConnection>> connections;  // loop 0 only
  uint64_t next_id = 1;
  bool closed = false;
};

namespace {

class HttpConnection : public std::enable_shared_from_this<HttpConnection> {
 public:
  HttpConnection(std::shared_ptr<HttpServer::Impl> owner, tcp::socket socket, uint64_t id)
      : owner_(std::move(owner)), socket_(std::move(socket)), timer_(owner_->ex), id_(id) {}

  void start() {
    asio::error_code ec;
    const auto ep = socket_.remote_endpoint(ec);
    if (!ec) peer_ = fmt::format("{}:{}", ep.address().to_string(), ep.port());
    timer_.expires_after(owner_->config.request_timeout);
    timer_.async_wait([self = shared_from_this()](const asio::error_code& e) {
      if (!e) self->close();
    });
    read();
  }

  void close() {
    if (closed_) return;
    closed_ = true;
    asio::error_code ec;
    timer_.cancel();
    socket_.close(ec);
    owner_->connections.erase(id_);
  }

 private:
  void read() {
    socket_.async_read_some(asio::buffer(chunk_),
                            [self = shared_from_this()](const asio::error_code& ec, size_t n) {
                              self->on_read(ec, n);
                            });
  }

  void on_read(const asio::error_code& ec, size_t n) {
    if (closed_) return;
    if (ec) return close();
    buf_.append(chunk_.data(), n);
    size_t term = 0;
    const size_t end = head_end(buf_, &term);
    if (end == std::string::npos) {
      if (buf_.size() > owner_->config.max_request_bytes) {
        return write({431, "text/plain; charset=utf-8", "request head too large\n"});
      }
      return read();
    }
    if (end + term > owner_->config.max_request_bytes) {
      return write({431, "text/plain; charset=utf-8", "request head too large\n"});
    }
    HttpRequest req;
    const int status = parse_http_request(std::string_view(buf_).substr(0, end), req);
    buf_.clear();
    if (status != 0) {
      return write({status, "text/plain; charset=utf-8",
                    status == 405 ? "only GET is supported\n" : "bad request\n"});
    }
    req.peer = peer_;
    head_only_ = req.method == "HEAD";
    auto ex = owner_->ex;
    HttpReply reply = [self = shared_from_this(), ex](HttpResponse r) {
      asio::post(ex, [self, r = std::move(r)]() mutable { self->write(std::move(r)); });
    };
    try {
      owner_->handler(req, std::move(reply));
    } catch (const std::exception& e) {
      log::warn("admin: {} {} failed: {}", req.method, req.target, e.what());
      write({500, "text/plain; charset=utf-8", "internal error\n"});
    }
  }

  void write(HttpResponse r) {
    if (closed_ || responded_) return;
    responded_ = true;
    out_ = fmt::format(
        "HTTP/1.1 {} {}\r\nContent-Type: {}\r\nContent-Length: {}\r\nConnection: close\r\n"
        "Cache-Control: no-store\r\n\r\n",
        r.status, reason(r.status), r.content_type, r.body.size());
    if (!head_only_) out_ += r.body;
    asio::async_write(socket_, asio::buffer(out_),
                      [self = shared_from_this()](const asio::error_code& ec, size_t) {
                        if (ec) return self->close();
                        self->linger_close();
                      });
  }

  // Half-closes, then reads (and drops) whatever the peer still sends until it closes, so that
  // unread request bytes do not turn our close into a reset that destroys the response.
  void linger_close() {
    if (closed_) return;
    asio::error_code ec;
    socket_.shutdown(tcp::socket::shutdown_send, ec);
    if (ec) return close();
    socket_.async_read_some(asio::buffer(chunk_),
                            [self = shared_from_this()](const asio::error_code& e, size_t) {
                              if (e) return self->close();
                              self->linger_close();
                            });
  }

  std::shared_ptr<HttpServer::Impl> owner_;
  tcp::socket socket_;
  asio::steady_timer timer_;
  const uint64_t id_;
  std::string peer_ = "?";
  std::array<char, 2048> chunk_{};
  std::string buf_;
  std::string out_;
  bool head_only_ = false;
  bool responded_ = false;
  bool closed_ = false;
};

}  // namespace

void HttpServer::Impl::accept() {
  acceptor.async_accept([self = shared_from_this()](const asio::error_code& ec,
                                                    tcp::socket socket) {
    if (self->closed || ec == asio::error::operation_aborted) return;
    if (ec) {
      // Typically out of descriptors: pause instead of spinning on the error.
      log::warn("admin: accept failed: {}", ec.message());
      auto pause = std::make_shared<asio::steady_timer>(self->ex, std::chrono::milliseconds(100));
      pause->async_wait([self, pause](const asio::error_code&) {
        if (!self->closed) self->accept();
      });
      return;
    }
    if (self->connections.size() >= self->config.max_connections) {
      asio::error_code ignored;
      socket.close(ignored);
    } else {
      const uint64_t id = self->next_id++;
      auto conn = std::make_shared<HttpConnection>(self, std::move(socket), id);
      self->connections.emplace(id, conn);
      conn->start();
    }
    self->accept();
  });
}

void HttpServer::Impl::begin_linger() {
  if (closed) return;
  linger_deadline = std::chrono::steady_clock::now() + config.linger;
  check_linger();
}

void HttpServer::Impl::check_linger() {
  if (closed) return;
  if (server.stats().connections_open.load(std::memory_order_relaxed) == 0 ||
      std::chrono::steady_clock::now() >= linger_deadline) {
    return close_all();
  }
  linger_timer.expires_after(std::chrono::milliseconds(20));
  linger_timer.async_wait([self = shared_from_this()](const asio::error_code& ec) {
    if (!ec) self->check_linger();
  });
}

void HttpServer::Impl::close_all() {
  if (closed) return;
  closed = true;
  asio::error_code ec;
  acceptor.close(ec);
  linger_timer.cancel();
  auto conns = std::move(connections);
  connections.clear();
  for (auto& [id, weak] : conns) {
    if (auto c = weak.lock()) c->close();
  }
}

HttpServer::HttpServer(Server& server, HttpConfig config, HttpHandler handler)
    : impl_(std::make_shared<Impl>(server, std::move(config), std::move(handler))) {}

HttpServer::~HttpServer() {
  // Normally closed at shutdown already; closing again is harmless. The Impl itself lives on in
  // any handler still queued on loop 0 until that loop's context is destroyed.
  if (!impl_->closed) {
    impl_->closed = true;
    asio::error_code ec;
    impl_->acceptor.close(ec);
  }
}

uint16_t HttpServer::start() {
  Impl& s = *impl_;
  asio::error_code ec;
  tcp::endpoint endpoint;
  if (s.config.host.empty()) {
    endpoint = tcp::endpoint(asio::ip::address_v4::any(), s.config.port);
  } else if (auto addr = asio::ip::make_address(s.config.host, ec); !ec) {
    endpoint = tcp::endpoint(addr, s.config.port);
  } else {
    tcp::resolver resolver(s.ex);
    auto results = resolver.resolve(s.config.host, std::to_string(s.config.port), ec);
    if (ec || results.empty()) {
      throw std::system_error(
          ec ? ec : asio::error::host_not_found,
          fmt::format("admin listener: cannot resolve host '{}'", s.config.host));
    }
    endpoint = results.begin()->endpoint();
  }
  const char* step = "open";
  s.acceptor.open(endpoint.protocol(), ec);
  if (!ec) s.acceptor.set_option(asio::socket_base::reuse_address(true), ec);
  if (!ec) step = "bind", s.acceptor.bind(endpoint, ec);
  if (!ec) step = "listen", s.acceptor.listen(asio::socket_base::max_listen_connections, ec);
  if (ec) {
    throw std::system_error(
        ec, fmt::format("admin listener: cannot {} {}:{}", step,
                        s.config.host.empty() ? "0.0.0.0" : s.config.host, s.config.port));
  }
  const uint16_t port = s.acceptor.local_endpoint().port();
  std::weak_ptr<Impl> weak = impl_;
  s.server.on_stop([weak] {
    if (auto self = weak.lock()) self->begin_linger();
  });
  asio::post(s.ex, [self = impl_] { self->accept(); });
  return port;
}

}  // namespace kaffa::net
