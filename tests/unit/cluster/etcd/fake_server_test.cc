// Robustness: a tiny in-test HTTP server answers the client with garbage, truncated or
// malformed responses. Every case must end in an Error value (never a crash, hang or exception),
// and a valid answer cut at any byte must be an error too.
#include <gtest/gtest.h>

#include <asio/ip/tcp.hpp>
#include <asio/read.hpp>
#include <asio/write.hpp>
#include <random>

#include "cluster/etcd/etcd_testing.h"
#include "cluster/etcd/watch.h"

namespace kaffa::etcd {
namespace {

using testing::await;

// Accepts connections; for each request (head plus Content-Length body) writes `reply` and
// closes, unless `hang` (then it keeps the connection open and silent).
class FakeServer {
 public:
  explicit FakeServer(asio::io_context& io)
      : acceptor_(io, asio::ip::tcp::endpoint(asio::ip::make_address("127.0.0.1"), 0)) {
    accept();
  }
  ~FakeServer() {
    std::error_code ec;
    acceptor_.close(ec);
  }
  Endpoint endpoint() const { return {"127.0.0.1", acceptor_.local_endpoint().port()}; }

  std::string reply;
  bool hang = false;
  bool keep_alive = false;  // answer further requests on the same connection
  int requests = 0;
  int connections = 0;

 private:
  struct Conn {
    explicit Conn(asio::ip::tcp::socket s) : socket(std::move(s)) {}
    asio::ip::tcp::socket socket;
    std::string in;
    std::array<char, 4096> buf{};
  };

  void accept() {
    acceptor_.async_accept([this](std::error_code ec, asio::ip::tcp::socket s) {
      if (ec) return;
      ++connections;
      read(std::make_shared<Conn>(std::move(s)));
      accept();
    });
  }

  static bool complete(const std::string& in) {
    const auto end = in.find("\r\n\r\n");
    if (end == std::string::npos) return false;
    const auto cl = in.find("Content-Length: ");
    const size_t len = cl == std::string::npos ? 0 : std::stoul(in.substr(cl + 16));
    return in.size() >= end + 4 + len;
  }

  void read(std::shared_ptr<Conn> c) {
    c->socket.async_read_some(asio::buffer(c->buf), [this, c](std::error_code ec, size_t n) {
      if (ec) return;
      c->in.append(c->buf.data(), n);
      if (!complete(c->in)) return read(c);
      ++requests;
      if (hang) return read(c);  // keeps the socket (and silence) until the client gives up
      c->in.clear();
      asio::async_write(c->socket, asio::buffer(reply), [this, c](std::error_code, size_t) {
        if (keep_alive) return read(c);
        std::error_code ignored;
        c->socket.shutdown(asio::ip::tcp::socket::shutdown_both, ignored);
        c->socket.close(ignored);
      });
    });
  }

  asio::ip::tcp::acceptor acceptor_;
};

std::string ok_response(const std::string& body) {
  return "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: " +
         std::to_string(body.size()) + "\r\n\r\n" + body;
}

const std::string kRangeBody =
    R"({"header":{"cluster_id":"1","member_id":"2","revision":"7","raft_term":"2"},)"
    R"("kvs":[{"key":"YQ==","create_revision":"2","mod_revision":"7","version":"3","value":"MQ=="}],"count":"1"})";

class FakeEtcd : public ::testing::Test {
 protected:
  Result<RangeResult> range_against(const std::string& reply) {
    server_.reply = reply;
    auto client = testing::make_client(io_, {server_.endpoint()}, std::chrono::milliseconds(500));
    auto r = await<RangeResult>(io_, [&](auto cb) { client->get_prefix("a", cb); });
    client->close();
    return r;
  }
  void expect_error(const std::string& reply, Error::Code code) {
    auto r = range_against(reply);
    ASSERT_FALSE(r) << "accepted: " << reply;
    EXPECT_EQ(r.error().code, code) << r.error().describe() << " for: " << reply;
  }

  asio::io_context io_;
  FakeServer server_{io_};
};

TEST_F(FakeEtcd, AValidAnswerIsDecoded) {
  auto r = range_against(ok_response(kRangeBody));
  ASSERT_TRUE(r) << r.error().describe();
  ASSERT_EQ(r->kvs.size(), 1u);
  EXPECT_EQ(r->kvs[0].key, "a");
  EXPECT_EQ(r->kvs[0].value, "1");
  EXPECT_EQ(r->kvs[0].version, 3);
  EXPECT_EQ(r->revision, 7);
  // Chunked, in two chunks, with a trailer (as the gateway sends errors).
  const std::string a = kRangeBody.substr(0, 10), b = kRangeBody.substr(10);
  char size_a[16], size_b[16];
  snprintf(size_a, sizeof size_a, "%zx", a.size());
  snprintf(size_b, sizeof size_b, "%zx", b.size());
  auto chunked =
      range_against(std::string("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n") + size_a +
                    "\r\n" + a + "\r\n" + size_b + "\r\n" + b +
                    "\r\n0\r\nGrpc-Trailer-Content-Type: application/grpc\r\n\r\n");
  ASSERT_TRUE(chunked) << chunked.error().describe();
  EXPECT_EQ(chunked->kvs.size(), 1u);
}

TEST_F(FakeEtcd, SequentialRequestsReuseOneConnection) {
  server_.keep_alive = true;
  server_.reply = ok_response(kRangeBody);
  auto client = testing::make_client(io_, {server_.endpoint()});
  for (int i = 0; i < 5; ++i) {
    auto r = await<RangeResult>(io_, [&](auto cb) { client->get_prefix("a", cb); });
    ASSERT_TRUE(r) << r.error().describe();
  }
  EXPECT_EQ(server_.requests, 5);
  EXPECT_EQ(server_.connections, 1);
  // An answer with "Connection: close" is not reused.
  server_.reply = "HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: " +
                  std::to_string(kRangeBody.size()) + "\r\n\r\n" + kRangeBody;
  for (int i = 0; i < 2; ++i) {
    auto r = await<RangeResult>(io_, [&](auto cb) { client->get_prefix("a", cb); });
    ASSERT_TRUE(r) << r.error().describe();
  }
  EXPECT_EQ(server_.connections, 2);
  client->close();
}

TEST_F(FakeEtcd, MalformedAnswersAreBadResponses) {
  using C = Error::Code;
  expect_error("hello world\r\n\r\n", C::bad_response);
  expect_error("HTTP/1.1 abc OK\r\n\r\n", C::bad_response);
  expect_error("HTTP/1.1 200 OK\r\nno colon here\r\n\r\n", C::bad_response);
  expect_error("HTTP/1.1 200 OK\r\nContent-Length: x\r\n\r\n", C::bad_response);
  expect_error("HTTP/1.1 200 OK\r\nContent-Length: 99999999999\r\n\r\n", C::bad_response);
  expect_error("HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip\r\n\r\n", C::bad_response);
  expect_error("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n", C::bad_response);
  expect_error("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\r\n{}XX", C::bad_response);
  expect_error(ok_response("not json"), C::bad_response);
  expect_error(ok_response("[1,2]"), C::bad_response);
  expect_error(ok_response(R"({"kvs":"x"})"), C::bad_response);
  expect_error(ok_response(R"({"kvs":[{"key":"!!!"}]})"), C::bad_response);
  expect_error(ok_response(R"({"kvs":[{"key":"YQ==","version":"seven"}]})"), C::bad_response);
  expect_error(ok_response(R"({"count":{}})"), C::bad_response);
  expect_error(ok_response(std::string(100, '[') + std::string(100, ']')), C::bad_response);
  expect_error("HTTP/1.1 500 Internal\r\nContent-Length: 3\r\n\r\nabc", C::bad_response);
  // An etcd error body is an etcd error; 503 means unavailable.
  expect_error(
      "HTTP/1.1 400 Bad\r\nContent-Length: 40\r\n\r\n"
      R"({"error":"x","message":"bad","code":3}  )",
      C::etcd);
  expect_error("HTTP/1.1 503 Unavailable\r\nContent-Length: 0\r\n\r\n", C::unavailable);
}

TEST_F(FakeEtcd, ConnectionsEndingEarlyAreUnavailable) {
  expect_error("", Error::Code::unavailable);
  expect_error("HTTP/1.1 200 OK\r\nContent-Le", Error::Code::unavailable);
  expect_error("HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n{\"header\"",
               Error::Code::unavailable);
}

TEST_F(FakeEtcd, ASilentServerTimesOut) {
  server_.hang = true;
  auto r = range_against("");
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, Error::Code::timeout);
}

TEST_F(FakeEtcd, AValidAnswerCutAtAnyByteIsAnError) {
  const std::string full = ok_response(kRangeBody);
  for (size_t cut = 0; cut < full.size(); ++cut) {
    auto r = range_against(full.substr(0, cut));
    EXPECT_FALSE(r) << "accepted a response cut at " << cut;
  }
}

TEST_F(FakeEtcd, RandomBytesNeverCrash) {
  std::mt19937 rng(20261126);
  const std::string full = ok_response(kRangeBody);
  for (int i = 0; i < 200; ++i) {
    std::string reply = full;
    // Flip a few bytes of a valid answer, or send pure noise.
    if (i % 4 == 0) {
      reply.assign(rng() % 300, '\0');
      for (auto& ch : reply) ch = static_cast<char>(rng());
    } else {
      for (int k = 0; k < 1 + i % 5; ++k) reply[rng() % reply.size()] = static_cast<char>(rng());
    }
    auto r = range_against(reply);
    if (r) {
      EXPECT_LE(r->kvs.size(), 1u);  // a flip in a harmless place (a header value, a digit)
    }
  }
}

TEST_F(FakeEtcd, AWatchOnGarbageKeepsRetryingWithoutEvents) {
  server_.reply =
      "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n10\r\n{\"result\":{]]]]}\r\n";
  auto client = testing::make_client(io_, {server_.endpoint()}, std::chrono::milliseconds(500));
  int events = 0;
  auto watch =
      Watch::start(client, WatchOptions::prefix("a", 1), [&](const WatchBatch&) { ++events; }, {});
  ASSERT_TRUE(testing::run_until(io_, [&] { return server_.requests >= 3; }));
  EXPECT_EQ(events, 0);
  watch->cancel();
  client->close();
}

std::string unavailable_response(const std::string& message) {
  const std::string body =
      R"({"error":")" + message + R"(","message":")" + message + R"(","code":14})";
  return "HTTP/1.1 503 Service Unavailable\r\nContent-Length: " + std::to_string(body.size()) +
         "\r\n\r\n" + body;
}

// A member that answers "unavailable" in front of a working etcd.
TEST_F(FakeEtcd, UnavailableMemberFailsOverToTheNextEndpoint) {
  KAFFA_REQUIRE_ETCD();
  testing::EtcdProcess etcd;
  std::string err;
  ASSERT_TRUE(etcd.start(&err)) << err;

  // "no leader": the request was never proposed, so even a write moves on.
  server_.reply = unavailable_response("etcdserver: no leader");
  auto client = testing::make_client(io_, {server_.endpoint(), etcd.endpoint()});
  auto put = await<TxnResult>(io_, [&](auto cb) { client->put_if_version("/k", "v", 0, cb); });
  ASSERT_TRUE(put) << put.error().describe();
  EXPECT_TRUE(put->succeeded);
  EXPECT_EQ(client->current_endpoint().port, etcd.client_port());
  client->close();

  // "request timed out": a write may have been applied; it is not sent again elsewhere, but a
  // read is.
  server_.reply = unavailable_response("etcdserver: request timed out");
  auto client2 = testing::make_client(io_, {server_.endpoint(), etcd.endpoint()});
  auto again = await<PutResult>(io_, [&](auto cb) { client2->put("/k", "w", cb); });
  ASSERT_FALSE(again);
  EXPECT_EQ(again.error().code, Error::Code::unavailable);
  EXPECT_EQ(again.error().message, "etcdserver: request timed out");
  auto read = await<std::optional<KeyValue>>(io_, [&](auto cb) { client2->get("/k", cb); });
  ASSERT_TRUE(read) << read.error().describe();
  ASSERT_TRUE(read->has_value());
  EXPECT_EQ((*read)->value, "v");
  client2->close();
}

TEST_F(FakeEtcd, AWatchRefusedByEtcdEnds) {
  const std::string msg = R"({"error":"illegal base64","message":"illegal base64","code":2})";
  char size[16];
  snprintf(size, sizeof size, "%zx", msg.size());
  server_.reply = std::string("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n") + size +
                  "\r\n" + msg + "\r\n";
  auto client = testing::make_client(io_, {server_.endpoint()}, std::chrono::milliseconds(500));
  std::optional<Error> ended;
  auto watch = Watch::start(
      client, WatchOptions::prefix("a", 1), [](const WatchBatch&) {},
      [&](const Error& e) { ended = e; });
  ASSERT_TRUE(testing::run_until(io_, [&] { return ended.has_value(); }));
  EXPECT_EQ(ended->code, Error::Code::etcd);
  EXPECT_EQ(ended->grpc_code, 2);
  client->close();
}

}  // namespace
}  // namespace kaffa::etcd
