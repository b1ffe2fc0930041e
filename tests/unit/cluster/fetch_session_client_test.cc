// The follower's side of a fetch session (KIP-227) against the broker's side
// (broker/fetch_sessions.h): what each request carries and how both agree on the session.
#include "cluster/fetch_session_client.h"

#include <gtest/gtest.h>

#include <string>
#include <tuple>
#include <utility>
#include <vector>

#include "broker/fetch_sessions.h"

namespace kaffa::cluster {
namespace {

using protocol::FetchRequest;
using protocol::FetchResponse;
using Parts = std::vector<std::tuple<std::string, int32_t, int64_t>>;  // topic, index, offset

FetchRequest wanting(const Parts& parts) {
  FetchRequest req;
  req.replica_id = 7;
  for (const auto& [topic, index, offset] : parts) {
    if (req.topics.empty() || req.topics.back().topic != topic)
      req.topics.emplace_back().topic = topic;
    auto& p = req.topics.back().partitions.emplace_back();
    p.partition = index;
    p.fetch_offset = offset;
    p.current_leader_epoch = 3;
    p.partition_max_bytes = 1024;
  }
  return req;
}

Parts listed(const FetchRequest& req) {
  Parts out;
  for (const auto& t : req.topics) {
    for (const auto& p : t.partitions) out.emplace_back(t.topic, p.partition, p.fetch_offset);
  }
  return out;
}

// One round trip: the client prepares `req`, the leader's cache serves it (every partition
// answered with high watermark `hw`); what the leader read, and the client's verdict.
struct Round {
  FetchRequest sent;
  Parts read;
  FetchResponse resp;
  bool used = false;
};
Round round_trip(FetchSessionClient& client, broker::FetchSessions& leader, FetchRequest req,
                 int64_t hw = 0) {
  Round r;
  client.prepare(req);
  r.sent = req;
  auto ctx = leader.open(req, 12, 0);
  r.read = listed(req);
  if (ctx.kind != broker::FetchSessions::Context::Kind::error) {
    for (const auto& t : req.topics) {
      auto& out = r.resp.responses.emplace_back();
      out.topic = t.topic;
      for (const auto& p : t.partitions) {
        auto& o = out.partitions.emplace_back();
        o.partition_index = p.partition;
        o.high_watermark = hw;
        o.records = protocol::Records{};
      }
    }
  }
  leader.close(ctx, req, r.resp, 0);
  r.used = client.handle(r.resp);
  return r;
}

TEST(FetchSessionClient, SendsOnlyWhatChangedOnceTheLeaderGaveASession) {
  FetchSessionClient client;
  broker::FetchSessions leader(10);
  // The first fetch is full and asks for a session.
  auto r = round_trip(client, leader, wanting({{"a", 0, 0}, {"a", 1, 0}, {"b", 0, 4}}));
  EXPECT_EQ(std::make_pair(r.sent.session_id, r.sent.session_epoch), std::make_pair(0, 0));
  EXPECT_EQ(listed(r.sent).size(), 3u);
  ASSERT_NE(r.resp.session_id, 0);
  EXPECT_EQ(client.session_id(), r.resp.session_id);
  EXPECT_EQ(client.next_epoch(), 1);
  // a-0 moved on: only it is sent; the leader still reads all three.
  r = round_trip(client, leader, wanting({{"a", 0, 5}, {"a", 1, 0}, {"b", 0, 4}}), 0);
  EXPECT_EQ(r.sent.session_epoch, 1);
  EXPECT_EQ(listed(r.sent), (Parts{{"a", 0, 5}}));
  EXPECT_TRUE(r.sent.forgotten_topics_data.empty());
  EXPECT_EQ(r.read, (Parts{{"a", 0, 5}, {"a", 1, 0}, {"b", 0, 4}}));
  EXPECT_EQ(client.next_epoch(), 2);
  // Nothing moved: an empty request; b-0 is no longer wanted: forgotten.
  r = round_trip(client, leader, wanting({{"a", 0, 5}, {"a", 1, 0}}));
  EXPECT_TRUE(r.sent.topics.empty());
  ASSERT_EQ(r.sent.forgotten_topics_data.size(), 1u);
  EXPECT_EQ(r.sent.forgotten_topics_data[0].topic, "b");
  EXPECT_EQ(r.sent.forgotten_topics_data[0].partitions, std::vector<int32_t>{0});
  EXPECT_EQ(r.read, (Parts{{"a", 0, 5}, {"a", 1, 0}}));
  EXPECT_EQ(leader.partitions(), 2u);
  // A new leader epoch counts as a change.
  auto req = wanting({{"a", 0, 5}, {"a", 1, 0}});
  req.topics[0].partitions[1].current_leader_epoch = 4;
  r = round_trip(client, leader, req);
  EXPECT_EQ(listed(r.sent), (Parts{{"a", 1, 0}}));
  EXPECT_TRUE(r.used);
}

TEST(FetchSessionClient, StartsOverAfterASessionErrorOrALostAnswer) {
  FetchSessionClient client;
  broker::FetchSessions leader(10);
  round_trip(client, leader, wanting({{"a", 0, 0}}));
  ASSERT_NE(client.session_id(), 0);
  // The leader restarted (a new cache): the incremental fetch is refused, without partitions.
  broker::FetchSessions restarted(10);
  auto r = round_trip(client, restarted, wanting({{"a", 0, 0}}));
  EXPECT_EQ(r.resp.error_code, protocol::code(protocol::ErrorCode::fetch_session_id_not_found));
  EXPECT_FALSE(r.used);
  EXPECT_EQ(client.session_id(), 0);
  // The next one is full again and gets a new session.
  r = round_trip(client, restarted, wanting({{"a", 0, 0}}));
  EXPECT_EQ(std::make_pair(r.sent.session_id, r.sent.session_epoch), std::make_pair(0, 0));
  EXPECT_TRUE(r.used);
  EXPECT_NE(client.session_id(), 0);
  // An answer that never came: whether the leader moved the epoch is unknown, start over.
  auto lost = wanting({{"a", 0, 1}});
  client.prepare(lost);
  client.reset();
  r = round_trip(client, restarted, wanting({{"a", 0, 1}}));
  EXPECT_EQ(r.sent.session_epoch, 0);
}

TEST(FetchSessionClient, KeepsFetchingInFullWhenTheLeaderHasNoRoom) {
  FetchSessionClient client;
  broker::FetchSessions leader(0);
  for (int i = 0; i < 2; ++i) {
    auto r = round_trip(client, leader, wanting({{"a", 0, i}}));
    EXPECT_EQ(std::make_pair(r.sent.session_id, r.sent.session_epoch), std::make_pair(0, 0));
    EXPECT_EQ(listed(r.sent), (Parts{{"a", 0, i}}));
    EXPECT_EQ(r.resp.session_id, 0);
    EXPECT_TRUE(r.used);
  }
}

}  // namespace
}  // namespace kaffa::cluster
