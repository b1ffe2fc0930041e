// DeleteRecords and retention at the partition level, and the log-start-offset-checkpoint kept by
// the PartitionManager across restarts.
#include <gtest/gtest.h>

#include <fstream>
#include <sstream>

#include "cluster/partition.h"
#include "cluster/partition_manager.h"
#include "record/builder.h"
#include "storage_dir.h"

namespace kaffa::cluster {
namespace {

using protocol::ErrorCode;

std::string batch(int n, int64_t ts) {
  std::vector<record::BuildRecord> recs;
  for (int i = 0; i < n; ++i) {
    recs.push_back({std::string("k"), std::string(200, 'v'), {}, ts});
  }
  return record::build_batch(recs, record::Compression::none);
}

void append(Partition& p, int n, int64_t ts = 1000) {
  std::string b = batch(n, ts);
  ASSERT_EQ(p.append(reinterpret_cast<uint8_t*>(b.data()), b.size(), ts).error, ErrorCode::none);
}

TopicInfo topic(std::string name, std::map<std::string, std::string> configs = {}) {
  TopicInfo t;
  t.name = std::move(name);
  t.partitions = 1;
  t.configs = std::move(configs);
  t.configs["segment.bytes"] = "1024";
  return t;
}

// Every post runs inline: nothing here waits for a flush.
struct Manager {
  storage::Flusher flusher;
  PartitionManager pm;
  explicit Manager(const std::filesystem::path& dir, LogDefaults d = {})
      : pm({dir}, 1, d, flusher, [](size_t, std::function<void()> fn) { fn(); }) {}
};

std::string read_file(const std::filesystem::path& p) {
  std::ifstream in(p);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

TEST(PartitionRetention, DeleteRecordsAnswersAndChecks) {
  testing::TempDir dir;
  Manager m(dir.path());
  ASSERT_TRUE(m.pm.load({topic("t"), topic("c", {{"cleanup.policy", "compact"}})}, nullptr));
  auto p = m.pm.get("t", 0);
  ASSERT_TRUE(p);
  for (int i = 0; i < 20; ++i) append(*p, 2);
  EXPECT_EQ(p->high_watermark(), 40);
  EXPECT_EQ(p->delete_records(41).error, ErrorCode::offset_out_of_range);
  EXPECT_EQ(p->delete_records(-2).error, ErrorCode::offset_out_of_range);
  auto r = p->delete_records(7);
  EXPECT_EQ(r.error, ErrorCode::none);
  EXPECT_EQ(r.low_watermark, 7);
  EXPECT_EQ(p->log_start_offset(), 7);
  EXPECT_EQ(p->log_start_snapshot(), 7);
  EXPECT_EQ(p->read(6, 1 << 20, true).error, ErrorCode::offset_out_of_range);
  EXPECT_EQ(p->read(7, 1 << 20, true).error, ErrorCode::none);
  EXPECT_EQ(p->delete_records(3).low_watermark, 7);  // never backwards
  r = p->delete_records(-1);                         // the high watermark
  EXPECT_EQ(r.error, ErrorCode::none);
  EXPECT_EQ(r.low_watermark, 40);
  EXPECT_EQ(p->read(40, 1 << 20, true).error, ErrorCode::none);
  EXPECT_EQ(p->read(39, 1 << 20, true).error, ErrorCode::offset_out_of_range);

  auto c = m.pm.get("c", 0);
  ASSERT_TRUE(c);
  EXPECT_EQ(c->delete_records(0).error, ErrorCode::policy_violation);
  m.pm.shutdown();
}

TEST(PartitionRetention, LogStartOffsetSurvivesRestart) {
  testing::TempDir dir;
  {
    Manager m(dir.path());
    ASSERT_TRUE(m.pm.load({topic("t")}, nullptr));
    auto p = m.pm.get("t", 0);
    for (int i = 0; i < 20; ++i) append(*p, 2);
    ASSERT_EQ(p->delete_records(13).error, ErrorCode::none);
    m.pm.shutdown();
  }
  const std::string cp = read_file(dir.path() / "log-start-offset-checkpoint");
  EXPECT_NE(cp.find("\nt 0 13\n"), std::string::npos) << cp;
  EXPECT_EQ(cp.rfind("0\n", 0), 0u) << cp;
  {
    Manager m(dir.path());
    ASSERT_TRUE(m.pm.load({topic("t")}, nullptr));
    auto p = m.pm.get("t", 0);
    EXPECT_EQ(p->log_start_offset(), 13);
    EXPECT_EQ(p->log_start_snapshot(), 13);
    EXPECT_EQ(p->high_watermark(), 40);
    EXPECT_EQ(p->read(12, 1 << 20, true).error, ErrorCode::offset_out_of_range);
    m.pm.shutdown();
  }
}

TEST(PartitionRetention, RetentionFollowsTopicAndBrokerSettings) {
  testing::TempDir dir;
  LogDefaults d;
  d.retention_ms = 1000;
  Manager m(dir.path(), d);
  ASSERT_TRUE(m.pm.load({topic("by-default"), topic("by-topic", {{"retention.ms", "-1"}}),
                         topic("by-size", {{"retention.ms", "-1"}, {"retention.bytes", "2000"}}),
                         topic("compact", {{"cleanup.policy", "compact"}}),
                         topic("both", {{"cleanup.policy", "compact,delete"}})},
                        nullptr));
  for (const auto* name : {"by-default", "by-topic", "by-size", "compact", "both"}) {
    auto p = m.pm.get(name, 0);
    ASSERT_TRUE(p) << name;
    for (int i = 0; i < 20; ++i) append(*p, 2, 1000 + i);
  }
  m.pm.enforce_retention(0, 100000);
  EXPECT_EQ(m.pm.get("by-default", 0)->log_start_offset(), 40);  // all expired, active rolled
  EXPECT_EQ(m.pm.get("by-default", 0)->log_start_snapshot(), 40);
  EXPECT_EQ(m.pm.get("by-topic", 0)->log_start_offset(), 0);
  EXPECT_GT(m.pm.get("by-size", 0)->log_start_offset(), 0);
  EXPECT_EQ(m.pm.get("compact", 0)->log_start_offset(), 0);  // left to compaction
  EXPECT_EQ(m.pm.get("both", 0)->log_start_offset(), 40);
  m.pm.shutdown();
}

// Dynamic broker configs: new defaults reach the open partitions; a topic's own value still wins,
// and a later change of a topic's configs keeps the new defaults.
TEST(PartitionRetention, NewDefaultsReachOpenPartitions) {
  testing::TempDir dir;
  Manager m(dir.path());  // retention.ms 7 days by default
  ASSERT_TRUE(
      m.pm.load({topic("by-default"), topic("by-topic", {{"retention.ms", "-1"}})}, nullptr));
  for (const auto* name : {"by-default", "by-topic"}) {
    for (int i = 0; i < 20; ++i) append(*m.pm.get(name, 0), 2, 1000 + i);
  }
  m.pm.enforce_retention(0, 100000);
  EXPECT_EQ(m.pm.get("by-default", 0)->log_start_offset(), 0);

  LogDefaults d;
  d.retention_ms = 1000;
  m.pm.set_defaults(d);
  EXPECT_EQ(m.pm.get("by-default", 0)->config().retention_ms, 1000);
  EXPECT_EQ(m.pm.get("by-topic", 0)->config().retention_ms, -1);
  m.pm.enforce_retention(0, 100000);
  EXPECT_EQ(m.pm.get("by-default", 0)->log_start_offset(), 40);
  EXPECT_EQ(m.pm.get("by-topic", 0)->log_start_offset(), 0);

  TopicInfo changed = topic("by-topic", {{"retention.bytes", "2000"}});  // retention.ms dropped
  m.pm.update_topic_config(changed);
  EXPECT_EQ(m.pm.get("by-topic", 0)->config().retention_ms, 1000);
  EXPECT_EQ(m.pm.get("by-topic", 0)->config().retention_bytes, 2000);
  m.pm.shutdown();
}

}  // namespace
}  // namespace kaffa::cluster
