// Incremental fetch sessions (KIP-227): session fields, the partitions an incremental answer keeps,
// and the cache's eviction rules.
#include "broker/fetch_sessions.h"

#include <gtest/gtest.h>

#include <string>
#include <tuple>
#include <utility>
#include <vector>

namespace kaffa::broker {
namespace {

using protocol::ErrorCode;
using protocol::FetchRequest;
using protocol::FetchResponse;
using Kind = FetchSessions::Context::Kind;

constexpr int16_t kV12 = 12;  // topics by name
constexpr int16_t kV13 = 13;  // topics by id

// A request for `parts` ({topic, partition, fetch offset}).
FetchRequest request(int32_t id, int32_t epoch,
                     std::vector<std::tuple<std::string, int32_t, int64_t>> parts) {
  FetchRequest req;
  req.session_id = id;
  req.session_epoch = epoch;
  for (const auto& [topic, partition, offset] : parts) {
    if (req.topics.empty() || req.topics.back().topic != topic)
      req.topics.emplace_back().topic = topic;
    auto& p = req.topics.back().partitions.emplace_back();
    p.partition = partition;
    p.fetch_offset = offset;
    p.partition_max_bytes = 1024;
  }
  return req;
}

// The answer a broker would give `req`: every partition with high watermark `hw`, no records.
FetchResponse answer(const FetchRequest& req, int64_t hw) {
  FetchResponse resp;
  for (const auto& t : req.topics) {
    auto& out = resp.responses.emplace_back();
    out.topic = t.topic;
    out.topic_id = t.topic_id;
    for (const auto& p : t.partitions) {
      auto& o = out.partitions.emplace_back();
      o.partition_index = p.partition;
      o.high_watermark = hw;
      o.log_start_offset = 0;
      o.records = protocol::Records{};
    }
  }
  return resp;
}

// (topic, partition, fetch offset) of each partition of a request, in order.
std::vector<std::tuple<std::string, int32_t, int64_t>> listed(const FetchRequest& req) {
  std::vector<std::tuple<std::string, int32_t, int64_t>> out;
  for (const auto& t : req.topics) {
    for (const auto& p : t.partitions) out.emplace_back(t.topic, p.partition, p.fetch_offset);
  }
  return out;
}

std::vector<std::pair<std::string, int32_t>> answered(const FetchResponse& resp) {
  std::vector<std::pair<std::string, int32_t>> out;
  for (const auto& t : resp.responses) {
    for (const auto& p : t.partitions) out.emplace_back(t.topic, p.partition_index);
  }
  return out;
}

// A full fetch of a, b-0 and b-1 that made a session; its id.
int32_t start(FetchSessions& s, int64_t now = 0) {
  auto req = request(0, 0, {{"a", 0, 5}, {"b", 0, 7}, {"b", 1, 9}});
  auto ctx = s.open(req, kV12, now);
  EXPECT_EQ(ctx.kind, Kind::full);
  auto resp = answer(req, 10);
  s.close(ctx, req, resp, now);
  EXPECT_NE(resp.session_id, 0);
  EXPECT_EQ(answered(resp).size(), 3u);  // a full answer keeps everything
  return resp.session_id;
}

TEST(FetchSessions, OldVersionsAndFinalEpochAreSessionless) {
  FetchSessions s(10);
  auto req = request(0, 0, {{"a", 0, 0}});
  EXPECT_EQ(s.open(req, 6, 0).kind, Kind::sessionless);
  req = request(0, -1, {{"a", 0, 0}});
  auto ctx = s.open(req, kV12, 0);
  EXPECT_EQ(ctx.kind, Kind::sessionless);
  auto resp = answer(req, 1);
  s.close(ctx, req, resp, 0);
  EXPECT_EQ(resp.session_id, 0);
  EXPECT_EQ(s.size(), 0u);
}

TEST(FetchSessions, IncrementalFetchesReadTheSessionAndAnswerWhatChanged) {
  FetchSessions s(10);
  const int32_t id = start(s);
  EXPECT_EQ(s.partitions(), 3u);
  // Epoch 1 moves b-0's offset on and lists nothing else: all three are read, b-0's new offset.
  auto req = request(id, 1, {{"b", 0, 8}});
  auto ctx = s.open(req, kV12, 1);
  ASSERT_EQ(ctx.kind, Kind::incremental);
  EXPECT_EQ(listed(req), (std::vector<std::tuple<std::string, int32_t, int64_t>>{
                             {"a", 0, 5}, {"b", 0, 8}, {"b", 1, 9}}));
  // Nothing changed but b-1's high watermark, and a got records.
  auto resp = answer(req, 10);
  resp.responses[1].partitions[1].high_watermark = 11;
  protocol::FileRange range;
  range.length = 100;
  resp.responses[0].partitions[0].records->files.push_back(range);
  s.close(ctx, req, resp, 1);
  EXPECT_EQ(resp.session_id, id);
  EXPECT_EQ(answered(resp), (std::vector<std::pair<std::string, int32_t>>{{"a", 0}, {"b", 1}}));
  // a returned records: it goes last in the session's order.
  req = request(id, 2, {});
  ctx = s.open(req, kV12, 2);
  EXPECT_EQ(listed(req), (std::vector<std::tuple<std::string, int32_t, int64_t>>{
                             {"b", 0, 8}, {"b", 1, 9}, {"a", 0, 5}}));
  ASSERT_EQ(req.topics.size(), 2u);  // b-0 and b-1 share an entry
  // Nothing new at all: an empty answer. An error is always answered.
  resp = answer(req, 10);
  resp.responses[0].partitions[1].high_watermark = 11;  // b-1 as last sent
  s.close(ctx, req, resp, 2);
  EXPECT_TRUE(answered(resp).empty());
  req = request(id, 3, {});
  ctx = s.open(req, kV12, 3);
  resp = answer(req, 10);
  resp.responses[0].partitions[1].high_watermark = 11;
  resp.responses[0].partitions[0].error_code = protocol::code(ErrorCode::not_leader_or_follower);
  s.close(ctx, req, resp, 3);
  EXPECT_EQ(answered(resp), (std::vector<std::pair<std::string, int32_t>>{{"b", 0}}));
  // Once the error is gone, the partition is answered again (its high watermark was forgotten).
  req = request(id, 4, {});
  ctx = s.open(req, kV12, 4);
  resp = answer(req, 10);
  resp.responses[0].partitions[1].high_watermark = 11;
  s.close(ctx, req, resp, 4);
  EXPECT_EQ(answered(resp), (std::vector<std::pair<std::string, int32_t>>{{"b", 0}}));
}

TEST(FetchSessions, AThrottledAnswerIsEmptyAndKeepsOnlyAnIncrementalSession) {
  FetchSessions s(10);
  // A full fetch that is throttled makes no session.
  auto req = request(0, 0, {{"a", 0, 5}});
  auto ctx = s.open(req, kV12, 0);
  auto resp = answer(req, 10);
  s.throttled(ctx, resp);
  EXPECT_TRUE(resp.responses.empty());
  EXPECT_EQ(resp.session_id, 0);
  EXPECT_EQ(s.size(), 0u);
  // A throttled incremental fetch keeps its session id; what it did not send is sent next time.
  const int32_t id = start(s);
  req = request(id, 1, {});
  ctx = s.open(req, kV12, 1);
  resp = answer(req, 12);  // every high watermark moved
  s.throttled(ctx, resp);
  EXPECT_TRUE(resp.responses.empty());
  EXPECT_EQ(resp.session_id, id);
  req = request(id, 2, {});
  ctx = s.open(req, kV12, 2);
  ASSERT_EQ(ctx.kind, Kind::incremental);
  resp = answer(req, 12);
  s.close(ctx, req, resp, 2);
  EXPECT_EQ(answered(resp).size(), 3u);
}

TEST(FetchSessions, ForgottenPartitionsLeaveAndAnEmptySessionCloses) {
  FetchSessions s(10);
  const int32_t id = start(s);
  auto req = request(id, 1, {{"c", 0, 1}});
  auto& forget = req.forgotten_topics_data.emplace_back();
  forget.topic = "b";
  forget.partitions = {0, 1};
  ASSERT_EQ(s.open(req, kV12, 1).kind, Kind::incremental);
  EXPECT_EQ(listed(req),
            (std::vector<std::tuple<std::string, int32_t, int64_t>>{{"a", 0, 5}, {"c", 0, 1}}));
  EXPECT_EQ(s.partitions(), 2u);
  req = request(id, 2, {});
  for (const char* t : {"a", "c"}) {
    auto& f = req.forgotten_topics_data.emplace_back();
    f.topic = t;
    f.partitions = {0};
  }
  EXPECT_EQ(s.open(req, kV12, 2).kind, Kind::sessionless);
  EXPECT_EQ(s.size(), 0u);
  req = request(id, 3, {});
  EXPECT_EQ(s.open(req, kV12, 3).error, ErrorCode::fetch_session_id_not_found);
}

TEST(FetchSessions, WrongIdEpochOrTopicIdUseIsRefused) {
  FetchSessions s(10);
  const int32_t id = start(s);
  auto req = request(id + 1, 1, {});
  auto ctx = s.open(req, kV12, 1);
  EXPECT_EQ(ctx.kind, Kind::error);
  EXPECT_EQ(ctx.error, ErrorCode::fetch_session_id_not_found);
  FetchResponse resp = answer(request(0, 0, {{"a", 0, 0}}), 1);
  s.close(ctx, req, resp, 1);
  EXPECT_EQ(resp.error_code, protocol::code(ErrorCode::fetch_session_id_not_found));
  EXPECT_TRUE(resp.responses.empty());
  req = request(id, 2, {});
  EXPECT_EQ(s.open(req, kV12, 1).error, ErrorCode::invalid_fetch_session_epoch);
  req = request(id, 1, {});
  EXPECT_EQ(s.open(req, kV13, 1).error, ErrorCode::fetch_session_topic_id_error);
  // The refusals left the session as it was: epoch 1 still works, once.
  req = request(id, 1, {});
  ctx = s.open(req, kV12, 1);
  EXPECT_EQ(ctx.kind, Kind::incremental);
  // A duplicate of the same epoch in flight: the first answer finds the session moved on.
  auto dup = request(id, 2, {});
  auto dup_ctx = s.open(dup, kV12, 1);
  resp = answer(req, 10);
  s.close(ctx, req, resp, 1);
  EXPECT_EQ(resp.error_code, protocol::code(ErrorCode::invalid_fetch_session_epoch));
  resp = answer(dup, 10);
  s.close(dup_ctx, dup, resp, 1);
  EXPECT_EQ(resp.error_code, 0);
  // A full fetch naming the session closes it.
  req = request(id, 0, {{"a", 0, 0}});
  ctx = s.open(req, kV12, 2);
  EXPECT_EQ(ctx.kind, Kind::full);
  req = request(id, 3, {});
  EXPECT_EQ(s.open(req, kV12, 2).error, ErrorCode::fetch_session_id_not_found);
}

TEST(FetchSessions, TopicIdSessionsKeyPartitionsById) {
  FetchSessions s(10);
  protocol::Uuid x;
  x.bytes[15] = 1;
  auto req = request(0, 0, {{"", 0, 3}});
  req.topics[0].topic_id = x;
  req.topics[0].topic = "named-later";  // the handler's resolved name
  auto ctx = s.open(req, kV13, 0);
  auto resp = answer(req, 5);
  s.close(ctx, req, resp, 0);
  auto inc = request(resp.session_id, 1, {{"", 0, 4}});
  inc.topics[0].topic_id = x;
  ASSERT_EQ(s.open(inc, kV13, 1).kind, Kind::incremental);
  ASSERT_EQ(inc.topics.size(), 1u);
  EXPECT_EQ(inc.topics[0].topic_id, x);
  EXPECT_EQ(inc.topics[0].partitions.at(0).fetch_offset, 4);
  EXPECT_EQ(s.partitions(), 1u);
}

TEST(FetchSessions, AFullCacheEvictsStaleThenSmallerSessions) {
  constexpr int64_t kEviction = 100;
  FetchSessions s(2, kEviction);
  const int32_t first = start(s, 0);
  const int32_t second = start(s, 10);
  EXPECT_EQ(s.size(), 2u);
  // Full, nothing stale, both young: a consumer's new session is refused.
  auto req = request(0, 0, {{"a", 0, 0}, {"a", 1, 0}, {"a", 2, 0}, {"a", 3, 0}});
  auto ctx = s.open(req, kV12, 50);
  auto resp = answer(req, 1);
  s.close(ctx, req, resp, 50);
  EXPECT_EQ(resp.session_id, 0);
  // Once the first is idle past the eviction time, it goes.
  s.close(ctx, req, resp, 101);
  EXPECT_NE(resp.session_id, 0);
  EXPECT_EQ(s.evictions(), 1u);
  req = request(first, 1, {});
  EXPECT_EQ(s.open(req, kV12, 102).error, ErrorCode::fetch_session_id_not_found);
  // Both used at 150, so not stale at 160; the second (created at 10) is old enough to be
  // evictable: a bigger session takes its place, one of its size does not.
  for (int32_t id : {second, resp.session_id}) {
    auto touch = request(id, 1, {});
    EXPECT_EQ(s.open(touch, kV12, 150).kind, Kind::incremental);
  }
  req = request(0, 0, {{"a", 0, 0}, {"a", 1, 0}, {"a", 2, 0}});
  ctx = s.open(req, kV12, 160);
  resp = answer(req, 1);
  s.close(ctx, req, resp, 160);
  EXPECT_EQ(resp.session_id, 0);  // the evictable one holds 3, as this one
  req = request(0, 0, {{"a", 0, 0}, {"a", 1, 0}, {"a", 2, 0}, {"a", 3, 0}, {"a", 4, 0}});
  ctx = s.open(req, kV12, 160);
  resp = answer(req, 1);
  s.close(ctx, req, resp, 160);
  EXPECT_NE(resp.session_id, 0);
  EXPECT_EQ(s.evictions(), 2u);
  // A follower may evict a young consumer session.
  req = request(0, 0, {{"a", 0, 0}});
  req.replica_id = 2;
  ctx = s.open(req, kV12, 170);
  EXPECT_TRUE(ctx.privileged);
  resp = answer(req, 1);
  s.close(ctx, req, resp, 170);
  EXPECT_NE(resp.session_id, 0);
  EXPECT_EQ(s.size(), 2u);
}

TEST(FetchSessions, NoSlotsMeansNoSessions) {
  FetchSessions s(0);
  auto req = request(0, 0, {{"a", 0, 0}});
  auto ctx = s.open(req, kV12, 0);
  auto resp = answer(req, 1);
  s.close(ctx, req, resp, 0);
  EXPECT_EQ(resp.session_id, 0);
}

}  // namespace
}  // namespace kaffa::broker
