#include "cluster/metadata_store.h"

#include <gtest/gtest.h>

#include <fstream>

#include "storage_dir.h"

namespace kaffa::cluster {
namespace {

TopicInfo topic(std::string name, int32_t partitions) {
  TopicInfo t;
  t.name = std::move(name);
  t.id = protocol::Uuid::random();
  t.partitions = partitions;
  t.configs["retention.ms"] = "1000";
  return t;
}

TEST(MetadataStore, MissingFileIsAnEmptyCluster) {
  testing::TempDir dir;
  std::string error;
  auto topics = load_topics(metadata_snapshot_path(dir.path()), &error);
  ASSERT_TRUE(topics) << error;
  EXPECT_TRUE(topics->empty());
}

TEST(MetadataStore, SaveLoadRoundTrip) {
  testing::TempDir dir;
  const auto file = metadata_snapshot_path(dir.path());
  std::vector<TopicInfo> in = {topic("a", 3), topic("b", 1)};
  std::string error;
  ASSERT_TRUE(save_topics(file, in, &error)) << error;
  auto out = load_topics(file, &error);
  ASSERT_TRUE(out) << error;
  ASSERT_EQ(out->size(), 2u);
  EXPECT_EQ((*out)[0].name, "a");
  EXPECT_EQ((*out)[0].id, in[0].id);
  EXPECT_EQ((*out)[0].partitions, 3);
  EXPECT_EQ((*out)[0].configs.at("retention.ms"), "1000");
}

TEST(MetadataStore, EveryDamagedByteIsDetected) {
  testing::TempDir dir;
  const auto file = metadata_snapshot_path(dir.path());
  std::string error;
  ASSERT_TRUE(save_topics(file, {topic("a", 3)}, &error)) << error;
  std::string good;
  {
    std::ifstream in(file, std::ios::binary);
    good.assign(std::istreambuf_iterator<char>(in), {});
  }
  for (size_t i = 0; i < good.size(); ++i) {
    std::string bad = good;
    bad[i] = static_cast<char>(bad[i] ^ 0x20);
    std::ofstream(file, std::ios::binary | std::ios::trunc) << bad;
    EXPECT_FALSE(load_topics(file, &error)) << "flipped byte " << i;
  }
  std::ofstream(file, std::ios::binary | std::ios::trunc) << good.substr(0, good.size() - 1);
  EXPECT_FALSE(load_topics(file, &error));
}

TEST(TopicRegistry, FailedPersistenceUndoesTheChange) {
  TopicRegistry r;
  bool fail = false;
  r.set_persistence([&](const std::vector<TopicInfo>&, std::string* e) {
    if (fail) *e = "disk full";
    return !fail;
  });
  ASSERT_EQ(r.create(topic("a", 1)), TopicRegistry::CreateResult::created);
  fail = true;
  EXPECT_EQ(r.create(topic("b", 1)), TopicRegistry::CreateResult::storage_error);
  EXPECT_FALSE(r.find("b"));
  std::string error;
  EXPECT_FALSE(r.remove("a", &error));
  EXPECT_EQ(error, "disk full");
  EXPECT_TRUE(r.find("a"));
}

}  // namespace
}  // namespace kaffa::cluster
