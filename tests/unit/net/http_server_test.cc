// net::HttpServer: request parsing, answers, bad input, replies from other threads, shutdown.
#include "net/http_server.h"

#include <gtest/gtest.h>

#include <thread>

#include "test_client.h"

namespace kaffa::net {
namespace {

using testing::Client;
using testing::FunctionHandler;
using testing::loopback_config;

TEST(HttpParse, RequestLineTargetAndQuery) {
  HttpRequest r;
  ASSERT_EQ(parse_http_request("GET /v1/log-level?set=debug&x=a%20b+c HTTP/1.1\r\nHost: x\r\n", r),
            0);
  EXPECT_EQ(r.method, "GET");
  EXPECT_EQ(r.path, "/v1/log-level");
  EXPECT_EQ(r.target, "/v1/log-level?set=debug&x=a%20b+c");
  EXPECT_EQ(r.query.at("set"), "debug");
  EXPECT_EQ(r.query.at("x"), "a b c");
  ASSERT_EQ(parse_http_request("HEAD /metrics HTTP/1.0", r), 0);
  EXPECT_EQ(r.method, "HEAD");
  EXPECT_EQ(r.path, "/metrics");
  EXPECT_TRUE(r.query.empty());
}

TEST(HttpParse, RejectsMalformedRequests) {
  HttpRequest r;
  EXPECT_EQ(parse_http_request("", r), 400);
  EXPECT_EQ(parse_http_request("GET", r), 400);
  EXPECT_EQ(parse_http_request("GET /", r), 400);
  EXPECT_EQ(parse_http_request("GET  / HTTP/1.1", r), 400);
  EXPECT_EQ(parse_http_request("GET / HTTP/2.0", r), 400);
  EXPECT_EQ(parse_http_request("GET metrics HTTP/1.1", r), 400);
  EXPECT_EQ(parse_http_request("GET /a\x01 HTTP/1.1", r), 400);
  EXPECT_EQ(parse_http_request("G(T / HTTP/1.1", r), 400);
  EXPECT_EQ(parse_http_request("GET / HTTP/1.1\r\nno colon here\r\n", r), 400);
  EXPECT_EQ(parse_http_request("GET / HTTP/1.1\r\n: empty name\r\n", r), 400);
  EXPECT_EQ(parse_http_request("POST / HTTP/1.1", r), 405);
}

TEST(HttpParse, PercentDecodeKeepsInvalidEscapes) {
  EXPECT_EQ(percent_decode("%41%zz%4", false), "A%zz%4");
  EXPECT_EQ(percent_decode("a+b", false), "a+b");
  EXPECT_EQ(percent_decode("a+b", true), "a b");
}

// A net::Server with one HttpServer on it, running on a background thread.
class HttpFixture : public ::testing::Test {
 protected:
  void start(HttpHandler handler, HttpConfig cfg = {}) {
    cfg.host = "127.0.0.1";
    cfg.port = 0;
    server_ = std::make_unique<Server>(loopback_config(), kafka_);
    server_->start();
    http_ = std::make_unique<HttpServer>(*server_, cfg, std::move(handler));
    port_ = http_->start();
    thread_ = std::thread([this] { server_->run(); });
  }
  void TearDown() override {
    if (thread_.joinable()) {
      server_->stop();
      thread_.join();
    }
    http_.reset();
    server_.reset();
  }
  // Sends `request` and returns everything until the server closes.
  std::string exchange(std::string_view request) {
    Client c(port_);
    c.send_raw(request);
    std::string out;
    while (auto chunk = c.read_exact(1)) out += *chunk;
    return out;
  }

  FunctionHandler kafka_{
      [](const ConnectionInfo&, RequestFrame, Completion done) { done.close(); }};
  std::unique_ptr<Server> server_;
  std::unique_ptr<HttpServer> http_;
  std::thread thread_;
  uint16_t port_ = 0;
};

TEST_F(HttpFixture, AnswersWithStatusHeadersAndBody) {
  start([](const HttpRequest& req, HttpReply reply) {
    if (req.path == "/hello") return reply({200, "text/plain", "hi " + req.query.at("who")});
    reply({404, "text/plain", "nope"});
  });
  const auto ok = exchange("GET /hello?who=you HTTP/1.1\r\nHost: x\r\n\r\n");
  EXPECT_EQ(ok,
            "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 6\r\n"
            "Connection: close\r\nCache-Control: no-store\r\n\r\nhi you");
  EXPECT_EQ(exchange("GET /other HTTP/1.0\n\n").rfind("HTTP/1.1 404 Not Found\r\n", 0), 0u);
  const auto head = exchange("HEAD /hello?who=abc HTTP/1.1\r\n\r\n");
  EXPECT_NE(head.find("Content-Length: 6\r\n"), std::string::npos);
  EXPECT_EQ(head.substr(head.size() - 4), "\r\n\r\n");  // no body
  // A handler that throws answers 500.
  EXPECT_EQ(exchange("GET /hello HTTP/1.1\r\n\r\n").rfind("HTTP/1.1 500 ", 0), 0u);
}

TEST_F(HttpFixture, RepliesFromAnotherThread) {
  start([](const HttpRequest&, HttpReply reply) {
    std::thread([reply] { reply({200, "text/plain", "later"}); }).detach();
  });
  const auto out = exchange("GET / HTTP/1.1\r\n\r\n");
  EXPECT_EQ(out.substr(out.size() - 5), "later");
}

TEST_F(HttpFixture, GarbageGetsErrorsAndNeverReachesTheHandler) {
  std::atomic<int> calls{0};
  HttpConfig cfg;
  cfg.max_request_bytes = 1024;
  start(
      [&](const HttpRequest&, HttpReply reply) {
        ++calls;
        reply({200, "text/plain", "ok"});
      },
      cfg);
  EXPECT_EQ(exchange("garbage\r\n\r\n").rfind("HTTP/1.1 400 ", 0), 0u);
  EXPECT_EQ(exchange("POST / HTTP/1.1\r\nContent-Length: 3\r\n\r\nabc").rfind("HTTP/1.1 405 ", 0),
            0u);
  EXPECT_EQ(exchange(std::string(4096, 'A')).rfind("HTTP/1.1 431 ", 0), 0u);
  std::string binary(300, '\0');
  for (size_t i = 0; i < binary.size(); ++i) binary[i] = static_cast<char>(i * 7);
  binary += "\r\n\r\n";
  EXPECT_EQ(exchange(binary).rfind("HTTP/1.1 400 ", 0), 0u);
  {
    Client half(port_);  // sends half a request, then goes away
    half.send_raw("GET /x HT");
  }
  EXPECT_EQ(calls.load(), 0);
  EXPECT_EQ(exchange("GET / HTTP/1.1\r\n\r\n").rfind("HTTP/1.1 200 OK", 0), 0u);
  EXPECT_EQ(calls.load(), 1);
}

TEST_F(HttpFixture, SlowClientIsClosedAfterTheRequestTimeout) {
  HttpConfig cfg;
  cfg.request_timeout = std::chrono::milliseconds(100);
  start([](const HttpRequest&, HttpReply reply) { reply({200, "text/plain", "ok"}); }, cfg);
  Client c(port_);
  c.send_raw("GET / HTTP/1.1\r\n");
  EXPECT_TRUE(c.closed_by_peer());
}

TEST_F(HttpFixture, StopClosesTheListenerAndRunReturns) {
  start([](const HttpRequest&, HttpReply) { /* never answers */ });
  Client idle(port_);
  idle.send_raw("GET / HTTP/1.1\r\n\r\n");
  server_->stop();
  thread_.join();  // the admin listener does not keep loop 0 alive
  EXPECT_TRUE(idle.closed_by_peer());
}

}  // namespace
}  // namespace kaffa::net
