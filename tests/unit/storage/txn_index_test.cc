// TxnIndex: the aborted.txnindex file (Kafka's AbortedTxn entries), its reload, truncation,
// pruning, damaged tails and Kafka's collectAbortedTxns bounds.
#include "storage/txn_index.h"

#include <gtest/gtest.h>

#include <fstream>

#include "storage_testing.h"

namespace kaffa::storage {
namespace {

using testing::TempDir;

// Three aborts, each last stable offset consistent (the next transaction was undecided).
TxnIndex filled(const std::filesystem::path& dir) {
  TxnIndex index(dir);
  std::string error;
  EXPECT_TRUE(index.load(&error)) << error;
  EXPECT_TRUE(index.append({1, 0, 10, 5}, &error)) << error;
  EXPECT_TRUE(index.append({2, 5, 20, 12}, &error)) << error;
  EXPECT_TRUE(index.append({3, 12, 30, 31}, &error)) << error;
  return index;
}

TEST(TxnIndex, EntriesAreKafkasAbortedTxnLayoutAndSurviveAReload) {
  TempDir dir;
  filled(dir.path());
  const auto path = dir.path() / "aborted.txnindex";
  ASSERT_EQ(std::filesystem::file_size(path), 3 * TxnIndex::kEntrySize);
  std::ifstream f(path, std::ios::binary);
  std::string bytes((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>());
  // Second entry: version 0, producer 2, first 5, last 20, LSO 12.
  const std::string second = bytes.substr(TxnIndex::kEntrySize, TxnIndex::kEntrySize);
  EXPECT_EQ(second, std::string("\0\0", 2) + std::string("\0\0\0\0\0\0\0\x02", 8) +
                        std::string("\0\0\0\0\0\0\0\x05", 8) +
                        std::string("\0\0\0\0\0\0\0\x14", 8) +
                        std::string("\0\0\0\0\0\0\0\x0c", 8));
  TxnIndex again(dir.path());
  std::string error;
  ASSERT_TRUE(again.load(&error)) << error;
  EXPECT_EQ(again.entries(),
            (std::vector<AbortedTxn>{{1, 0, 10, 5}, {2, 5, 20, 12}, {3, 12, 30, 31}}));
}

TEST(TxnIndex, CollectFollowsKafkasBounds) {
  TempDir dir;
  const auto index = filled(dir.path());
  auto pids = [](const std::vector<AbortedTxn>& v) {
    std::vector<int64_t> out;
    for (const auto& t : v) out.push_back(t.producer_id);
    return out;
  };
  EXPECT_EQ(pids(index.collect(0, 100)), (std::vector<int64_t>{1, 2, 3}));
  EXPECT_EQ(pids(index.collect(11, 100)), (std::vector<int64_t>{2, 3}));  // 1 ended at 10
  EXPECT_EQ(pids(index.collect(0, 5)), (std::vector<int64_t>{1}));        // 2 starts at 5
  EXPECT_EQ(pids(index.collect(0, 6)), (std::vector<int64_t>{1, 2}));
  EXPECT_EQ(pids(index.collect(31, 100)), std::vector<int64_t>{});
}

TEST(TxnIndex, TruncateAndPruneRewriteTheFile) {
  TempDir dir;
  auto index = filled(dir.path());
  std::string error;
  ASSERT_TRUE(index.truncate_from(20, &error)) << error;  // entries ending at 20 and 30 go
  ASSERT_TRUE(index.prune_below(0, &error)) << error;
  EXPECT_EQ(index.entries().size(), 1u);
  ASSERT_TRUE(index.append({4, 25, 40, 41}, &error)) << error;
  ASSERT_TRUE(index.prune_below(11, &error)) << error;  // the one ending at 10 goes
  TxnIndex again(dir.path());
  ASSERT_TRUE(again.load(&error)) << error;
  EXPECT_EQ(again.entries(), (std::vector<AbortedTxn>{{4, 25, 40, 41}}));
  EXPECT_FALSE(std::filesystem::exists(dir.path() / "aborted.txnindex.tmp"));
}

TEST(TxnIndex, ADamagedTailIsCutOff) {
  TempDir dir;
  filled(dir.path());
  const auto path = dir.path() / "aborted.txnindex";
  {
    std::ofstream f(path, std::ios::binary | std::ios::app);
    f << std::string(20, '\x7f');  // a torn entry
  }
  TxnIndex index(dir.path());
  std::string error;
  ASSERT_TRUE(index.load(&error)) << error;
  EXPECT_EQ(index.entries().size(), 3u);
  EXPECT_EQ(std::filesystem::file_size(path), 3 * TxnIndex::kEntrySize);
  // An entry out of order (last offset going back) ends the valid part too.
  ASSERT_TRUE(index.truncate_from(30, &error)) << error;
  {
    std::ofstream f(path, std::ios::binary | std::ios::app);
    std::string e(TxnIndex::kEntrySize, '\0');
    e[25] = 3;  // last offset 3 < 20
    f << e;
  }
  ASSERT_TRUE(index.load(&error)) << error;
  EXPECT_EQ(index.entries().size(), 2u);
  EXPECT_TRUE(index.sync_if_dirty(&error)) << error;
}

}  // namespace
}  // namespace kaffa::storage
