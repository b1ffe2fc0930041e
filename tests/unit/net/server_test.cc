// Framing, ordering, back-pressure and splice behaviour of net::Server over real loopback sockets.
#include "net/server.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <chrono>
#include <condition_variable>
#include <cstdlib>
#include <future>
#include <mutex>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "test_client.h"

namespace kaffa::net {
namespace {

using testing::Client;
using testing::FunctionHandler;
using testing::loopback_config;
using testing::response;
using testing::RunningServer;

// Echoes every request's bytes back as the response payload.
FunctionHandler::Fn echo() {
  return [](const ConnectionInfo&, RequestFrame frame, Completion done) {
    done.send(response(frame.bytes()));
  };
}

// Keeps every request's completion until the test releases it; lets the test wait for a count.
// With `defer_s` set, requests whose payload starts with 's' wait for the earlier answers.
class HoldingHandler : public RequestHandler {
 public:
  HoldingHandler() = default;
  explicit HoldingHandler(bool defer_s) : defer_s_(defer_s) {}
  void handle(const ConnectionInfo& conn, RequestFrame frame, Completion done) override {
    std::lock_guard lock(mu_);
    payloads_.emplace_back(frame.bytes());
    received_.push_back(frame.received);
    held_.push_back(std::move(done));
    loop_ = conn.thread_index;
    cv_.notify_all();
  }
  bool waits_for_earlier(std::string_view frame) const override {
    return defer_s_ && !frame.empty() && frame[0] == 's';
  }
  // Waits until at least n requests have been seen; returns how many have been seen.
  size_t wait_for(size_t n) {
    std::unique_lock lock(mu_);
    cv_.wait(lock, [&] { return payloads_.size() >= n; });
    return payloads_.size();
  }
  // Answers request i with its own payload.
  void answer(size_t i) {
    std::lock_guard lock(mu_);
    held_.at(i).send(response(payloads_.at(i)));
  }
  Completion take(size_t i) {
    std::lock_guard lock(mu_);
    return std::move(held_.at(i));
  }
  size_t seen() {
    std::lock_guard lock(mu_);
    return payloads_.size();
  }
  std::chrono::steady_clock::time_point received(size_t i) {
    std::lock_guard lock(mu_);
    return received_.at(i);
  }
  // Waits until the loop of the last request seen has run everything queued on it so far.
  void fence(Server& server) {
    std::promise<void> done;
    server.post(loop(), [&] { done.set_value(); });
    done.get_future().wait();
  }

 private:
  size_t loop() {
    std::lock_guard lock(mu_);
    return loop_;
  }
  bool defer_s_ = false;
  size_t loop_ = 0;
  std::mutex mu_;
  std::condition_variable cv_;
  std::vector<std::string> payloads_;
  std::vector<std::chrono::steady_clock::time_point> received_;
  std::vector<Completion> held_;
};

TEST(ServerTest, EchoRoundTrip) {
  FunctionHandler handler(echo());
  RunningServer server(loopback_config(), handler);
  Client client(server.port());
  ASSERT_TRUE(client.send_frame("hello"));
  EXPECT_EQ(client.read_frame(), "hello");
  ASSERT_TRUE(client.send_frame(""));
  EXPECT_EQ(client.read_frame(), "");
  std::string big(300000, 'x');  // larger than the read-ahead buffer
  for (size_t i = 0; i < big.size(); ++i) big[i] = static_cast<char>('a' + i % 26);
  ASSERT_TRUE(client.send_frame(big));
  EXPECT_EQ(client.read_frame(), big);
  EXPECT_EQ(server.stats().requests.load(), 3u);
  EXPECT_EQ(server.stats().bytes_in.load(), 4 + 5 + 4 + 4 + big.size());
}

TEST(ServerTest, RequestBufferIsPageAligned) {
  FunctionHandler handler([](const ConnectionInfo&, RequestFrame frame, Completion done) {
    bool aligned = reinterpret_cast<uintptr_t>(frame.buffer.data()) % 4096 == 0;
    done.send(response(aligned ? "aligned" : "unaligned"));
  });
  RunningServer server(loopback_config(), handler);
  Client client(server.port());
  ASSERT_TRUE(client.send_frame("x"));
  EXPECT_EQ(client.read_frame(), "aligned");
}

TEST(ServerTest, PipelinedResponsesLeaveInRequestOrderWhenCompletedInReverse) {
  constexpr size_t kCount = 1000;
  HoldingHandler handler;
  auto cfg = loopback_config();
  cfg.max_inflight_per_connection = 1024;
  RunningServer server(cfg, handler);
  Client client(server.port());
  std::string all;
  for (size_t i = 0; i < kCount; ++i) all += testing::framed("request-" + std::to_string(i));
  ASSERT_TRUE(client.send_raw(all));
  std::thread completer([&] {
    handler.wait_for(kCount);
    for (size_t i = kCount; i-- > 0;) handler.answer(i);
  });
  for (size_t i = 0; i < kCount; ++i) {
    ASSERT_EQ(client.read_frame(), "request-" + std::to_string(i));
  }
  completer.join();
}

TEST(ServerTest, ADeferredRequestIsHandledOnceEveryEarlierOneIsAnswered) {
  HoldingHandler handler(true);  // 's...' waits for the earlier answers
  RunningServer server(loopback_config(), handler);
  Client client(server.port());
  const std::string all = testing::framed("p0") + testing::framed("p1") + testing::framed("s2") +
                          testing::framed("p3") + testing::framed("s4");
  ASSERT_TRUE(client.send_raw(all));
  ASSERT_EQ(handler.wait_for(3), 3u);  // p0, p1 and p3: nothing holds a request behind s2
  ASSERT_EQ(testing::counter_once(server.stats().bytes_in, all.size()), all.size());
  handler.fence(server.server());
  ASSERT_EQ(handler.seen(), 3u) << "s2 or s4 was handled while earlier requests were unanswered";

  handler.answer(2);  // p3
  handler.answer(0);  // p0
  handler.fence(server.server());
  EXPECT_EQ(handler.seen(), 3u) << "s2 was handled while p1 was still unanswered";
  handler.answer(1);  // p1: s2 goes, s4 still waits for it
  ASSERT_EQ(handler.wait_for(4), 4u);
  handler.fence(server.server());
  EXPECT_EQ(handler.seen(), 4u) << "s4 was handled while s2 was still unanswered";
  handler.answer(3);  // s2
  ASSERT_EQ(handler.wait_for(5), 5u);
  handler.answer(4);  // s4
  for (const char* want : {"p0", "p1", "s2", "p3", "s4"}) EXPECT_EQ(client.read_frame(), want);
  EXPECT_EQ(server.stats().requests.load(), 5u);
}

TEST(ServerTest, ADeferredRequestKeepsTheTimeItWasRead) {
  // Request latency counts from when the request was read, also for one held behind others.
  HoldingHandler handler(true);
  RunningServer server(loopback_config(), handler);
  Client client(server.port());
  const auto before = std::chrono::steady_clock::now();
  const std::string all = testing::framed("p0") + testing::framed("s1");
  ASSERT_TRUE(client.send_raw(all));
  ASSERT_EQ(handler.wait_for(1), 1u);
  ASSERT_EQ(testing::counter_once(server.stats().bytes_in, all.size()), all.size());
  handler.fence(server.server());  // s1 has been read and waits behind p0
  const auto read_by = std::chrono::steady_clock::now();
  handler.answer(0);
  ASSERT_EQ(handler.wait_for(2), 2u);
  EXPECT_GE(handler.received(0), before);
  EXPECT_LE(handler.received(0), read_by);
  EXPECT_GE(handler.received(1), before);
  EXPECT_LE(handler.received(1), read_by) << "s1's time is when it was handed on, not read";
  handler.answer(1);
  for (const char* want : {"p0", "s1"}) EXPECT_EQ(client.read_frame(), want);
}

TEST(ServerTest, WrittenRunsOnceTheLastByteIsWrittenNotWhenTheAnswerIsHandedOver) {
  // A 64 MiB answer cannot fit in the socket buffers of a client that does not read: until it
  // reads, the answer is handed over but not written. (Request latency ends at `written`.)
  constexpr size_t kSize = size_t{64} << 20;
  std::atomic<uint64_t> written{0};
  std::promise<void> handed;
  FunctionHandler handler([&](const ConnectionInfo&, RequestFrame, Completion done) {
    ResponseFrame frame = response(std::string(kSize, 'w'));
    frame.written = [&written] { written.fetch_add(1); };
    done.send(std::move(frame));
    handed.set_value();
  });
  RunningServer server(loopback_config(), handler);
  Client client(server.port());
  ASSERT_TRUE(client.send_frame("big"));
  handed.get_future().wait();
  EXPECT_EQ(written.load(), 0u) << "written ran before the client read the answer";
  const auto answer = client.read_frame();
  ASSERT_TRUE(answer);
  EXPECT_EQ(answer->size(), kSize);
  EXPECT_EQ(testing::counter_once(written, 1), 1u);
}

TEST(ServerTest, ADeferredRequestWithNothingUnansweredBeforeItIsHandledAtOnce) {
  HoldingHandler handler(true);
  RunningServer server(loopback_config(), handler);
  Client client(server.port());
  ASSERT_TRUE(client.send_frame("s0"));
  ASSERT_EQ(handler.wait_for(1), 1u);
  handler.answer(0);
  EXPECT_EQ(client.read_frame(), "s0");
}

TEST(ServerTest, OversizedFrameClosesOnlyThatConnection) {
  FunctionHandler handler(echo());
  auto cfg = loopback_config();
  cfg.max_request_bytes = 1024;
  RunningServer server(cfg, handler);
  Client good(server.port());
  ASSERT_TRUE(good.send_frame("before"));
  EXPECT_EQ(good.read_frame(), "before");
  Client bad(server.port());
  ASSERT_TRUE(bad.send_raw(testing::be32(1025) + "abc"));
  EXPECT_TRUE(bad.closed_by_peer());
  EXPECT_EQ(server.stats().frames_rejected.load(), 1u);
  ASSERT_TRUE(good.send_frame(std::string(1024, 'k')));
  EXPECT_EQ(good.read_frame(), std::string(1024, 'k'));
}

TEST(ServerTest, NegativeSizeClosesConnection) {
  FunctionHandler handler(echo());
  RunningServer server(loopback_config(), handler);
  Client client(server.port());
  ASSERT_TRUE(client.send_raw(testing::be32(0xFFFFFFFFu)));
  EXPECT_TRUE(client.closed_by_peer());
  EXPECT_EQ(server.stats().frames_rejected.load(), 1u);
  EXPECT_EQ(server.stats().requests.load(), 0u);
}

TEST(ServerTest, HttpGarbageIsRejected) {
  FunctionHandler handler(echo());
  RunningServer server(loopback_config(), handler);
  Client client(server.port());
  ASSERT_TRUE(client.send_raw("GET / HTTP/1.1\r\nHost: x\r\n\r\n"));  // reads as a ~1.2 GB size
  EXPECT_TRUE(client.closed_by_peer());
  EXPECT_EQ(server.stats().frames_rejected.load(), 1u);
}

TEST(ServerTest, BackPressureStopsReadingAtMaxInflight) {
  HoldingHandler handler;
  auto cfg = loopback_config();
  cfg.max_inflight_per_connection = 4;
  RunningServer server(cfg, handler);
  Client client(server.port());
  std::string all;
  for (int i = 0; i < 10; ++i) all += testing::framed("r" + std::to_string(i));
  ASSERT_TRUE(client.send_raw(all));

  ASSERT_EQ(handler.wait_for(4), 4u);
  EXPECT_EQ(server.stats().requests.load(), 4u);
  handler.answer(0);  // one response written -> exactly one more request may enter
  EXPECT_EQ(client.read_frame(), "r0");
  EXPECT_EQ(handler.wait_for(5), 5u);
  EXPECT_EQ(server.stats().requests.load(), 5u);

  for (size_t i = 1; i < 10; ++i) {
    handler.wait_for(i + 1);
    handler.answer(i);
    EXPECT_EQ(client.read_frame(), "r" + std::to_string(i));
  }
}

TEST(ServerTest, NoneSkipsTheResponseAndLaterOnesFlow) {
  FunctionHandler handler([](const ConnectionInfo&, RequestFrame frame, Completion done) {
    if (frame.bytes() == "acks=0") {
      done.none();
    } else {
      done.send(response(frame.bytes()));
    }
  });
  RunningServer server(loopback_config(), handler);
  Client client(server.port());
  ASSERT_TRUE(client.send_raw(testing::framed("a") + testing::framed("acks=0") +
                              testing::framed("b") + testing::framed("acks=0")));
  EXPECT_EQ(client.read_frame(), "a");
  EXPECT_EQ(client.read_frame(), "b");
  ASSERT_TRUE(client.send_frame("c"));
  EXPECT_EQ(client.read_frame(), "c");
}

TEST(ServerTest, CloseWritesEarlierResponsesThenCloses) {
  HoldingHandler handler;
  RunningServer server(loopback_config(), handler);
  Client client(server.port());
  ASSERT_TRUE(client.send_raw(testing::framed("first") + testing::framed("bye")));
  handler.wait_for(2);
  handler.take(1).close();  // completed before the earlier request: must still wait for it
  handler.answer(0);
  EXPECT_EQ(client.read_frame(), "first");
  EXPECT_TRUE(client.closed_by_peer());
}

TEST(ServerTest, DroppedCompletionClosesConnection) {
  FunctionHandler handler([](const ConnectionInfo&, RequestFrame, Completion) {});
  RunningServer server(loopback_config(), handler);
  Client client(server.port());
  ASSERT_TRUE(client.send_frame("ignored"));
  EXPECT_TRUE(client.closed_by_peer());
}

TEST(ServerTest, HandlerExceptionClosesConnection) {
  FunctionHandler handler([](const ConnectionInfo&, RequestFrame, Completion) {
    throw std::runtime_error("handler bug");
  });
  RunningServer server(loopback_config(), handler);
  Client client(server.port());
  ASSERT_TRUE(client.send_frame("boom"));
  EXPECT_TRUE(client.closed_by_peer());
}

TEST(ServerTest, FileSplicesAreSentByteExactWithSendfile) {
  testing::SpliceSource source(size_t{4} << 20, 42);
  ASSERT_TRUE(source.ok());
  const std::string expected = source.expected_payload();
  FunctionHandler handler(
      [&](const ConnectionInfo&, RequestFrame, Completion done) { done.send(source.response()); });
  RunningServer server(loopback_config(), handler);
  Client client(server.port());
  ASSERT_TRUE(client.send_frame("fetch"));
  auto got = client.read_frame();
  ASSERT_TRUE(got.has_value());
  EXPECT_EQ(got->size(), expected.size());
  EXPECT_TRUE(*got == expected);
  EXPECT_EQ(server.stats().bytes_sendfile.load(), source.size() + 1000);
  EXPECT_EQ(testing::counter_once(server.stats().bytes_out, 4 + expected.size()),
            4 + expected.size());
}

TEST(ServerTest, SpliceBeyondEndOfFileClosesConnection) {
  std::string path = ::testing::TempDir() + "kaffa_short_XXXXXX";
  int fd = ::mkstemp(path.data());
  ASSERT_GE(fd, 0);
  ::unlink(path.c_str());
  ASSERT_EQ(::write(fd, "short", 5), 5);
  FunctionHandler handler([fd](const ConnectionInfo&, RequestFrame, Completion done) {
    done.send(ResponseFrame{testing::be32(100), {FileSplice{4, fd, 0, 100, nullptr}}});
  });
  {
    RunningServer server(loopback_config(), handler);
    Client client(server.port());
    ASSERT_TRUE(client.send_frame("fetch"));
    EXPECT_EQ(client.read_exact(4 + 5).has_value(), true);  // what exists is sent ...
    EXPECT_TRUE(client.closed_by_peer());                   // ... then the frame is cut
  }
  ::close(fd);
}

TEST(ServerTest, PeerDisconnectMidFrameLeavesServerHealthy) {
  FunctionHandler handler(echo());
  RunningServer server(loopback_config(), handler);
  {
    Client quitter(server.port());
    ASSERT_TRUE(quitter.send_raw(testing::be32(100) + "only ten.."));
    quitter.close();
  }
  {
    Client half_header(server.port());
    ASSERT_TRUE(half_header.send_raw(std::string_view("\x00\x00", 2)));
  }
  Client client(server.port());
  ASSERT_TRUE(client.send_frame("still here"));
  EXPECT_EQ(client.read_frame(), "still here");
}

TEST(ServerTest, HalfClosedClientStillGetsItsResponses) {
  HoldingHandler handler;
  RunningServer server(loopback_config(), handler);
  Client client(server.port());
  ASSERT_TRUE(client.send_raw(testing::framed("one") + testing::framed("two")));
  client.shutdown_write();
  handler.wait_for(2);
  handler.answer(1);
  handler.answer(0);
  EXPECT_EQ(client.read_frame(), "one");
  EXPECT_EQ(client.read_frame(), "two");
  EXPECT_TRUE(client.closed_by_peer());
}

}  // namespace
}  // namespace kaffa::net
