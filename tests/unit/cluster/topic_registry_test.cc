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

// Fetch v13+ resolves ids through name_of: its index follows every change of the topics,
// including a failed persistence that is rolled back.
TEST(TopicRegistry, NameOfFollowsEveryChange) {
  TopicRegistry r;
  TopicInfo loaded;
  loaded.name = "loaded";
  loaded.id.bytes[0] = 7;
  r.load({loaded});
  EXPECT_EQ(r.name_of(loaded.id), "loaded");

  TopicInfo t;
  t.name = "made";
  TopicInfo made;
  ASSERT_EQ(r.create(t, &made), TopicRegistry::CreateResult::created);
  EXPECT_EQ(r.name_of(made.id), "made");
  EXPECT_FALSE(r.name_of(protocol::Uuid{}));

  bool fail = true;
  r.set_persistence([&](const std::vector<TopicInfo>&, std::string* error) {
    if (fail) *error = "disk full";
    return !fail;
  });
  EXPECT_FALSE(r.remove("made"));  // not persisted: undone, still named
  EXPECT_EQ(r.name_of(made.id), "made");
  TopicInfo refused;
  refused.name = "refused";
  TopicInfo refused_out;
  EXPECT_EQ(r.create(refused, &refused_out), TopicRegistry::CreateResult::storage_error);
  EXPECT_FALSE(r.name_of(refused_out.id));
  fail = false;
  EXPECT_TRUE(r.remove("made"));
  EXPECT_FALSE(r.name_of(made.id));
  EXPECT_FALSE(r.find(made.id));

  TopicInfo replaced;
  replaced.name = "replaced";
  replaced.id.bytes[0] = 9;
  r.replace_all({replaced});
  EXPECT_EQ(r.name_of(replaced.id), "replaced");
  EXPECT_EQ(r.find(replaced.id)->name, "replaced");
  EXPECT_FALSE(r.name_of(loaded.id));
}

// Topic regexes of consumer groups are matched again only when names_version() moves: it must
// move with every change of the names, and only then.
TEST(TopicRegistry, NamesVersionMovesWithTheNamesOnly) {
  TopicRegistry r;
  uint64_t v = r.names_version();
  auto moved = [&] {
    const uint64_t now = r.names_version();
    const bool m = now != v;
    v = now;
    return m;
  };
  r.load({});
  EXPECT_TRUE(moved());
  TopicInfo t;
  t.name = "a";
  t.partitions = 2;
  TopicInfo made;
  ASSERT_EQ(r.create(t, &made), TopicRegistry::CreateResult::created);
  EXPECT_TRUE(moved());
  EXPECT_EQ(r.create(t), TopicRegistry::CreateResult::exists);
  EXPECT_FALSE(moved());
  const auto shape = r.shape_of("a");
  ASSERT_TRUE(shape);
  EXPECT_EQ(shape->id, made.id);
  EXPECT_EQ(shape->partitions, 2);
  EXPECT_FALSE(r.shape_of("b"));
  EXPECT_TRUE(r.add_partitions("a", 3));
  EXPECT_FALSE(moved());  // the same names
  EXPECT_EQ(r.shape_of("a")->partitions, 3);
  r.set_persistence([](const std::vector<TopicInfo>&, std::string* error) {
    *error = "disk full";
    return false;
  });
  EXPECT_FALSE(r.remove("a"));  // undone
  EXPECT_FALSE(moved());
  r.set_persistence(nullptr);
  EXPECT_TRUE(r.remove("a"));
  EXPECT_TRUE(moved());
  r.replace_all({t});
  EXPECT_TRUE(moved());
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
