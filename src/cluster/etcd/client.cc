#include "cluster/etcd/client.h"

#include <fmt/format.h>

#include <algorithm>
#include <asio/post.hpp>
#include <asio/steady_timer.hpp>
#include <charconv>

namespace kaffa::etcd {
namespace {

// etcd's "unavailable" answers that mean the request was refused before it was proposed to
// raft, so a write can go to another member without the risk of applying it twice. Others
// ("request timed out", "leader changed", ...) leave a write's outcome unknown.
bool refused_before_proposal(std::string_view message) {
  return message == "etcdserver: no leader" || message == "etcdserver: not capable" ||
         message == "etcdserver: unhealthy cluster" || message == "HTTP 503";
}

Error unavailable(std::string m) {
  return Error::make(Error::Code::unavailable, std::move(m));
}
Error bad(std::string m) {
  return Error::make(Error::Code::bad_response, std::move(m));
}

}  // namespace

Result<std::vector<Endpoint>> parse_endpoints(std::string_view spec) {
  if (spec.starts_with("etcd://")) spec.remove_prefix(7);
  std::vector<Endpoint> out;
  auto malformed = [](std::string_view item) {
    return Error::make(
        Error::Code::bad_response,
        fmt::format("malformed etcd endpoint '{}' (want host:port[,host:port])", item));
  };
  size_t pos = 0;
  while (true) {
    const auto comma = spec.find(',', pos);
    const std::string_view item = spec.substr(pos, comma == spec.npos ? spec.npos : comma - pos);
    Endpoint e;
    std::string_view port;
    if (item.starts_with('[')) {
      const auto close = item.find("]:");
      if (close == std::string_view::npos) return malformed(item);
      e.host = std::string(item.substr(1, close - 1));
      port = item.substr(close + 2);
    } else {
      const auto colon = item.rfind(':');
      if (colon == std::string_view::npos) return malformed(item);
      e.host = std::string(item.substr(0, colon));
      port = item.substr(colon + 1);
    }
    const auto r = std::from_chars(port.data(), port.data() + port.size(), e.port);
    if (e.host.empty() || r.ec != std::errc() || r.ptr != port.data() + port.size() || !e.port) {
      return malformed(item);
    }
    out.push_back(std::move(e));
    if (comma == spec.npos) return out;
    pos = comma + 1;
  }
}

struct Client::Call {
  explicit Call(const asio::any_io_executor& ex) : timer(ex) {}
  std::string path;
  std::string body;
  bool retry_after_send = false;
  bool streamed = false;
  Callback<json::Value> done;
  Callback<std::shared_ptr<HttpConnection>> connection_done;  // open_stream_connection only
  asio::steady_timer timer;
  size_t endpoint = 0;
  size_t tried = 0;
  std::shared_ptr<HttpConnection> conn;
  bool finished = false;
  Error last_error = unavailable("no endpoint tried");
};

Client::Client(asio::any_io_executor ex, ClientOptions options)
    : ex_(std::move(ex)), options_(std::move(options)) {}

std::shared_ptr<Client> Client::create(asio::any_io_executor ex, ClientOptions options) {
  return std::shared_ptr<Client>(new Client(std::move(ex), std::move(options)));
}

std::string Client::http_request(const Endpoint& endpoint, std::string_view path,
                                 std::string_view body) {
  return format_http_post(endpoint.str(), path, body);
}

std::optional<Error> Client::http_error(const HttpResponseParser& parser) {
  if (parser.status() == 200) return std::nullopt;
  // The gateway's error body: {"error": "...", "message": "...", "code": <gRPC code>}.
  std::string_view body = parser.body();
  const size_t len = json::complete_value_length(body);
  auto v = json::parse(body.substr(0, len ? len : body.size()));
  std::optional<Error> e = v ? gateway_error(*v) : std::nullopt;
  if (!e) {
    if (parser.status() == 503) return unavailable("HTTP 503");
    return bad(fmt::format("HTTP {} without an etcd error body", parser.status()));
  }
  if (parser.status() == 503) e->code = Error::Code::unavailable;
  return e;
}

void Client::call(std::string path, std::string body, bool retry_after_send, bool streamed,
                  Callback<json::Value> done) {
  auto c = std::make_shared<Call>(ex_);
  c->path = std::move(path);
  c->body = std::move(body);
  c->retry_after_send = retry_after_send;
  c->streamed = streamed;
  c->done = std::move(done);
  std::string timeout_message =
      fmt::format("{} took longer than {} ms", c->path, options_.request_timeout.count());
  start(std::move(c), std::move(timeout_message));
}

void Client::open_stream_connection(Callback<std::shared_ptr<HttpConnection>> done) {
  auto c = std::make_shared<Call>(ex_);
  c->connection_done = std::move(done);
  start(std::move(c), "connecting to etcd took too long");
}

void Client::start(std::shared_ptr<Call> c, std::string timeout_message) {
  if (closed_ || options_.endpoints.empty()) {
    asio::post(ex_, [c, closed = closed_] {
      Error e = closed ? Error::make(Error::Code::cancelled, "etcd client closed")
                       : Error::make(Error::Code::unavailable, "no etcd endpoints configured");
      if (c->connection_done) return c->connection_done(std::move(e));
      c->done(std::move(e));
    });
    return;
  }
  c->endpoint = current_;
  pending_.push_back(c);
  c->timer.expires_after(options_.request_timeout);
  c->timer.async_wait(
      [self = shared_from_this(), c, m = std::move(timeout_message)](std::error_code ec) mutable {
        if (ec || c->finished) return;
        self->skip_endpoint(c->endpoint);
        self->finish(c, Error::make(Error::Code::timeout, std::move(m)));
      });
  attempt(std::move(c));
}

void Client::attempt(std::shared_ptr<Call> c) {
  if (c->finished) return;
  if (c->tried >= options_.endpoints.size()) return finish(c, c->last_error);
  const size_t idx = c->endpoint;
  if (!c->connection_done) {
    if (auto conn = take_idle(idx)) {
      c->conn = conn;
      auto parser = std::make_shared<HttpResponseParser>(options_.max_response_bytes);
      conn->exchange(http_request(conn->endpoint(), c->path, c->body), parser,
                     [self = shared_from_this(), c, conn, parser](std::error_code ec, bool sent) {
                       self->on_exchanged(c, conn, parser, ec, sent);
                     });
      return;
    }
  }
  auto conn = std::make_shared<HttpConnection>(ex_, options_.endpoints[idx], idx);
  c->conn = conn;
  conn->connect([self = shared_from_this(), c, conn](std::error_code ec) {
    if (c->finished) return conn->close();
    if (ec) {
      conn->close();
      return self->next_endpoint(c, unavailable(fmt::format("cannot connect to {}: {}",
                                                            conn->endpoint().str(), ec.message())));
    }
    self->on_connected(c, conn);
  });
}

void Client::on_connected(std::shared_ptr<Call> c, std::shared_ptr<HttpConnection> conn) {
  if (c->connection_done) {
    current_ = conn->endpoint_index();
    return finish(c, json::Value());
  }
  auto parser = std::make_shared<HttpResponseParser>(options_.max_response_bytes);
  conn->exchange(http_request(conn->endpoint(), c->path, c->body), parser,
                 [self = shared_from_this(), c, conn, parser](std::error_code ec, bool sent) {
                   self->on_exchanged(c, conn, parser, ec, sent);
                 });
}

void Client::on_exchanged(std::shared_ptr<Call> c, std::shared_ptr<HttpConnection> conn,
                          std::shared_ptr<HttpResponseParser> parser, std::error_code ec,
                          bool sent) {
  using State = HttpResponseParser::State;
  if (c->finished) return conn->close();
  const bool io_failure = ec || parser->state() != State::done;
  if (!ec && parser->state() == State::failed &&
      !parser->error().starts_with("connection closed")) {
    conn->close();
    return finish(c, bad(fmt::format("from {}: {}", conn->endpoint().str(), parser->error())));
  }
  if (io_failure) {
    conn->close();
    const std::string why = ec ? ec.message() : parser->error();
    Error e = unavailable(fmt::format("{} {}: {}", conn->endpoint().str(), c->path, why));
    if (!sent || c->retry_after_send) return next_endpoint(c, std::move(e));
    e.message += " (sent; outcome unknown)";
    return finish(c, std::move(e));
  }
  const auto http_err = http_error(*parser);
  if (conn->reusable()) {
    give_back(conn);
  } else {
    conn->close();
  }
  if (http_err) {
    if (http_err->code == Error::Code::unavailable &&
        (c->retry_after_send || refused_before_proposal(http_err->message))) {
      return next_endpoint(c, *http_err);
    }
    return finish(c, *http_err);
  }
  current_ = conn->endpoint_index();
  std::string_view body = parser->body();
  if (c->streamed) {
    const size_t len = json::complete_value_length(body);
    if (len == 0) return finish(c, bad(c->path + ": empty stream"));
    body = body.substr(0, len);
  }
  std::string err;
  auto v = json::parse(body, &err);
  if (!v || !v->is_object()) return finish(c, bad(c->path + ": not a JSON object: " + err));
  if (c->streamed) {
    if (auto e = gateway_error(*v)) return finish(c, std::move(*e));
    const auto* result = v->find("result");
    if (!result || !result->is_object()) return finish(c, bad(c->path + ": no result"));
    json::Value r = *result;
    return finish(c, std::move(r));
  }
  finish(c, std::move(*v));
}

void Client::next_endpoint(std::shared_ptr<Call> c, Error why) {
  c->last_error = std::move(why);
  ++c->tried;
  c->endpoint = (c->endpoint + 1) % options_.endpoints.size();
  attempt(std::move(c));
}

void Client::finish(const std::shared_ptr<Call>& c, Result<json::Value> result) {
  if (c->finished) return;
  c->finished = true;
  c->timer.cancel();
  std::erase_if(pending_, [&](const std::weak_ptr<Call>& w) {
    auto p = w.lock();
    return !p || p == c;
  });
  if (c->connection_done) {
    if (result.ok()) {
      std::erase_if(streams_, [](const auto& w) { return w.expired(); });
      streams_.push_back(c->conn);
      c->connection_done(c->conn);
    } else {
      if (c->conn) c->conn->close();
      c->connection_done(result.error());
    }
    return;
  }
  if (!result.ok() && c->conn) c->conn->close();
  c->done(std::move(result));
}

void Client::skip_endpoint(size_t endpoint_index) {
  if (current_ == endpoint_index) current_ = (current_ + 1) % options_.endpoints.size();
}

std::shared_ptr<HttpConnection> Client::take_idle(size_t endpoint_index) {
  while (true) {
    auto it = std::find_if(idle_.begin(), idle_.end(), [&](const auto& conn) {
      return conn->endpoint_index() == endpoint_index;
    });
    if (it == idle_.end()) return nullptr;
    auto conn = *it;
    idle_.erase(it);
    if (conn->reusable()) return conn;
    conn->close();
  }
}

void Client::give_back(std::shared_ptr<HttpConnection> conn) {
  if (closed_) return conn->close();
  idle_.push_back(std::move(conn));
  while (idle_.size() > options_.max_idle_connections) {
    idle_.front()->close();
    idle_.erase(idle_.begin());
  }
}

void Client::close() {
  if (closed_) return;
  closed_ = true;
  for (auto& conn : idle_) conn->close();
  idle_.clear();
  for (auto& w : streams_) {
    if (auto conn = w.lock()) conn->close();
  }
  streams_.clear();
  auto pending = std::move(pending_);
  pending_.clear();
  for (auto& w : pending) {
    auto c = w.lock();
    if (!c || c->finished) continue;
    // Posted, so a callback that calls back into the client does not run inside close().
    c->finished = true;
    c->timer.cancel();
    if (c->conn) c->conn->close();
    asio::post(ex_, [c] {
      Error e = Error::make(Error::Code::cancelled, "etcd client closed");
      if (c->connection_done) {
        c->connection_done(std::move(e));
      } else {
        c->done(std::move(e));
      }
    });
  }
}

}  // namespace kaffa::etcd
