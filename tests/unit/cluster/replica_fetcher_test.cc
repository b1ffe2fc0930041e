// ReplicaFetcher against a real `kaffa serve` process (a single node: the leader of its
// partitions in epoch 0): a follower whose log diverges from the leader's (a tail written in an
// epoch the leader never knew) truncates through OffsetForLeaderEpoch, then copies the leader's
// log byte for byte, including batches produced while it follows.
#include "cluster/replica_fetcher.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <fstream>
#include <future>
#include <iterator>
#include <thread>

#include "cluster/replica_fetcher_connection.h"
#include "partition_testing.h"
#include "protocol/messages/create_topics.h"
#include "protocol/messages/fetch.h"
#include "protocol/messages/produce.h"
#include "record/batch.h"
#include "spawn_testing.h"
#include "storage_dir.h"

namespace kaffa::cluster {
namespace {

int free_port() {
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a);
  socklen_t len = sizeof a;
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len);
  ::close(fd);
  return ntohs(a.sin_port);
}

int64_t now_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

// Records stamped now (old timestamps would make the follower roll its segment at once:
// segment.ms counts from the first batch's timestamp).
std::string fresh_batch(int n) {
  std::vector<record::BuildRecord> recs;
  for (int i = 0; i < n; ++i) recs.push_back({std::string("k"), std::string("v"), {}, now_ms()});
  return record::build_batch(recs, record::Compression::none);
}

std::string file_bytes(const std::filesystem::path& p) {
  std::ifstream in(p, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

// One `kaffa serve` child process on a free loopback port, killed at the end.
class KaffaProcess {
 public:
  explicit KaffaProcess(const std::filesystem::path& dir) : port_(free_port()), dir_(dir) {
    std::vector<std::string> args = {
        KAFFA_BINARY, "serve",
        "--override", "listeners=PLAINTEXT://127.0.0.1:" + std::to_string(port_),
        "--override", "admin.listeners=http://127.0.0.1:0",
        "--override", "log.dirs=" + (dir / "data").string()};
    pid_ = kaffa::testing::spawn_logged(std::move(args), (dir / "kaffa.log").string());
  }
  ~KaffaProcess() {
    if (pid_ > 0) {
      ::kill(pid_, SIGKILL);
      ::waitpid(pid_, nullptr, 0);
    }
  }
  int port() const { return port_; }
  std::filesystem::path log_dir() const { return dir_ / "data"; }
  // Connects once the broker accepts connections (polled with a deadline).
  bool connect(BrokerConnection& c) const {
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);
    std::string error;
    while (std::chrono::steady_clock::now() < deadline) {
      if (c.connect("127.0.0.1", port_, 1000, nullptr, &error)) return true;
      std::this_thread::sleep_for(std::chrono::milliseconds(50));  // poll interval
    }
    return false;
  }

 private:
  int port_;
  std::filesystem::path dir_;
  pid_t pid_ = -1;
};

// The owner loop of the follower partition, on its own thread.
class LoopThread {
 public:
  LoopThread()
      : thread_([this] {
          while (!stop_) loop.run_until([this] { return stop_.load(); });
        }) {}
  ~LoopThread() {
    stop_ = true;
    loop.post([] {});
    thread_.join();
  }
  Loop loop;

 private:
  std::atomic<bool> stop_{false};
  std::thread thread_;
};

int16_t produce(BrokerConnection& c, std::string batches) {
  protocol::ProduceRequest req;
  req.acks = 1;
  req.timeout_ms = 5000;
  auto& t = req.topic_data.emplace_back();
  t.name = "r";
  auto& p = t.partition_data.emplace_back();
  p.index = 0;
  p.records = protocol::Records{batches, {}};
  protocol::ProduceResponse resp;
  std::shared_ptr<std::string> answer;
  std::string error;
  if (!c.call(0, 9, req, resp, 10000, answer, &error)) return -100;
  return resp.responses.at(0).partition_responses.at(0).error_code;
}

// The leader's first batch as stored (a consumer fetch from offset 0).
std::string first_batch(BrokerConnection& c) {
  protocol::FetchRequest req;
  req.max_wait_ms = 0;
  req.max_bytes = 1 << 20;
  auto& t = req.topics.emplace_back();
  t.topic = "r";
  auto& p = t.partitions.emplace_back();
  p.partition = 0;
  p.fetch_offset = 0;
  p.partition_max_bytes = 1 << 20;
  protocol::FetchResponse resp;
  std::shared_ptr<std::string> answer;
  std::string error;
  if (!c.call(1, 12, req, resp, 10000, answer, &error)) return {};
  const auto bytes = resp.responses.at(0).partitions.at(0).records->bytes;
  record::BatchHeader h;
  if (!record::parse_header(reinterpret_cast<const uint8_t*>(bytes.data()), bytes.size(), h)) {
    return {};
  }
  return std::string(bytes.substr(0, h.total_size()));
}

PartitionState following(int32_t epoch) {
  PartitionState s;
  s.replicas = {0, 7};
  s.isr = {0, 7};
  s.leader = 0;
  s.leader_epoch = epoch;
  return s;
}

TEST(ReplicaFetcher, FollowerTruncatesItsDivergentTailAndCopiesTheLeaderLog) {
  testing::TempDir dir;
  KaffaProcess kaffa(dir.path());
  BrokerConnection client;
  ASSERT_TRUE(kaffa.connect(client)) << file_bytes(dir.path() / "kaffa.log");
  {
    protocol::CreateTopicsRequest req;
    req.timeout_ms = 10000;
    auto& t = req.topics.emplace_back();
    t.name = "r";
    t.num_partitions = 1;
    t.replication_factor = 1;
    protocol::CreateTopicsResponse resp;
    std::shared_ptr<std::string> answer;
    std::string error;
    ASSERT_TRUE(client.call(19, 5, req, resp, 10000, answer, &error)) << error;
    ASSERT_EQ(resp.topics.at(0).error_code, 0);
  }
  ASSERT_EQ(produce(client, fresh_batch(3)), 0);  // offsets 0-2
  ASSERT_EQ(produce(client, fresh_batch(2)), 0);  // offsets 3-4

  // The follower: the leader's first batch, then a tail 3-9 from an epoch (4) the leader never
  // had, of which only offset 3 was committed (high watermark 3).
  storage::Flusher flusher;
  LoopThread owner;
  std::string error;
  auto log = storage::Log::open(dir.path() / "follower" / "r-0", {}, 0, &error);
  ASSERT_TRUE(log) << error;
  auto follower = std::make_shared<Partition>(
      "r", 0, 0, std::move(log), PartitionConfig{}, flusher,
      [&owner](size_t, std::function<void()> fn) { owner.loop.post(std::move(fn)); });
  std::string tail = fresh_batch(7);
  record::set_base_offset(reinterpret_cast<uint8_t*>(tail.data()), 3);
  record::set_partition_leader_epoch(reinterpret_cast<uint8_t*>(tail.data()), 4);
  std::string prefill = first_batch(client);
  ASSERT_FALSE(prefill.empty());
  prefill += tail;
  std::promise<protocol::ErrorCode> filled;
  owner.loop.post([&] {
    follower->make_follower(following(4));
    filled.set_value(follower
                         ->append_replicated(reinterpret_cast<uint8_t*>(prefill.data()),
                                             prefill.size(), 3, 0, 4, now_ms())
                         .error);
    follower->make_follower(following(0));  // the current leader, as the image says
  });

  ReplicaFetcherSettings settings;
  settings.self = 7;
  settings.wait_max_ms = 100;
  settings.backoff_ms = 50;
  ReplicaFetcher fetcher(
      settings, [&owner](size_t, std::function<void()> fn) { owner.loop.post(std::move(fn)); });
  fetcher.follow(follower, 0, {"PLAINTEXT", "127.0.0.1", kaffa.port(), "PLAINTEXT"}, 0);
  EXPECT_EQ(fetcher.followed(), 1u);

  // Produced while following: replicated too.
  ASSERT_EQ(produce(client, fresh_batch(4)), 0);  // offsets 5-8
  const auto leader_file = kaffa.log_dir() / "r-0" / "00000000000000000000.log";
  const auto follower_file = dir.path() / "follower" / "r-0" / "00000000000000000000.log";
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);
  while (std::chrono::steady_clock::now() < deadline && follower->high_watermark_snapshot() < 9) {
    std::this_thread::sleep_for(std::chrono::milliseconds(20));  // poll interval
  }
  EXPECT_EQ(filled.get_future().get(), protocol::ErrorCode::none);
  ASSERT_EQ(follower->high_watermark_snapshot(), 9) << file_bytes(dir.path() / "kaffa.log");
  fetcher.shutdown();
  EXPECT_EQ(fetcher.followed(), 0u);
  std::promise<std::pair<int64_t, std::optional<int32_t>>> end;
  owner.loop.post([&] { end.set_value({follower->log_end_offset(), follower->latest_epoch()}); });
  const auto [log_end, epoch] = end.get_future().get();
  EXPECT_EQ(log_end, 9);
  EXPECT_EQ(epoch, 0);  // epoch 4's tail is gone
  const std::string leader_bytes = file_bytes(leader_file);

  EXPECT_EQ(leader_bytes.size(), file_bytes(follower_file).size());
  EXPECT_TRUE(leader_bytes == file_bytes(follower_file)) << file_bytes(dir.path() / "kaffa.log");
  flusher.stop();
}

}  // namespace
}  // namespace kaffa::cluster
