// The HTTP response parser fed in every possible split, and the gateway JSON of requests.
#include "cluster/etcd/http.h"

#include <gtest/gtest.h>

#include "cluster/etcd/kv.h"
#include "cluster/etcd/watch.h"

namespace kaffa::etcd {
namespace {

using State = HttpResponseParser::State;

const std::string kChunked =
    "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nConnection: keep-alive\r\n\r\n"
    "5;ext=1\r\nhello\r\n6\r\n world\r\n0\r\nX-Trailer: 1\r\n\r\n";

TEST(HttpResponseParser, ChunkedBodyInAnySplit) {
  for (size_t split = 0; split <= kChunked.size(); ++split) {
    HttpResponseParser p;
    p.feed(kChunked.substr(0, split));
    ASSERT_EQ(p.feed(kChunked.substr(split)), State::done) << split << ": " << p.error();
    EXPECT_EQ(p.body(), "hello world");
    EXPECT_TRUE(p.keep_alive());
  }
  HttpResponseParser bytewise;
  for (char c : kChunked) bytewise.feed(std::string_view(&c, 1));
  EXPECT_EQ(bytewise.state(), State::done);
  EXPECT_EQ(bytewise.body(), "hello world");
}

TEST(HttpResponseParser, StreamsChunksToTheCallback) {
  std::string got;
  HttpResponseParser p(1024, [&](std::string_view b) { got += std::string(b) + "|"; });
  EXPECT_EQ(p.feed(kChunked.substr(0, kChunked.find(" world"))), State::body);
  EXPECT_EQ(got, "hello|");
  EXPECT_EQ(p.feed(kChunked.substr(kChunked.find(" world"))), State::done);
  EXPECT_EQ(got, "hello| world|");
  EXPECT_TRUE(p.body().empty());
}

TEST(HttpResponseParser, LengthAndCloseDelimitedBodies) {
  HttpResponseParser p;
  EXPECT_EQ(p.feed("HTTP/1.1 404 Not Found\r\ncontent-length: 3\r\nConnection: close\r\n\r\nab"),
            State::body);
  EXPECT_EQ(p.feed("c"), State::done);
  EXPECT_EQ(p.status(), 404);
  EXPECT_EQ(p.body(), "abc");
  EXPECT_FALSE(p.keep_alive());

  HttpResponseParser until_close;
  EXPECT_EQ(until_close.feed("HTTP/1.0 200 OK\r\n\r\nxyz"), State::body);
  EXPECT_EQ(until_close.finish(), State::done);
  EXPECT_EQ(until_close.body(), "xyz");

  HttpResponseParser truncated;
  truncated.feed("HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nab");
  EXPECT_EQ(truncated.finish(), State::failed);
}

TEST(HttpResponseParser, RejectsOversizedAndMalformedInput) {
  HttpResponseParser small(4);
  EXPECT_EQ(small.feed("HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\n"), State::failed);
  HttpResponseParser head;
  EXPECT_EQ(head.feed(std::string(HttpResponseParser::kMaxHeadBytes + 1, 'a')), State::failed);
  HttpResponseParser two_lengths;
  EXPECT_EQ(two_lengths.feed("HTTP/1.1 200 OK\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n"),
            State::failed);
}

TEST(HttpResponseParser, SkipsInterimAnswers) {
  const std::string in =
      "HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\n{}";
  for (size_t split = 0; split <= in.size(); ++split) {
    HttpResponseParser p;
    p.feed(in.substr(0, split));
    ASSERT_EQ(p.feed(in.substr(split)), State::done) << split << ": " << p.error();
    EXPECT_EQ(p.status(), 200);
    EXPECT_EQ(p.body(), "{}");
  }
}

TEST(EtcdGatewayJson, EncodesTxnWithBase64AndStringInts) {
  TxnRequest t;
  t.compare.push_back(Compare::version("k", Compare::Op::equal, 3));
  t.compare.push_back(Compare::value_is("k", Compare::Op::not_equal, "v"));
  PutRequest p;
  p.key = "k";
  p.value = "v";
  p.lease = 42;
  t.success.emplace_back(p);
  t.failure.emplace_back(RangeRequest::single("k"));
  EXPECT_EQ(encode(t),
            R"({"compare":[{"result":"EQUAL","target":"VERSION","key":"aw==","version":"3"},)"
            R"({"result":"NOT_EQUAL","target":"VALUE","key":"aw==","value":"dg=="}],)"
            R"("success":[{"request_put":{"key":"aw==","value":"dg==","lease":"42"}}],)"
            R"("failure":[{"request_range":{"key":"aw=="}}]})");
}

TEST(EtcdGatewayJson, PrefixRangeEnd) {
  EXPECT_EQ(prefix_range_end("/a/"), "/a0");
  EXPECT_EQ(prefix_range_end(std::string("a\xff", 2)), "b");
  EXPECT_EQ(prefix_range_end(std::string("\xff\xff", 2)), std::string(1, '\0'));
  EXPECT_EQ(prefix_range_end(""), std::string(1, '\0'));
  const auto all = RangeRequest::prefix("");
  EXPECT_EQ(all.key, std::string(1, '\0'));
  EXPECT_EQ(all.range_end, std::string(1, '\0'));
}

TEST(EtcdGatewayJson, DecodesWatchMessagesAsEtcd34WritesThem) {
  // An absent "type" is PUT (protobuf omits the zero enum value).
  auto events = json::parse(
      R"({"result":{"header":{"revision":"5"},"events":[{"kv":{"key":"YQ==","mod_revision":"4",)"
      R"("value":"MQ=="}},{"type":"DELETE","kv":{"key":"YQ==","mod_revision":"5"}}]}})");
  ASSERT_TRUE(events);
  auto m = decode_watch_message(*events);
  ASSERT_TRUE(m) << m.error().describe();
  ASSERT_EQ(m->batch.events.size(), 2u);
  EXPECT_EQ(m->batch.events[0].type, WatchEvent::Type::put);
  EXPECT_EQ(m->batch.events[0].kv.value, "1");
  EXPECT_EQ(m->batch.events[1].type, WatchEvent::Type::del);
  EXPECT_EQ(m->batch.events[1].kv.mod_revision, 5);
  // Compaction: cancelled, with compact_revision and a header without revision.
  auto compacted = json::parse(
      R"({"result":{"header":{"raft_term":"2"},"canceled":true,"compact_revision":"5"}})");
  ASSERT_TRUE(compacted);
  auto c = decode_watch_message(*compacted);
  ASSERT_TRUE(c);
  EXPECT_TRUE(c->canceled);
  EXPECT_EQ(c->compact_revision, 5);
  // A stream error as etcd 3.4 writes it (flat, like a unary error body), and nested.
  auto flat = json::parse(R"({"error":"illegal base64","message":"illegal base64","code":2})");
  auto e = decode_watch_message(*flat);
  ASSERT_FALSE(e);
  EXPECT_EQ(e.error().code, Error::Code::etcd);
  EXPECT_EQ(e.error().grpc_code, 2);
  EXPECT_EQ(e.error().message, "illegal base64");
  auto nested = json::parse(R"({"error":{"grpc_code":14,"message":"no leader"}})");
  auto n = decode_watch_message(*nested);
  ASSERT_FALSE(n);
  EXPECT_EQ(n.error().code, Error::Code::unavailable);
  auto bad_type = json::parse(R"({"result":{"events":[{"type":"MOVE","kv":{}}]}})");
  EXPECT_FALSE(decode_watch_message(*bad_type));
}

}  // namespace
}  // namespace kaffa::etcd
