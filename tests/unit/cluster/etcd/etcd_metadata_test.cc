// The etcd-backed metadata store against a real etcd, with several EtcdMetadata instances in
// this process acting as brokers: registration, image convergence, topic creation and deletion
// (also racing), AlterPartition's compare-and-swap, producer id blocks, etcd restarts.
#include "cluster/etcd_metadata.h"

#include <gtest/gtest.h>

#include <atomic>
#include <memory>
#include <set>

#include "cluster/etcd/etcd_metadata_testing.h"

namespace kaffa::cluster::testing {
namespace {

using protocol::ErrorCode;

TEST_F(MetadataClusterTest, BrokersRegisterAndEveryImageShowsThem) {
  // Shared with the callback: broker 1 runs (and publishes images) until TearDown, after this
  // body has returned, so the count may not live on this frame.
  auto images = std::make_shared<std::atomic<int>>(0);
  auto o = options(1);
  auto first = std::make_unique<EtcdMetadata>(o);
  first->on_image([images](ImagePtr previous, ImagePtr current) {
    if ((*images)++ == 0) {
      EXPECT_EQ(previous, nullptr);
    }
    ASSERT_NE(current, nullptr);
  });
  ASSERT_FALSE(first->start(10s).has_value());
  EXPECT_GE(images->load(), 1) << "on_image ran before start returned";
  brokers_[1] = std::move(first);
  start(2);
  start(3);
  ASSERT_TRUE(all_see([](const MetadataImage& i) {
    return i.brokers.size() == 3 && i.controller_id >= 1 && i.controller_id <= 3;
  }));
  const std::string id = broker(1).cluster_id();
  EXPECT_FALSE(id.empty());
  for (int b = 1; b <= 3; ++b) {
    EXPECT_EQ(broker(b).cluster_id(), id);
    auto image = broker(b).image();
    EXPECT_EQ(image->cluster_id, id);
    const BrokerRegistration* r = image->broker(2);
    ASSERT_NE(r, nullptr);
    ASSERT_EQ(r->endpoints.size(), 1u);
    EXPECT_EQ(r->endpoints[0].port, 9002);
    EXPECT_EQ(r->inter_broker_listener, "PLAINTEXT");
    EXPECT_NE(r->incarnation, 0);
  }
  // Exactly one controller, and every broker agrees which.
  const int32_t controller = broker(1).image()->controller_id;
  int controllers = 0;
  for (int b = 1; b <= 3; ++b) controllers += broker(b).is_controller() ? 1 : 0;
  EXPECT_TRUE(eventually([&] { return broker(controller).is_controller(); }));
  EXPECT_LE(controllers, 1);
}

TEST_F(MetadataClusterTest, AStoppedBrokerLeavesTheImageAtOnceAndMayRegisterAgain) {
  start_all(3);
  ASSERT_TRUE(all_see([](const MetadataImage& i) { return i.brokers.size() == 3; }));
  const int64_t old_incarnation = broker(1).image()->broker(2)->incarnation;
  stop(2);
  ASSERT_TRUE(all_see([](const MetadataImage& i) { return i.broker(2) == nullptr; }));
  start(2);
  ASSERT_TRUE(all_see([&](const MetadataImage& i) {
    return i.broker(2) != nullptr && i.broker(2)->incarnation != old_incarnation;
  }));
}

TEST_F(MetadataClusterTest, ASecondBrokerWithTheSameIdIsRefused) {
  start(1);
  auto o = options(1);
  EtcdMetadata twin(o);
  auto error = twin.start(3s);
  ASSERT_TRUE(error.has_value());
  EXPECT_NE(error->find("node.id 1 is already registered"), std::string::npos) << *error;
  // The first registration is untouched.
  EXPECT_TRUE(eventually([&] { return broker(1).image()->broker(1) != nullptr; }));
}

TEST_F(MetadataClusterTest, StartFailsCleanlyWithoutEtcd) {
  auto o = options(1);
  o.endpoints = "etcd://127.0.0.1:" + std::to_string(etcd::testing::free_port());
  o.request_timeout = 300ms;
  EtcdMetadata m(o);
  auto error = m.start(1s);
  ASSERT_TRUE(error.has_value());
  EXPECT_NE(error->find("etcd"), std::string::npos) << *error;
  o.endpoints = "not a store";
  EtcdMetadata bad(o);
  EXPECT_TRUE(bad.start(1s).has_value());
}

TEST_F(MetadataClusterTest, CreatedTopicAppearsEverywhereWithLeadersAndFullIsr) {
  start_all(3);
  ASSERT_TRUE(all_see([](const MetadataImage& i) { return i.brokers.size() == 3; }));
  const auto r = create(2, "orders", 6, 3);
  ASSERT_EQ(r.error, ErrorCode::none) << r.message;
  // Visible on the creating broker as soon as done() ran.
  const TopicImage* t = broker(2).image()->topic("orders");
  ASSERT_NE(t, nullptr);
  EXPECT_FALSE(t->info.id.is_zero());
  ASSERT_TRUE(all_see([](const MetadataImage& i) { return i.topic("orders") != nullptr; }));
  std::map<int32_t, int> leaders;
  for (const auto& p : broker(3).image()->topic("orders")->partitions) {
    ASSERT_EQ(p.replicas.size(), 3u);
    EXPECT_EQ(std::set<int32_t>(p.replicas.begin(), p.replicas.end()).size(), 3u);
    EXPECT_EQ(p.leader, p.replicas.front());
    EXPECT_EQ(p.isr.size(), 3u);
    EXPECT_EQ(p.leader_epoch, 0);
    EXPECT_EQ(p.store_version, 1);
    ++leaders[p.leader];
  }
  // Leaders spread: two partitions per broker.
  EXPECT_EQ(leaders, (std::map<int32_t, int>{{1, 2}, {2, 2}, {3, 2}}));
}

TEST_F(MetadataClusterTest, CreateTopicRefusesBadRequests) {
  start_all(2);
  ASSERT_TRUE(all_see([](const MetadataImage& i) { return i.brokers.size() == 2; }));
  EXPECT_EQ(create(1, "t", 1, 3).error, ErrorCode::invalid_replication_factor);
  EXPECT_EQ(create(1, "t", 0, 1).error, ErrorCode::invalid_partitions);
  EXPECT_EQ(create(1, "t", 0, 0, {{1, 7}}).error, ErrorCode::invalid_replica_assignment);
  EXPECT_EQ(create(1, "t", 0, 0, {{1, 1}}).error, ErrorCode::invalid_replica_assignment);
  EXPECT_EQ(create(1, "t", 0, 0, {{1, 2}, {2}}).error, ErrorCode::invalid_replica_assignment);
  ASSERT_EQ(create(1, "t", 0, 0, {{2, 1}, {1, 2}}).error, ErrorCode::none);
  const auto* t = broker(1).image()->topic("t");
  ASSERT_NE(t, nullptr);
  EXPECT_EQ(t->info.partitions, 2);
  EXPECT_EQ(t->info.replication_factor, 2);
  EXPECT_EQ(t->partitions[0].replicas, (std::vector<int32_t>{2, 1}));
  EXPECT_EQ(t->partitions[0].leader, 2);
  EXPECT_EQ(create(2, "t", 1, 1).error, ErrorCode::topic_already_exists);
}

TEST_F(MetadataClusterTest, TwoBrokersRacingToCreateOneTopicOneWins) {
  start_all(3);
  ASSERT_TRUE(all_see([](const MetadataImage& i) { return i.brokers.size() == 3; }));
  for (int round = 0; round < 5; ++round) {
    const std::string name = "race-" + std::to_string(round);
    std::vector<Awaited<std::pair<ErrorCode, TopicInfo>>> answers(3);
    for (int b = 1; b <= 3; ++b) {
      EtcdMetadata::TopicSpec spec;
      spec.info.name = name;
      spec.info.partitions = 150;  // more than one txn of partition records
      spec.info.replication_factor = 2;
      auto cb = answers[static_cast<size_t>(b - 1)].callback();
      broker(b).create_topic(spec, [cb](ErrorCode e, std::string, TopicInfo info) {
        cb({e, info});
      });
    }
    int won = 0;
    protocol::Uuid winner;
    for (auto& a : answers) {
      auto [error, info] = a.get();
      if (error == ErrorCode::none) {
        ++won;
        winner = info.id;
      } else {
        EXPECT_EQ(error, ErrorCode::topic_already_exists);
      }
    }
    ASSERT_EQ(won, 1);
    ASSERT_TRUE(all_see([&](const MetadataImage& i) {
      const auto* t = i.topic(name);
      return t != nullptr && t->info.id == winner && t->partitions.size() == 150;
    }));
  }
}

TEST_F(MetadataClusterTest, DeletedTopicDisappearsEverywhereAndCanBeCreatedAgain) {
  start_all(2);
  ASSERT_TRUE(all_see([](const MetadataImage& i) { return i.brokers.size() == 2; }));
  ASSERT_EQ(create(1, "gone", 3, 2).error, ErrorCode::none);
  const auto first_id = broker(1).image()->topic("gone")->info.id;
  ASSERT_TRUE(all_see([](const MetadataImage& i) { return i.topic("gone") != nullptr; }));
  Awaited<Result> deleted;
  broker(2).delete_topic("gone", done_into(deleted));
  ASSERT_EQ(deleted.get().error, ErrorCode::none);
  EXPECT_EQ(broker(2).image()->topic("gone"), nullptr);
  ASSERT_TRUE(all_see([](const MetadataImage& i) { return i.topic("gone") == nullptr; }));
  Awaited<Result> again;
  broker(2).delete_topic("gone", done_into(again));
  EXPECT_EQ(again.get().error, ErrorCode::unknown_topic_or_partition);
  ASSERT_EQ(create(2, "gone", 1, 1).error, ErrorCode::none);
  ASSERT_TRUE(all_see([&](const MetadataImage& i) {
    return i.topic("gone") != nullptr && !(i.topic("gone")->info.id == first_id) &&
           i.topic("gone")->partitions.size() == 1;
  }));
}

TEST_F(MetadataClusterTest, TopicConfigsAndAddedPartitions) {
  start_all(3);
  ASSERT_TRUE(all_see([](const MetadataImage& i) { return i.brokers.size() == 3; }));
  ASSERT_EQ(create(1, "grow", 2, 2).error, ErrorCode::none);
  ASSERT_TRUE(all_see([](const MetadataImage& i) { return i.topic("grow") != nullptr; }));
  auto set = [](std::string name, std::string value) -> ConfigChange {
    return [name, value](std::map<std::string, std::string>& configs) {
      configs[name] = value;
      return std::optional<std::string>();
    };
  };
  Awaited<Result> configs;
  broker(2).set_topic_configs("grow", set("retention.ms", "1000"), done_into(configs));
  ASSERT_EQ(configs.get().error, ErrorCode::none);
  EXPECT_EQ(broker(2).image()->topic("grow")->info.configs.at("retention.ms"), "1000");
  // Two changes through two brokers at once: the one that loses the race is applied again to
  // the newest record, so neither is lost (each broker's own view has neither).
  Awaited<Result> first;
  Awaited<Result> second;
  broker(1).set_topic_configs("grow", set("segment.ms", "60000"), done_into(first));
  broker(3).set_topic_configs("grow", set("max.message.bytes", "2000"), done_into(second));
  ASSERT_EQ(first.get().error, ErrorCode::none);
  ASSERT_EQ(second.get().error, ErrorCode::none);
  ASSERT_TRUE(all_see([](const MetadataImage& i) {
    const auto& c = i.topic("grow")->info.configs;
    return c.size() == 3 && c.count("segment.ms") == 1 && c.count("max.message.bytes") == 1;
  }));
  Awaited<Result> refused;
  broker(1).set_topic_configs(
      "grow", [](std::map<std::string, std::string>&) { return std::optional<std::string>("no"); },
      done_into(refused));
  EXPECT_EQ(refused.get().error, ErrorCode::invalid_config);

  Awaited<Result> fewer;
  broker(3).add_partitions("grow", 2, {}, done_into(fewer));
  EXPECT_EQ(fewer.get().error, ErrorCode::invalid_partitions);
  Awaited<Result> bad;
  broker(3).add_partitions("grow", 4, {{1, 2}}, done_into(bad));
  EXPECT_EQ(bad.get().error, ErrorCode::invalid_replica_assignment);
  Awaited<Result> added;
  broker(3).add_partitions("grow", 5, {}, done_into(added));
  ASSERT_EQ(added.get().error, ErrorCode::none);
  ASSERT_TRUE(all_see([](const MetadataImage& i) {
    const auto* t = i.topic("grow");
    return t && t->partitions.size() == 5 && t->info.configs.count("retention.ms") == 1;
  }));
  for (const auto& p : broker(1).image()->topic("grow")->partitions) {
    EXPECT_EQ(p.replicas.size(), 2u);
    EXPECT_GE(p.leader, 1);
  }
  Awaited<Result> explicit_added;
  broker(3).add_partitions("grow", 6, {{3, 1}}, done_into(explicit_added));
  ASSERT_EQ(explicit_added.get().error, ErrorCode::none);
  EXPECT_EQ(broker(3).image()->topic("grow")->partitions[5].replicas, (std::vector<int32_t>{3, 1}));
  Awaited<Result> unknown;
  broker(3).set_topic_configs("nope", {}, done_into(unknown));
  EXPECT_EQ(unknown.get().error, ErrorCode::unknown_topic_or_partition);
}

struct AlterAnswer {
  ErrorCode error;
  PartitionState current;
};

AlterAnswer alter(EtcdMetadata& m, const std::string& topic, int32_t index,
                  const PartitionState& proposed) {
  Awaited<AlterAnswer> a;
  auto cb = a.callback();
  m.alter_partition(topic, index, proposed, [cb](ErrorCode e, const PartitionState& current) {
    cb({e, current});
  });
  return a.get();
}

TEST_F(MetadataClusterTest, AlterPartitionIsACompareAndSwapFencedByEpochAndVersion) {
  start_all(3);
  ASSERT_TRUE(all_see([](const MetadataImage& i) { return i.brokers.size() == 3; }));
  ASSERT_EQ(create(1, "isr", 1, 3, {{1, 2, 3}}).error, ErrorCode::none);
  const PartitionState seen = *broker(1).image()->partition("isr", 0);
  ASSERT_EQ(seen.leader, 1);

  PartitionState shrink = seen;
  shrink.isr = {1, 2};
  auto ok = alter(broker(1), "isr", 0, shrink);
  ASSERT_EQ(ok.error, ErrorCode::none);
  EXPECT_EQ(ok.current.isr, (std::vector<int32_t>{1, 2}));
  EXPECT_EQ(ok.current.partition_epoch, seen.partition_epoch + 1);
  EXPECT_EQ(ok.current.leader_epoch, seen.leader_epoch);
  EXPECT_EQ(ok.current.store_version, seen.store_version + 1);
  EXPECT_EQ(*broker(1).image()->partition("isr", 0), ok.current);

  // The same proposal again, from the old version: loses.
  PartitionState stale = seen;
  stale.isr = {1};
  auto lost = alter(broker(1), "isr", 0, stale);
  EXPECT_EQ(lost.error, ErrorCode::invalid_update_version);
  EXPECT_EQ(lost.current, ok.current);

  PartitionState old_epoch = ok.current;
  old_epoch.leader_epoch -= 1;
  old_epoch.isr = {1};
  EXPECT_EQ(alter(broker(1), "isr", 0, old_epoch).error, ErrorCode::fenced_leader_epoch);

  PartitionState no_leader = ok.current;
  no_leader.isr = {2, 3};
  EXPECT_EQ(alter(broker(1), "isr", 0, no_leader).error, ErrorCode::invalid_request);
  PartitionState stranger = ok.current;
  stranger.isr = {1, 2, 9};
  EXPECT_EQ(alter(broker(1), "isr", 0, stranger).error, ErrorCode::invalid_request);
  PartitionState not_leader = ok.current;
  not_leader.leader = 2;
  EXPECT_EQ(alter(broker(1), "isr", 0, not_leader).error, ErrorCode::not_leader_or_follower);
  EXPECT_EQ(alter(broker(1), "nope", 0, ok.current).error, ErrorCode::unknown_topic_or_partition);

  // Expansion back to all three, then every broker sees it.
  PartitionState expand = ok.current;
  expand.isr = {1, 2, 3};
  auto grown = alter(broker(1), "isr", 0, expand);
  ASSERT_EQ(grown.error, ErrorCode::none);
  ASSERT_TRUE(all_see([&](const MetadataImage& i) {
    return i.partition("isr", 0) && *i.partition("isr", 0) == grown.current;
  }));
}

TEST_F(MetadataClusterTest, ConcurrentAlterPartitionsFromOneVersionOnlyOneWins) {
  start_all(2);
  ASSERT_TRUE(all_see([](const MetadataImage& i) { return i.brokers.size() == 2; }));
  ASSERT_EQ(create(1, "cas", 1, 2, {{1, 2}}).error, ErrorCode::none);
  ASSERT_TRUE(all_see([](const MetadataImage& i) { return i.topic("cas") != nullptr; }));
  const PartitionState seen = *broker(1).image()->partition("cas", 0);
  PartitionState a = seen;
  a.isr = {1};
  // Broker 2 relays a different change proposed from the same version.
  PartitionState b = seen;
  b.isr = {2, 1};
  Awaited<ErrorCode> ra, rb;
  auto ca = ra.callback();
  auto cb = rb.callback();
  broker(1).alter_partition("cas", 0, a, [ca](ErrorCode e, const PartitionState&) { ca(e); });
  broker(2).alter_partition("cas", 0, b, [cb](ErrorCode e, const PartitionState&) { cb(e); });
  const ErrorCode ea = ra.get();
  const ErrorCode eb = rb.get();
  EXPECT_EQ((ea == ErrorCode::none) + (eb == ErrorCode::none), 1)
      << static_cast<int>(ea) << " " << static_cast<int>(eb);
}

TEST_F(MetadataClusterTest, ProducerIdBlocksAreUniqueAcrossBrokers) {
  start_all(3);
  std::vector<Awaited<std::pair<ErrorCode, int64_t>>> answers(30);
  for (size_t i = 0; i < answers.size(); ++i) {
    auto cb = answers[i].callback();
    broker(static_cast<int32_t>(i % 3) + 1)
        .allocate_producer_ids(100, [cb](ErrorCode e, int64_t first) {
          cb({e, first});
        });
  }
  std::set<int64_t> firsts;
  for (auto& a : answers) {
    auto [error, first] = a.get();
    ASSERT_EQ(error, ErrorCode::none);
    EXPECT_EQ(first % 100, 0);
    EXPECT_TRUE(firsts.insert(first).second) << "block " << first << " handed out twice";
  }
  EXPECT_EQ(*firsts.rbegin(), 2900);
  // A restarted broker continues after them.
  stop(1);
  start(1);
  Awaited<std::pair<ErrorCode, int64_t>> later;
  auto cb = later.callback();
  broker(1).allocate_producer_ids(5, [cb](ErrorCode e, int64_t first) { cb({e, first}); });
  EXPECT_EQ(later.get().second, 3000);
}

TEST_F(MetadataClusterTest, ImagesFollowChangesAfterEtcdRestarts) {
  start_all(2);
  ASSERT_TRUE(all_see([](const MetadataImage& i) { return i.brokers.size() == 2; }));
  ASSERT_EQ(create(1, "before", 1, 2).error, ErrorCode::none);
  etcd_->kill9();
  std::string err;
  ASSERT_TRUE(etcd_->start(&err)) << err;
  // Writes may fail while the client reconnects; the watch resumes without losing events.
  ASSERT_TRUE(eventually(
      [&] {
        const auto e = create(1, "after", 2, 2).error;
        return e == ErrorCode::none || e == ErrorCode::topic_already_exists;
      },
      30s));
  ASSERT_TRUE(all_see(
      [](const MetadataImage& i) {
        return i.topic("before") && i.topic("after") && i.brokers.size() == 2;
      },
      30s));
}

// A broker whose etcd member was down while others changed the metadata and compacted the
// history: its watch cannot resume, so it reads everything again.
TEST_F(MetadataClusterTest, AWatchBehindCompactionReloadsEverything) {
  std::vector<std::unique_ptr<etcd::testing::EtcdProcess>> members;
  std::string err;
  ASSERT_TRUE(etcd::testing::start_cluster(members, 3, &err)) << err;
  auto url = [&](size_t i) { return "127.0.0.1:" + std::to_string(members[i]->client_port()); };
  start(1, [&](EtcdMetadataOptions& o) {
    o.endpoints = "etcd://" + url(0);
    o.session_timeout_ms = 30000;
  });
  start(2, [&](EtcdMetadataOptions& o) { o.endpoints = "etcd://" + url(1) + "," + url(2); });
  ASSERT_TRUE(all_see([](const MetadataImage& i) { return i.brokers.size() == 2; }));
  ASSERT_EQ(create(2, "old", 1, 1, {{2}}).error, ErrorCode::none);
  ASSERT_TRUE(all_see([](const MetadataImage& i) { return i.topic("old") != nullptr; }));

  members[0]->kill9();
  // While the members elect a new raft leader, writes may time out (REQUEST_TIMED_OUT, outcome
  // unknown): ask again until the answer is definite.
  ASSERT_TRUE(eventually(
      [&] {
        const auto e = create(2, "new", 1, 1, {{2}}).error;
        return e == ErrorCode::none || e == ErrorCode::topic_already_exists;
      },
      30s));
  ASSERT_TRUE(eventually(
      [&] {
        Awaited<Result> deleted;
        broker(2).delete_topic("old", done_into(deleted));
        const auto e = deleted.get().error;
        return e == ErrorCode::none || e == ErrorCode::unknown_topic_or_partition;
      },
      30s));
  asio::io_context io;
  auto client = etcd::testing::make_client(io, {members[1]->endpoint()});
  auto head = etcd::testing::await<etcd::RangeResult>(
      io, [&](auto cb) { client->range(etcd::RangeRequest::single("/test/cluster_id"), cb); });
  ASSERT_TRUE(head) << head.error().describe();
  auto compacted =
      etcd::testing::await<etcd::Done>(io, [&](auto cb) { client->compact(head->revision, cb); });
  ASSERT_TRUE(compacted) << compacted.error().describe();
  client->close();

  ASSERT_TRUE(members[0]->start(&err)) << err;
  ASSERT_TRUE(eventually(
      [&] {
        auto i = broker(1).image();
        return i->topic("new") != nullptr && i->topic("old") == nullptr;
      },
      30s));
}

// Records written by something else than Kaffa (an operator with etcdctl) that do not parse are
// ignored: no crash, the rest of the image stays.
TEST_F(MetadataClusterTest, GarbageRecordsAreIgnored) {
  start_all(2);
  ASSERT_EQ(create(1, "good", 1, 2).error, ErrorCode::none);
  ASSERT_EQ(create(1, "spoiled", 1, 2).error, ErrorCode::none);
  const auto spoiled_id = broker(1).image()->topic("spoiled")->info.id;
  asio::io_context io;
  auto client = etcd::testing::make_client(io, {etcd_->endpoint()});
  for (auto [key, value] : std::vector<std::pair<std::string, std::string>>{
           {"/test/topics/bad", "{not json"},
           {"/test/topics/bad2", "{\"id\":\"x\",\"partitions\":1}"},
           {"/test/brokers/abc", "{}"},
           {"/test/brokers/7", "[1,2]"},
           {"/test/partitions/" + spoiled_id.to_base64() + "/0", "{\"leader\":\"x\"}"},
           {"/test/partitions/zzz/0", "42"},
           {"/test/controller", "nobody"},
           {"/test/unknown/key", "whatever"}}) {
    auto put = etcd::testing::await<etcd::PutResult>(
        io, [&, key = key, value = value](auto cb) { client->put(key, value, cb); });
    ASSERT_TRUE(put) << put.error().describe();
  }
  client->close();
  ASSERT_TRUE(all_see([](const MetadataImage& i) {
    return i.topic("spoiled") == nullptr && i.controller_id == -1;
  }));
  for (int b = 1; b <= 2; ++b) {
    auto image = broker(b).image();
    EXPECT_NE(image->topic("good"), nullptr);
    EXPECT_EQ(image->topic("bad"), nullptr);
    EXPECT_EQ(image->broker(7), nullptr);
    EXPECT_EQ(image->brokers.size(), 2u);
  }
  // A broker starting now reads the same records.
  start(3);
  EXPECT_NE(broker(3).image()->topic("good"), nullptr);
  EXPECT_EQ(broker(3).image()->brokers.size(), 3u);
}

// ACLs and SCRAM credentials are one record each, changed by read-modify-write from any broker:
// concurrent changes all land (a lost race runs the change again on the newer text), each
// completion comes once its own broker's image shows the change, and every broker sees the end.
TEST_F(MetadataClusterTest, SharedRecordsTakeConcurrentChangesFromEveryBroker) {
  start_all(3);
  using Shared = EtcdMetadata::Shared;
  constexpr int kChanges = 30;
  std::vector<Awaited<Result>> answers(kChanges);
  std::atomic<int> runs{0};
  for (int i = 0; i < kChanges; ++i) {
    const int32_t via = i % 3 + 1;
    const std::string line = "line " + std::to_string(i) + "\n";
    auto cb = answers[static_cast<size_t>(i)].callback();
    EtcdMetadata* store = &broker(via);
    store->update_shared(
        Shared::acls,
        [line, &runs](const std::string& current, std::string*) -> std::optional<std::string> {
          ++runs;
          return current + line;
        },
        [cb, store, line](ErrorCode e, std::string m) {
          const auto image = store->image();
          const bool shown =
              image->acls.value && image->acls.value->find(line) != std::string::npos;
          cb(Result{e, shown ? m : "not in the image yet: " + m});
        });
  }
  for (auto& a : answers) {
    const auto r = a.get();
    EXPECT_EQ(r.error, ErrorCode::none) << r.message;
    EXPECT_EQ(r.message, "");
  }
  EXPECT_GE(runs.load(), kChanges);
  ASSERT_TRUE(all_see([](const MetadataImage& i) {
    if (!i.acls.value) return false;
    for (int n = 0; n < kChanges; ++n) {
      if (i.acls.value->find("line " + std::to_string(n) + "\n") == std::string::npos) {
        return false;
      }
    }
    return i.scram_credentials.value == nullptr && i.scram_credentials.mod_revision == 0;
  }));

  // No change: nothing written, done(NONE). A refusal: UNKNOWN_SERVER_ERROR with its reason.
  const int64_t before = broker(2).image()->acls.mod_revision;
  Awaited<Result> same, refused;
  auto cs = same.callback();
  broker(2).update_shared(
      Shared::acls, [](const std::string&, std::string*) { return std::nullopt; },
      [cs](ErrorCode e, std::string m) {
        cs(Result{e, std::move(m)});
      });
  EXPECT_EQ(same.get().error, ErrorCode::none);
  auto cr = refused.callback();
  broker(3).update_shared(
      Shared::scram_credentials,
      [](const std::string&, std::string* error) -> std::optional<std::string> {
        *error = "damaged";
        return std::nullopt;
      },
      [cr](ErrorCode e, std::string m) {
        cr(Result{e, std::move(m)});
      });
  const auto r = refused.get();
  EXPECT_EQ(r.error, ErrorCode::unknown_server_error);
  EXPECT_EQ(r.message, "damaged");
  EXPECT_EQ(broker(2).image()->acls.mod_revision, before);

  // A value over etcd's request size limit is refused at once, with etcd's reason, not retried
  // until the attempts run out.
  Awaited<Result> huge;
  auto ch = huge.callback();
  broker(1).update_shared(
      Shared::acls,
      [](const std::string&, std::string*) -> std::optional<std::string> {
        return std::string(size_t{3} << 19, 'x');  // 1.5 MiB and its JSON overhead
      },
      [ch](ErrorCode e, std::string m) {
        ch(Result{e, std::move(m)});
      });
  const auto too_big = huge.get();
  EXPECT_EQ(too_big.error, ErrorCode::unknown_server_error);
  EXPECT_NE(too_big.message.find("etcd refused the write"), std::string::npos) << too_big.message;
  EXPECT_EQ(broker(1).image()->acls.mod_revision, before);

  // The second record is separate, and a broker starting now reads both.
  Awaited<Result> scram;
  auto cc = scram.callback();
  broker(1).update_shared(
      Shared::scram_credentials,
      [](const std::string& current, std::string*) -> std::optional<std::string> {
        return current.empty() ? std::optional<std::string>("users\n") : std::nullopt;
      },
      [cc](ErrorCode e, std::string m) {
        cc(Result{e, std::move(m)});
      });
  ASSERT_EQ(scram.get().error, ErrorCode::none);
  stop(3);
  start(3);
  const auto image = broker(3).image();
  ASSERT_TRUE(image->scram_credentials.value);
  EXPECT_EQ(*image->scram_credentials.value, "users\n");
  ASSERT_TRUE(image->acls.value);
  EXPECT_EQ(image->acls.mod_revision, before);
}

}  // namespace
}  // namespace kaffa::cluster::testing
