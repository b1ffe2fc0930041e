#include "cluster/metadata_records.h"

#include <gtest/gtest.h>

namespace kaffa::cluster::records {
namespace {

TEST(MetadataRecords, KeysAreParsedBackToWhatTheyName) {
  Keys k{"/kaffa"};
  const auto id = protocol::Uuid::random();
  EXPECT_EQ(parse_key(k, k.broker(12)).kind, KeyRef::Kind::broker);
  EXPECT_EQ(parse_key(k, k.broker(12)).broker_id, 12);
  EXPECT_EQ(parse_key(k, k.topic("a.b")).topic_name, "a.b");
  const auto p = parse_key(k, k.partition(id, 7));
  EXPECT_EQ(p.kind, KeyRef::Kind::partition);
  EXPECT_EQ(p.topic_id, id.to_base64());
  EXPECT_EQ(p.index, 7);
  EXPECT_EQ(parse_key(k, k.controller()).kind, KeyRef::Kind::controller);
  EXPECT_EQ(parse_key(k, k.cluster_id()).kind, KeyRef::Kind::cluster_id);
  EXPECT_EQ(parse_key(k, k.producer_id_block()).kind, KeyRef::Kind::producer_id_block);
  EXPECT_EQ(parse_key(k, k.acls()).kind, KeyRef::Kind::acls);
  EXPECT_EQ(parse_key(k, k.scram_credentials()).kind, KeyRef::Kind::scram_credentials);
  for (const char* other : {"/kaffa/brokers/x", "/kaffa/partitions/abc", "/kaffa/partitions/a/-1",
                            "/other/topics/t", "/kaffa/topics/", "/kaffa", "/kaffa/acls/x"}) {
    EXPECT_EQ(parse_key(k, other).kind, KeyRef::Kind::other) << other;
  }
}

TEST(MetadataRecords, RecordsRoundTrip) {
  TopicInfo t;
  t.name = "orders";
  t.id = protocol::Uuid::random();
  t.partitions = 12;
  t.replication_factor = 3;
  t.configs = {{"min.insync.replicas", "2"}, {"odd \"value\"", "x\ny"}};
  t.internal = true;
  auto t2 = decode_topic("orders", encode_topic(t));
  ASSERT_TRUE(t2.has_value());
  EXPECT_EQ(t2->id, t.id);
  EXPECT_EQ(t2->partitions, 12);
  EXPECT_EQ(t2->replication_factor, 3);
  EXPECT_EQ(t2->configs, t.configs);
  EXPECT_TRUE(t2->internal);

  PartitionState p{{3, 1, 2}, {3, 1}, 3, 7, 19, 0};
  EXPECT_EQ(decode_partition(encode_partition(p)), p);
  EXPECT_EQ(encode_partition(p).find("adding"), std::string::npos);  // settled: as before
  PartitionState moving{{4, 2, 1}, {1, 2}, 1, 7, 20, 0, {4}, {1}};
  EXPECT_EQ(decode_partition(encode_partition(moving)), moving);

  BrokerRegistration b;
  b.id = 2;
  b.rack = "r1";
  b.endpoints = {{"PLAINTEXT", "h", 9092, "PLAINTEXT"}, {"SSL", "h2", 9093, "SSL"}};
  b.inter_broker_listener = "PLAINTEXT";
  b.shutting_down = true;
  b.incarnation = 0x7fffffffffffff01;
  EXPECT_EQ(decode_broker(encode_broker(b)), b);
  EXPECT_EQ(encode_broker(b).find("offline_replicas"), std::string::npos);  // none: as before
  b.offline_replicas = {{t.id, 3}, {protocol::Uuid::random(), 0}};
  EXPECT_EQ(decode_broker(encode_broker(b)), b);
  EXPECT_TRUE(b.replica_offline(t.id, 3));
  EXPECT_FALSE(b.replica_offline(t.id, 0));

  EXPECT_EQ(decode_producer_id_block(encode_producer_id_block(123456789012345)), 123456789012345);
}

TEST(MetadataRecords, GarbageIsRefused) {
  for (const char* bad : {"", "{", "[]", "{\"replicas\":[1],\"isr\":[1]}",
                          "{\"replicas\":[\"x\"],\"isr\":[],\"leader\":1,\"leader_epoch\":0,"
                          "\"partition_epoch\":0}",
                          // a reassignment naming a broker outside the replicas
                          "{\"replicas\":[1],\"isr\":[1],\"adding\":[2],\"removing\":[],"
                          "\"leader\":1,\"leader_epoch\":0,\"partition_epoch\":0}"}) {
    EXPECT_FALSE(decode_partition(bad).has_value()) << bad;
  }
  EXPECT_FALSE(decode_topic("t", "{\"id\":\"short\",\"partitions\":1,\"replication_factor\":1}"));
  EXPECT_FALSE(decode_broker("{\"id\":1}"));
  EXPECT_FALSE(decode_producer_id_block("{\"next\":-5}"));
  EXPECT_FALSE(uuid_from_base64("!!!!!!!!!!!!!!!!!!!!!!"));
}

}  // namespace
}  // namespace kaffa::cluster::records
