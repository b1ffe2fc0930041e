// Transactional offsets of a CoordinatorShard on a real partition: TxnOffsetCommit's write
// (one transactional batch of the producer), pending offsets, completion by the transaction side,
// and the replay of transactional batches and commit/abort markers. The "event loop" is a queue
// the test drains; markers are appended to the log directly, as the transaction side would.
#include <gtest/gtest.h>
#include <unistd.h>

#include <memory>
#include <string>
#include <vector>

#include "cluster/partition.h"
#include "cluster/partition_testing.h"
#include "cluster/storage_dir.h"
#include "coordinator/coordinator_shard.h"
#include "coordinator/offset_store.h"
#include "coordinator/records.h"
#include "record/batch.h"
#include "record/builder.h"

namespace kaffa::coordinator {
namespace {

using protocol::ErrorCode;

constexpr int64_t kProducer = 4000;

struct Commit {
  std::string topic;
  int32_t partition;
  int64_t offset;
};

// A control batch of the producer: one marker record (key: version 0, type 0 abort / 1 commit;
// value: version 0, coordinator epoch).
std::string marker(int64_t producer_id, int16_t epoch, bool commit) {
  record::BuildOptions o;
  o.producer_id = producer_id;
  o.producer_epoch = epoch;
  o.transactional = true;
  o.control = true;
  const std::string key{'\0', '\0', '\0', static_cast<char>(commit ? 1 : 0)};
  const std::string value{'\0', '\0', '\0', '\0', '\0', '\x05'};
  return record::build_batch({{key, value, {}, 1000}}, o);
}

class ShardFixture {
 public:
  ShardFixture() {
    std::string error;
    auto log = storage::Log::open(dir_.path() / "__consumer_offsets-0", {}, 0, &error);
    EXPECT_TRUE(log) << error;
    log_ = log.get();
    partition_ = std::make_shared<cluster::Partition>(
        "__consumer_offsets", 0, 0, std::move(log), cluster::PartitionConfig{}, flusher_,
        [this](size_t, std::function<void()> fn) { loop_.post(std::move(fn)); });
    shard_ = new_shard();
  }
  ~ShardFixture() {
    std::string error;
    partition_->close(&error);
  }

  // A shard that replays the partition as it is now (a restart, or a new leader).
  std::unique_ptr<CoordinatorShard> new_shard() {
    auto s = std::make_unique<CoordinatorShard>(
        0, partition_, GroupConfig{},
        [this](size_t, int64_t, std::function<void()> fn) { loop_.post(std::move(fn)); });
    s->load();
    EXPECT_TRUE(loop_.run_until([&] { return s->loaded(); }));
    return s;
  }
  CoordinatorShard& shard() { return *shard_; }
  OffsetStore& offsets() { return shard_->offsets(); }

  // What TxnOffsetCommit does (txn_offset_commit.cc), or OffsetCommit without a producer.
  ErrorCode commit(const std::vector<Commit>& commits, std::optional<int64_t> producer_id,
                   int16_t epoch = 0) {
    std::vector<CoordinatorShard::Record> recs;
    for (const auto& c : commits) {
      CommittedOffset v{c.offset, -1, "", 1000, -1};
      recs.push_back(
          {records::offset_commit_key("g", c.topic, c.partition), records::offset_commit_value(v)});
    }
    std::optional<CoordinatorShard::TxnProducer> producer;
    if (producer_id) producer = CoordinatorShard::TxnProducer{*producer_id, epoch};
    std::optional<ErrorCode> result;
    shard_->write_batch(std::move(recs), producer, [&](ErrorCode e, int64_t base) {
      result = e;
      if (e != ErrorCode::none) return;
      for (const auto& c : commits) {
        CommittedOffset v{c.offset, -1, "", 1000, -1, base++};
        if (producer_id) {
          offsets().apply_pending(*producer_id, "g", c.topic, c.partition, v);
        } else {
          offsets().apply("g", c.topic, c.partition, v);
        }
      }
    });
    EXPECT_TRUE(loop_.run_until([&] { return result.has_value(); }));
    return result.value_or(ErrorCode::unknown_server_error);
  }
  void append_marker(int64_t producer_id, bool commit) {
    std::string m = marker(producer_id, 0, commit);
    auto r = log_->append(reinterpret_cast<uint8_t*>(m.data()), m.size(), 0, 1000);
    ASSERT_TRUE(r.ok) << r.error;
  }
  // The headers of every batch in the partition.
  std::vector<record::BatchHeader> batches() {
    std::vector<record::BatchHeader> out;
    auto r = partition_->read_to_log_end(0, 1 << 20, true);
    EXPECT_EQ(r.error, ErrorCode::none);
    for (const auto& f : r.records.files) {
      std::string buf(f.length, '\0');
      EXPECT_EQ(::pread(f.fd, buf.data(), f.length, f.offset), static_cast<ssize_t>(f.length));
      for (size_t pos = 0; pos + record::kBatchHeaderSize <= buf.size();) {
        record::BatchHeader h;
        record::parse_header(reinterpret_cast<const uint8_t*>(buf.data() + pos), buf.size() - pos,
                             h);
        out.push_back(h);
        pos += h.total_size();
      }
    }
    return out;
  }
  int64_t committed(const std::string& topic, int32_t partition) {
    const CommittedOffset* v = offsets().get("g", topic, partition);
    return v ? v->offset : -1;
  }

 private:
  cluster::testing::TempDir dir_;
  storage::Flusher flusher_;
  cluster::Loop loop_;
  storage::Log* log_ = nullptr;  // owned by partition_
  std::shared_ptr<cluster::Partition> partition_;
  std::unique_ptr<CoordinatorShard> shard_;
};

TEST(CoordinatorShardTxn, TxnOffsetsAreOneTransactionalBatchWithoutSequence) {
  ShardFixture f;
  ASSERT_EQ(f.commit({{"t", 0, 5}, {"t", 1, 6}}, kProducer, 3), ErrorCode::none);
  const auto hs = f.batches();
  ASSERT_EQ(hs.size(), 1u);
  EXPECT_TRUE(hs[0].is_transactional());
  EXPECT_FALSE(hs[0].is_control());
  EXPECT_EQ(hs[0].producer_id, kProducer);
  EXPECT_EQ(hs[0].producer_epoch, 3);
  EXPECT_EQ(hs[0].base_sequence, -1);
  EXPECT_EQ(hs[0].records_count, 2);
}

TEST(CoordinatorShardTxn, PendingUntilCommitThenCommitted) {
  ShardFixture f;
  ASSERT_EQ(f.commit({{"t", 0, 5}}, kProducer), ErrorCode::none);
  EXPECT_EQ(f.committed("t", 0), -1);
  EXPECT_TRUE(f.offsets().has_pending("g", "t", 0));
  EXPECT_FALSE(f.offsets().has_pending("g", "t", 1));
  EXPECT_TRUE(f.offsets().has_offsets("g"));  // the group exists (ListGroups, DeleteGroups)

  f.shard().complete_transaction(kProducer, true);
  EXPECT_EQ(f.committed("t", 0), 5);
  EXPECT_FALSE(f.offsets().has_pending("g"));
}

TEST(CoordinatorShardTxn, AbortDropsPendingAndKeepsCommitted) {
  ShardFixture f;
  ASSERT_EQ(f.commit({{"t", 0, 3}}, std::nullopt), ErrorCode::none);
  ASSERT_EQ(f.commit({{"t", 0, 5}, {"t", 1, 7}}, kProducer), ErrorCode::none);
  EXPECT_EQ(f.committed("t", 0), 3);
  f.shard().complete_transaction(kProducer, false);
  EXPECT_EQ(f.committed("t", 0), 3);
  EXPECT_EQ(f.committed("t", 1), -1);
  EXPECT_FALSE(f.offsets().has_pending("g"));
  // A second completion (e.g. a marker seen by a replay too) changes nothing.
  f.shard().complete_transaction(kProducer, true);
  EXPECT_EQ(f.committed("t", 1), -1);
}

TEST(CoordinatorShardTxn, LaterRecordWinsBetweenPlainAndTransactionalCommit) {
  ShardFixture f;
  // Plain commit before the transaction's offsets: the transaction's commit replaces it.
  ASSERT_EQ(f.commit({{"t", 0, 3}}, std::nullopt), ErrorCode::none);
  ASSERT_EQ(f.commit({{"t", 0, 5}, {"t", 1, 5}}, kProducer), ErrorCode::none);
  // Plain commit after them (before the marker): it stays.
  ASSERT_EQ(f.commit({{"t", 1, 9}}, std::nullopt), ErrorCode::none);
  f.shard().complete_transaction(kProducer, true);
  EXPECT_EQ(f.committed("t", 0), 5);
  EXPECT_EQ(f.committed("t", 1), 9);
}

TEST(CoordinatorShardTxn, SameProducerWritesAgainAndStaleEpochIsFenced) {
  ShardFixture f;
  // No sequence: coordinator batches are never taken for duplicates or out of order.
  ASSERT_EQ(f.commit({{"t", 0, 5}}, kProducer, 2), ErrorCode::none);
  ASSERT_EQ(f.commit({{"t", 0, 6}}, kProducer, 2), ErrorCode::none);
  EXPECT_EQ(f.commit({{"t", 0, 7}}, kProducer, 1), ErrorCode::invalid_producer_epoch);
  f.shard().complete_transaction(kProducer, true);
  EXPECT_EQ(f.committed("t", 0), 6);
}

TEST(CoordinatorShardTxn, TombstoneDropsPendingOffsetsOfItsPartition) {
  ShardFixture f;
  ASSERT_EQ(f.commit({{"t", 0, 5}, {"t", 1, 5}}, kProducer), ErrorCode::none);
  f.offsets().apply("g", "t", 0, std::nullopt);
  EXPECT_FALSE(f.offsets().has_pending("g", "t", 0));
  EXPECT_TRUE(f.offsets().has_pending("g", "t", 1));
  f.shard().complete_transaction(kProducer, true);
  EXPECT_EQ(f.committed("t", 0), -1);
  EXPECT_EQ(f.committed("t", 1), 5);
}

TEST(CoordinatorShardTxn, ReplayCommitMarkerCommits) {
  ShardFixture f;
  ASSERT_EQ(f.commit({{"t", 0, 3}}, std::nullopt), ErrorCode::none);
  ASSERT_EQ(f.commit({{"t", 0, 5}, {"t", 1, 6}}, kProducer), ErrorCode::none);
  f.append_marker(kProducer, true);
  auto s = f.new_shard();
  EXPECT_EQ(s->offsets().get("g", "t", 0)->offset, 5);
  EXPECT_EQ(s->offsets().get("g", "t", 1)->offset, 6);
  EXPECT_FALSE(s->offsets().has_pending("g"));
}

TEST(CoordinatorShardTxn, ReplayAbortMarkerDrops) {
  ShardFixture f;
  ASSERT_EQ(f.commit({{"t", 0, 3}}, std::nullopt), ErrorCode::none);
  ASSERT_EQ(f.commit({{"t", 0, 5}, {"t", 1, 6}}, kProducer), ErrorCode::none);
  f.append_marker(kProducer, false);
  auto s = f.new_shard();
  EXPECT_EQ(s->offsets().get("g", "t", 0)->offset, 3);
  EXPECT_EQ(s->offsets().get("g", "t", 1), nullptr);
  EXPECT_FALSE(s->offsets().has_pending("g"));
}

TEST(CoordinatorShardTxn, ReplayWithoutMarkerStaysPendingAndCompletesLater) {
  ShardFixture f;
  ASSERT_EQ(f.commit({{"t", 0, 4}}, kProducer + 1), ErrorCode::none);
  ASSERT_EQ(f.commit({{"t", 0, 5}}, kProducer), ErrorCode::none);
  f.append_marker(kProducer + 1, true);  // another producer's marker: not ours
  auto s = f.new_shard();
  EXPECT_EQ(s->offsets().get("g", "t", 0)->offset, 4);
  EXPECT_TRUE(s->offsets().has_pending("g", "t", 0));
  s->complete_transaction(kProducer, true);  // its record lies after the other producer's
  EXPECT_EQ(s->offsets().get("g", "t", 0)->offset, 5);
  EXPECT_FALSE(s->offsets().has_pending("g"));
}

TEST(CoordinatorShardTxn, ReplayKeepsTheLaterRecordAsLiveCompletionDoes) {
  ShardFixture f;
  ASSERT_EQ(f.commit({{"t", 0, 5}}, kProducer), ErrorCode::none);
  ASSERT_EQ(f.commit({{"t", 0, 9}}, std::nullopt), ErrorCode::none);
  f.append_marker(kProducer, true);
  auto s = f.new_shard();
  EXPECT_EQ(s->offsets().get("g", "t", 0)->offset, 9);
}

}  // namespace
}  // namespace kaffa::coordinator
