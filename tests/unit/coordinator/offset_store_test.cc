#include "coordinator/offset_store.h"

#include <gtest/gtest.h>

#include <limits>
#include <set>
#include <string>
#include <tuple>

namespace kaffa::coordinator {
namespace {

constexpr int64_t kRetention = 1000;

CommittedOffset committed(int64_t offset, int64_t commit_ts, int64_t expire_ts = -1) {
  return CommittedOffset{offset, -1, "", commit_ts, expire_ts};
}

// The (group, topic, partition) each record deletes; every record must be a tombstone.
std::set<std::tuple<std::string, std::string, int32_t>> deleted_by(
    const std::vector<CoordinatorShard::Record>& recs) {
  std::set<std::tuple<std::string, std::string, int32_t>> out;
  for (const auto& r : recs) {
    EXPECT_FALSE(r.value.has_value());
    records::Decoded d;
    std::string error;
    EXPECT_TRUE(records::decode(r.key, r.value, d, &error)) << error;
    EXPECT_EQ(d.kind, records::Decoded::Kind::offset_commit);
    out.insert({d.group, d.topic, d.partition});
  }
  return out;
}

TEST(OffsetStore, ApplySetsReplacesAndDeletes) {
  OffsetStore store;
  EXPECT_EQ(store.get("g", "t", 0), nullptr);
  store.apply("g", "t", 0, committed(5, 100));
  ASSERT_NE(store.get("g", "t", 0), nullptr);
  EXPECT_EQ(store.get("g", "t", 0)->offset, 5);
  store.apply("g", "t", 0, CommittedOffset{9, 2, "meta", 200, -1});
  EXPECT_EQ(*store.get("g", "t", 0), (CommittedOffset{9, 2, "meta", 200, -1}));
  EXPECT_EQ(store.get("g", "t", 1), nullptr);
  EXPECT_EQ(store.get("g", "other", 0), nullptr);
  EXPECT_EQ(store.get("other", "t", 0), nullptr);

  store.apply("g", "t", 0, std::nullopt);
  EXPECT_EQ(store.get("g", "t", 0), nullptr);
  EXPECT_FALSE(store.has_offsets("g"));
  EXPECT_EQ(store.group_offsets("g"), nullptr);
  EXPECT_TRUE(store.groups().empty());
}

TEST(OffsetStore, TombstoneForUnknownOffsetIsHarmless) {
  OffsetStore store;
  store.apply("g", "t", 0, std::nullopt);
  store.apply("g", "t", 1, committed(1, 1));
  store.apply("g", "t", 0, std::nullopt);
  store.apply("g", "u", 0, std::nullopt);
  EXPECT_TRUE(store.has_offsets("g"));
  EXPECT_EQ(store.groups(), std::vector<std::string>{"g"});
}

TEST(OffsetStore, GroupOffsetsListsTopicsAndPartitions) {
  OffsetStore store;
  store.apply("g", "b", 1, committed(11, 1));
  store.apply("g", "a", 0, committed(10, 1));
  store.apply("g", "b", 0, committed(12, 1));
  store.apply("h", "a", 0, committed(13, 1));
  const auto* offsets = store.group_offsets("g");
  ASSERT_NE(offsets, nullptr);
  ASSERT_EQ(offsets->size(), 2u);
  EXPECT_EQ(offsets->at("a").at(0).offset, 10);
  EXPECT_EQ(offsets->at("b").size(), 2u);
  EXPECT_EQ(offsets->at("b").at(1).offset, 11);
  EXPECT_EQ(store.groups(), (std::vector<std::string>{"g", "h"}));

  // Deleting one topic's last offset keeps the group and its other topics.
  store.apply("g", "a", 0, std::nullopt);
  ASSERT_NE(store.group_offsets("g"), nullptr);
  EXPECT_EQ(store.group_offsets("g")->count("a"), 0u);
  EXPECT_TRUE(store.has_offsets("g"));
}

TEST(OffsetStore, DeleteGroupRecordsTombstoneEveryOffsetOfTheGroupOnly) {
  OffsetStore store;
  store.apply("g", "a", 0, committed(1, 1));
  store.apply("g", "a", 3, committed(1, 1));
  store.apply("g", "b", 0, committed(1, 1));
  store.apply("other", "a", 0, committed(1, 1));
  const auto recs = store.delete_group_records("g");
  EXPECT_EQ(deleted_by(recs), (std::set<std::tuple<std::string, std::string, int32_t>>{
                                  {"g", "a", 0}, {"g", "a", 3}, {"g", "b", 0}}));
  EXPECT_TRUE(store.delete_group_records("unknown").empty());
  // Producing the records changes nothing; applying them does.
  EXPECT_TRUE(store.has_offsets("g"));
  for (const auto& [group, topic, partition] : deleted_by(recs)) {
    store.apply(group, topic, partition, std::nullopt);
  }
  EXPECT_FALSE(store.has_offsets("g"));
  EXPECT_TRUE(store.has_offsets("other"));
}

TEST(OffsetStore, ExpiryUsesCommitTimestampPlusRetention) {
  const auto v = committed(1, 5000);
  EXPECT_FALSE(OffsetStore::is_expired(v, 5000 + kRetention - 1, kRetention));
  EXPECT_TRUE(OffsetStore::is_expired(v, 5000 + kRetention, kRetention));
  EXPECT_TRUE(OffsetStore::is_expired(v, 5000 + kRetention + 1, kRetention));
}

TEST(OffsetStore, ExplicitExpireTimestampWinsOverRetention) {
  const auto v = committed(1, 5000, 5010);
  EXPECT_FALSE(OffsetStore::is_expired(v, 5009, kRetention));
  EXPECT_TRUE(OffsetStore::is_expired(v, 5010, kRetention));
  // Even when the broker's retention would keep it longer, or would already have dropped it.
  EXPECT_FALSE(OffsetStore::is_expired(committed(1, 0, 1'000'000), 999'999, kRetention));
}

TEST(OffsetStore, ExpiryArithmeticDoesNotOverflow) {
  constexpr auto kMin = std::numeric_limits<int64_t>::min();
  constexpr auto kMax = std::numeric_limits<int64_t>::max();
  EXPECT_TRUE(OffsetStore::is_expired(committed(1, kMin), kMax, kRetention));
  EXPECT_FALSE(OffsetStore::is_expired(committed(1, kMax), kMin, kRetention));
  EXPECT_TRUE(OffsetStore::is_expired(committed(1, kMin), 0, kMax));
}

TEST(OffsetStore, ExpiredRecordsOnlyForGroupsThatMayExpire) {
  OffsetStore store;
  store.apply("empty", "t", 0, committed(1, 0));           // old
  store.apply("empty", "t", 1, committed(1, 9500));        // recent
  store.apply("empty", "u", 0, committed(1, 9500, 9000));  // recent commit, explicit expiry passed
  store.apply("stable", "t", 0, committed(1, 0));          // old, but the group has members
  const int64_t now = 10000;
  const auto recs = store.expired_records(now, kRetention, [](const std::string& group) {
    return OffsetStore::ExpiryBase{group != "stable", std::nullopt};
  });
  EXPECT_EQ(deleted_by(recs), (std::set<std::tuple<std::string, std::string, int32_t>>{
                                  {"empty", "t", 0}, {"empty", "u", 0}}));
  // The store itself is unchanged until the caller applies the tombstones.
  EXPECT_NE(store.get("empty", "t", 0), nullptr);
}

TEST(OffsetStore, NothingExpiresWhenNoGroupMay) {
  OffsetStore store;
  store.apply("g", "t", 0, committed(1, 0));
  EXPECT_TRUE(store
                  .expired_records(1'000'000, kRetention,
                                   [](const std::string&) { return OffsetStore::ExpiryBase{}; })
                  .empty());
}

TEST(OffsetStore, AnEmptyGroupsOffsetsCountFromWhenItBecameEmpty) {
  OffsetStore store;
  store.apply("g", "t", 0, committed(1, 0));  // committed long ago, while members were active
  const auto policy = [](const std::string&) { return OffsetStore::ExpiryBase{true, 9000}; };
  EXPECT_TRUE(store.expired_records(9000 + kRetention - 1, kRetention, policy).empty());
  EXPECT_EQ(store.expired_records(9000 + kRetention, kRetention, policy).size(), 1u);
  EXPECT_FALSE(OffsetStore::is_expired(committed(1, 0), 9000 + kRetention - 1, kRetention, 9000));
}

// ---- Transactional offsets (TxnOffsetCommit) ----

CommittedOffset at(int64_t offset, int64_t record_offset) {
  CommittedOffset v = committed(offset, 0);
  v.record_offset = record_offset;
  return v;
}

TEST(OffsetStore, PendingOffsetsAreInvisibleUntilCommitted) {
  OffsetStore store;
  store.apply_pending(7, "g", "t", 0, at(5, 10));
  EXPECT_EQ(store.get("g", "t", 0), nullptr);
  EXPECT_EQ(store.group_offsets("g"), nullptr);
  // What OffsetFetch's require_stable asks: this partition is unstable, others are not.
  EXPECT_TRUE(store.has_pending("g"));
  EXPECT_TRUE(store.has_pending("g", "t", 0));
  EXPECT_FALSE(store.has_pending("g", "t", 1));
  EXPECT_FALSE(store.has_pending("other", "t", 0));
  store.complete_transaction(8, true);  // another producer: nothing
  EXPECT_TRUE(store.has_pending("g", "t", 0));
  store.complete_transaction(7, true);
  ASSERT_NE(store.get("g", "t", 0), nullptr);
  EXPECT_EQ(store.get("g", "t", 0)->offset, 5);
  EXPECT_FALSE(store.has_pending("g"));
}

TEST(OffsetStore, GroupsWithOnlyPendingOffsetsExistAndAreDeletedWhole) {
  OffsetStore store;
  store.apply("b", "t", 0, at(1, 1));
  store.apply("d", "t", 0, at(1, 2));
  store.apply_pending(7, "a", "t", 0, at(1, 3));
  store.apply_pending(7, "c", "t", 0, at(1, 4));
  store.apply_pending(7, "d", "t", 1, at(1, 5));
  store.apply_pending(8, "d", "t", 0, at(1, 6));
  EXPECT_EQ(store.groups(), (std::vector<std::string>{"a", "b", "c", "d"}));
  EXPECT_TRUE(store.has_offsets("a"));
  const auto recs = store.delete_group_records("d");
  EXPECT_EQ(deleted_by(recs), (std::set<std::tuple<std::string, std::string, int32_t>>{
                                  {"d", "t", 0}, {"d", "t", 1}}));
  for (const auto& [group, topic, partition] : deleted_by(recs)) {
    store.apply(group, topic, partition, std::nullopt);
  }
  EXPECT_FALSE(store.has_offsets("d"));
  EXPECT_TRUE(store.has_pending("a"));
  store.complete_transaction(7, true);
  store.complete_transaction(8, true);
  EXPECT_EQ(store.get("d", "t", 0), nullptr);  // the tombstones came after both
  EXPECT_EQ(store.groups(), (std::vector<std::string>{"a", "b", "c"}));
}

TEST(OffsetStore, OffsetWithPendingTransactionalOffsetDoesNotExpire) {
  OffsetStore store;
  store.apply("g", "t", 0, committed(1, 0));
  store.apply("g", "t", 1, committed(1, 0));
  store.apply_pending(7, "g", "t", 0, at(2, 5));
  const auto recs = store.expired_records(1'000'000, kRetention, [](const std::string&) {
    return OffsetStore::ExpiryBase{true, std::nullopt};
  });
  EXPECT_EQ(deleted_by(recs),
            (std::set<std::tuple<std::string, std::string, int32_t>>{{"g", "t", 1}}));
}

}  // namespace
}  // namespace kaffa::coordinator
