#include "cluster/producer_ids.h"

#include <gtest/gtest.h>

#include <fstream>

#include "storage_dir.h"

namespace kaffa::cluster {
namespace {

TEST(ProducerIds, IdsAreNeverReusedAcrossRestarts) {
  testing::TempDir dir;
  const auto file = ProducerIdManager::default_path(dir.path());
  std::string error;
  int64_t last = -1;
  {
    ProducerIdManager ids(file);
    ASSERT_TRUE(ids.load(&error)) << error;
    for (int i = 0; i < 1500; ++i) {
      auto id = ids.next(&error);
      ASSERT_TRUE(id) << error;
      EXPECT_EQ(*id, last + 1);
      last = *id;
    }
  }
  // A restart (clean or not: nothing is written at shutdown) starts past every id handed out.
  ProducerIdManager again(file);
  ASSERT_TRUE(again.load(&error)) << error;
  auto id = again.next(&error);
  ASSERT_TRUE(id) << error;
  EXPECT_GT(*id, last);
  EXPECT_EQ(*id % ProducerIdManager::kBlockSize, 0);
}

TEST(ProducerIds, DamagedFileIsAnError) {
  testing::TempDir dir;
  const auto file = ProducerIdManager::default_path(dir.path());
  std::filesystem::create_directories(file.parent_path());
  for (const char* text : {"", "0\n", "0\n12x\n", "1\n2000\n", "0\n-5\n", "0\n2000"}) {
    std::ofstream(file, std::ios::trunc) << text;
    ProducerIdManager ids(file);
    std::string error;
    EXPECT_FALSE(ids.load(&error)) << "'" << text << "'";
    EXPECT_NE(error.find("damaged"), std::string::npos);
  }
  std::ofstream(file, std::ios::trunc) << "0\n3000\n";
  ProducerIdManager ids(file);
  std::string error;
  ASSERT_TRUE(ids.load(&error)) << error;
  EXPECT_EQ(ids.next(&error), 3000);
}

}  // namespace
}  // namespace kaffa::cluster
