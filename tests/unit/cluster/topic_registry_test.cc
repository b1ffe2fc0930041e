#include "cluster/topic_registry.h"

#include <gtest/gtest.h>

#include "cluster/topic_config.h"

namespace kaffa::cluster {
namespace {

TEST(TopicNames, KafkaRules) {
  EXPECT_FALSE(invalid_topic_name("orders.v1_x-2"));
  EXPECT_TRUE(invalid_topic_name(""));
  EXPECT_TRUE(invalid_topic_name("."));
  EXPECT_TRUE(invalid_topic_name(".."));
  EXPECT_TRUE(invalid_topic_name("has space"));
  EXPECT_TRUE(invalid_topic_name("ümlaut"));
  EXPECT_FALSE(invalid_topic_name(std::string(249, 'a')));
  EXPECT_TRUE(invalid_topic_name(std::string(250, 'a')));
}

TEST(TopicRegistry, CreateFindRemove) {
  TopicRegistry r;
  TopicInfo t;
  t.name = "a";
  t.partitions = 3;
  TopicInfo created;
  ASSERT_EQ(r.create(t, &created), TopicRegistry::CreateResult::created);
  EXPECT_FALSE(created.id.is_zero());
  EXPECT_EQ(r.create(t), TopicRegistry::CreateResult::exists);
  ASSERT_TRUE(r.find("a"));
  EXPECT_EQ(r.find(created.id)->name, "a");
  EXPECT_EQ(r.find("a")->partitions, 3);
  EXPECT_TRUE(r.remove("a"));
  EXPECT_FALSE(r.find("a"));
  EXPECT_FALSE(r.remove("a"));
}

TEST(TopicRegistry, DotAndUnderscoreCollide) {
  TopicRegistry r;
  TopicInfo t;
  t.name = "a.b";
  ASSERT_EQ(r.create(t), TopicRegistry::CreateResult::created);
  t.name = "a_b";
  EXPECT_EQ(r.create(t), TopicRegistry::CreateResult::collides);
  EXPECT_EQ(*r.collision("a_b"), "a.b");
}

TEST(TopicRegistry, IdsAreUniqueAndRandom) {
  TopicRegistry r;
  for (int i = 0; i < 100; ++i) {
    TopicInfo t;
    t.name = "t" + std::to_string(i);
    ASSERT_EQ(r.create(t), TopicRegistry::CreateResult::created);
  }
  auto all = r.list();
  for (size_t i = 0; i < all.size(); ++i) {
    for (size_t j = i + 1; j < all.size(); ++j) EXPECT_FALSE(all[i].id == all[j].id);
  }
}

TEST(TopicConfig, KnownNamesAndValueKinds) {
  EXPECT_FALSE(invalid_topic_config("retention.ms", std::string("-1")));
  EXPECT_FALSE(invalid_topic_config("cleanup.policy", std::string("compact,delete")));
  EXPECT_TRUE(invalid_topic_config("retention.ms", std::string("soon")));
  EXPECT_TRUE(invalid_topic_config("cleanup.policy", std::string("shred")));
  EXPECT_TRUE(invalid_topic_config("no.such.config", std::string("1")));
  EXPECT_FALSE(invalid_topic_config("segment.bytes", std::nullopt));
}

}  // namespace
}  // namespace kaffa::cluster
