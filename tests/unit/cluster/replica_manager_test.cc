// ReplicaManager against hand-built metadata images: logs opened for the partitions assigned
// here, leader / follower transitions on the owner loop, following in the fetcher, removal of
// partitions no longer assigned, and a same-named topic with a new id getting a fresh log.
#include "cluster/replica_manager.h"

#include <gtest/gtest.h>

#include "partition_testing.h"
#include "storage_dir.h"

namespace kaffa::cluster {
namespace {

constexpr int32_t kSelf = 1;

protocol::Uuid topic_id(uint8_t n) {
  protocol::Uuid u;
  u.bytes[0] = n;
  return u;
}

PartitionState part(int32_t leader, int32_t epoch, std::vector<int32_t> replicas) {
  PartitionState s;
  s.replicas = replicas;
  s.isr = replicas;
  s.leader = leader;
  s.leader_epoch = epoch;
  s.partition_epoch = epoch;
  return s;
}

BrokerRegistration broker(int32_t id) {
  BrokerRegistration b;
  b.id = id;
  // A port nothing listens on: followers try, fail and back off.
  b.endpoints.push_back({"REPLICATION", "127.0.0.1", 1, "PLAINTEXT"});
  b.inter_broker_listener = "REPLICATION";
  return b;
}

ImagePtr image(std::vector<PartitionState> parts, uint8_t id = 1) {
  auto img = std::make_shared<MetadataImage>();
  for (int32_t b = 1; b <= 3; ++b) img->brokers[b] = broker(b);
  TopicImage t;
  t.info.name = "t";
  t.info.id = topic_id(id);
  t.info.partitions = static_cast<int32_t>(parts.size());
  t.partitions = std::move(parts);
  img->topics["t"] = std::move(t);
  return img;
}

struct Transition {
  std::string topic;
  int32_t index;
  bool leader;
  int32_t epoch;
};

struct Fixture {
  testing::TempDir dir;
  storage::Flusher flusher;
  Loop loop;
  std::unique_ptr<PartitionManager> partitions;
  std::unique_ptr<ReplicaManager> replicas;
  std::vector<Transition> transitions;

  explicit Fixture(std::filesystem::path data = {}) {
    if (data.empty()) data = dir.path();
    Post post = [this](size_t, std::function<void()> fn) { loop.post(std::move(fn)); };
    partitions = std::make_unique<PartitionManager>(std::vector<std::filesystem::path>{data}, 1,
                                                    LogDefaults{}, flusher, post);
    std::string error;
    EXPECT_TRUE(partitions->load({}, &error)) << error;
    ReplicaManagerSettings settings;
    settings.fetcher.backoff_ms = 50;
    replicas = std::make_unique<ReplicaManager>(
        kSelf, *partitions, post, settings,
        [](const std::string&, int32_t, const PartitionState&, AlterPartitionDone) {});
    replicas->on_leadership([this](const std::string& t, int32_t i, bool leader, int32_t epoch) {
      transitions.push_back({t, i, leader, epoch});
    });
  }
  ~Fixture() {
    replicas->shutdown();
    flusher.stop();
  }
  bool drain() {
    bool done = false;
    loop.post([&] { done = true; });
    return loop.run_until([&] { return done; });
  }
};

TEST(ReplicaManager, OpensAssignedPartitionsInTheirRoles) {
  Fixture f;
  f.replicas->apply(nullptr, image({part(1, 3, {1, 2}), part(2, 5, {2, 1}), part(2, 0, {2, 3})}));
  ASSERT_TRUE(f.drain());
  auto p0 = f.partitions->get("t", 0);
  auto p1 = f.partitions->get("t", 1);
  ASSERT_TRUE(p0 && p1);
  EXPECT_EQ(f.partitions->get("t", 2), nullptr);  // not a replica here
  EXPECT_TRUE(p0->is_leader());
  EXPECT_EQ(p0->leader_epoch(), 3);
  EXPECT_FALSE(p1->is_leader());
  EXPECT_EQ(p1->leader_epoch(), 5);
  EXPECT_EQ(f.replicas->fetcher().followed(), 1u);
  ASSERT_EQ(f.transitions.size(), 2u);
  EXPECT_TRUE(f.transitions[0].leader);
  EXPECT_FALSE(f.transitions[1].leader);
  EXPECT_TRUE(std::filesystem::exists(p0->dir() / "partition.metadata"));
}

TEST(ReplicaManager, LeaderChangesAndIsrUpdatesAreApplied) {
  Fixture f;
  f.replicas->apply(nullptr, image({part(2, 5, {2, 1})}));
  ASSERT_TRUE(f.drain());
  auto p = f.partitions->get("t", 0);
  ASSERT_TRUE(p);
  EXPECT_FALSE(p->is_leader());
  // The leader died: this broker leads in epoch 6.
  f.replicas->apply(nullptr, image({part(1, 6, {2, 1})}));
  ASSERT_TRUE(f.drain());
  EXPECT_TRUE(p->is_leader());
  EXPECT_EQ(p->leader_epoch(), 6);
  EXPECT_EQ(f.replicas->fetcher().followed(), 0u);
  EXPECT_EQ(f.replicas->fetcher().threads(), 0u);  // its thread followed nothing else
  ASSERT_EQ(f.transitions.size(), 2u);
  EXPECT_TRUE(f.transitions[1].leader);
  // The ISR shrinks (same epoch): applied without a new transition.
  auto shrunk = part(1, 6, {2, 1});
  shrunk.isr = {1};
  shrunk.partition_epoch = 7;
  f.replicas->apply(nullptr, image({shrunk}));
  ASSERT_TRUE(f.drain());
  std::vector<int32_t> isr;
  f.loop.post([&] { isr = p->state().isr; });
  ASSERT_TRUE(f.drain());
  EXPECT_EQ(isr, std::vector<int32_t>{1});
  EXPECT_EQ(f.transitions.size(), 2u);
  // An unchanged image changes nothing.
  f.replicas->apply(nullptr, image({shrunk}));
  ASSERT_TRUE(f.drain());
  EXPECT_EQ(f.transitions.size(), 2u);
}

TEST(ReplicaManager, FetcherThreadsFollowNumReplicaFetchersAndRetireWhenIdle) {
  Fixture f;
  std::vector<PartitionState> parts;
  for (int i = 0; i < 12; ++i) parts.push_back(part(2, 1, {2, 1}));
  f.replicas->apply(nullptr, image(parts));
  ASSERT_TRUE(f.drain());
  auto& fetcher = f.replicas->fetcher();
  EXPECT_EQ(fetcher.followed(), 12u);
  EXPECT_EQ(fetcher.threads(), 1u);
  // Four per leader: the partitions spread over them (12 partitions, 4 indexes), none lost.
  fetcher.resize(4);
  EXPECT_GT(fetcher.threads(), 1u);
  EXPECT_LE(fetcher.threads(), 4u);
  EXPECT_EQ(fetcher.followed(), 12u);
  fetcher.resize(1);
  EXPECT_EQ(fetcher.threads(), 1u);
  EXPECT_EQ(fetcher.followed(), 12u);
  // Broker 3 leads half of them: a thread for it; leading all here retires every thread.
  for (int i = 0; i < 6; ++i) parts[static_cast<size_t>(i)] = part(3, 2, {3, 1});
  f.replicas->apply(nullptr, image(parts));
  ASSERT_TRUE(f.drain());
  EXPECT_EQ(fetcher.threads(), 2u);
  for (auto& p : parts) p = part(1, 3, {1, 2});
  f.replicas->apply(nullptr, image(parts));
  ASSERT_TRUE(f.drain());
  EXPECT_EQ(fetcher.followed(), 0u);
  EXPECT_EQ(fetcher.threads(), 0u);
}

TEST(ReplicaManager, UnassignedPartitionsAreRemovedAndANewTopicIdGetsAFreshLog) {
  Fixture f;
  f.replicas->apply(nullptr, image({part(1, 0, {1, 2})}, 1));
  ASSERT_TRUE(f.drain());
  auto p = f.partitions->get("t", 0);
  ASSERT_TRUE(p);
  const auto dir = p->dir();
  std::string b = batch(3);
  f.loop.post([&] { p->append(reinterpret_cast<uint8_t*>(b.data()), b.size(), 5000); });
  ASSERT_TRUE(f.drain());
  EXPECT_EQ(p->log_end_offset(), 3);

  // The topic was deleted and created again (new id) before this broker saw the deletion.
  f.replicas->apply(nullptr, image({part(2, 0, {2, 1})}, 2));
  ASSERT_TRUE(f.loop.run_until([&] {
    auto q = f.partitions->get("t", 0);
    return q && q != p;
  }));
  ASSERT_TRUE(f.drain());
  auto q = f.partitions->get("t", 0);
  EXPECT_EQ(q->log_end_offset(), 0);  // nothing of the old topic's log
  EXPECT_FALSE(q->is_leader());

  // Reassigned away from this broker: removed with its directory.
  f.replicas->apply(nullptr, image({part(2, 0, {2, 3})}, 2));
  ASSERT_TRUE(f.loop.run_until([&] { return f.partitions->get("t", 0) == nullptr; }));
  ASSERT_TRUE(f.drain());
  EXPECT_FALSE(std::filesystem::exists(dir));
  EXPECT_EQ(f.replicas->fetcher().followed(), 0u);
}

TEST(ReplicaManager, AReopenedReplicaStartsAtItsCheckpointedWatermark) {
  testing::TempDir data;
  {
    Fixture f(data.path());
    f.replicas->apply(nullptr, image({part(1, 0, {1, 2})}));
    ASSERT_TRUE(f.drain());
    auto p = f.partitions->get("t", 0);
    std::string b = batch(3);
    f.loop.post([&] { p->append(reinterpret_cast<uint8_t*>(b.data()), b.size(), 5000); });
    ASSERT_TRUE(f.drain());
    EXPECT_EQ(p->log_end_offset(), 3);
    EXPECT_EQ(p->high_watermark_snapshot(), 0);  // replica 2 has not fetched it
    std::string error;
    ASSERT_TRUE(f.partitions->write_checkpoints(&error)) << error;
    EXPECT_TRUE(std::filesystem::exists(data.path() / "replication-offset-checkpoint"));
  }
  Fixture g(data.path());
  g.replicas->apply(nullptr, image({part(2, 1, {2, 1})}));
  ASSERT_TRUE(g.drain());
  auto p = g.partitions->get("t", 0);
  ASSERT_TRUE(p);
  EXPECT_EQ(p->high_watermark_snapshot(), 0);  // not its log end: 3 was never committed
}

}  // namespace
}  // namespace kaffa::cluster
