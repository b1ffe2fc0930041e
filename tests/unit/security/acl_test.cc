#include "security/acl.h"

#include <gtest/gtest.h>

#include <fstream>

#include "storage/storage_testing.h"

namespace kaffa::security {
namespace {

using storage::testing::TempDir;
using O = AclOperation;
using P = AclPermission;
using R = ResourceType;

AclBinding acl(R type, std::string name, PatternType pattern, std::string principal, O op, P perm,
               std::string host = "*") {
  return {{type, std::move(name), pattern}, std::move(principal), std::move(host), op, perm};
}

AclBinding topic_acl(std::string name, std::string principal, O op, P perm = P::allow) {
  return acl(R::topic, std::move(name), PatternType::literal, std::move(principal), op, perm);
}

class AuthorizerTest : public ::testing::Test {
 protected:
  Authorizer make(AuthorizerOptions options = {}) {
    return Authorizer(Authorizer::default_path(dir_.path()), std::move(options));
  }
  void add(Authorizer& a, std::vector<AclBinding> bindings) {
    std::string error;
    ASSERT_TRUE(a.create(bindings, &error)) << error;
  }
  TempDir dir_;
};

TEST_F(AuthorizerTest, NoAclDeniesByDefaultAndAllowsWithAllowEveryone) {
  auto a = make();
  EXPECT_FALSE(a.authorize("User:alice", "127.0.0.1", O::read, R::topic, "t"));
  auto open = make({{}, true});
  EXPECT_TRUE(open.authorize("User:alice", "127.0.0.1", O::read, R::topic, "t"));
}

TEST_F(AuthorizerTest, AllowEveryoneOnlyWhenNoAclAppliesToTheResourceAtAll) {
  auto a = make({{}, true});
  add(a, {topic_acl("t", "User:bob", O::read)});
  // An ACL exists for t (for bob): alice is no longer allowed by default.
  EXPECT_FALSE(a.authorize("User:alice", "h", O::read, R::topic, "t"));
  EXPECT_TRUE(a.authorize("User:bob", "h", O::read, R::topic, "t"));
  EXPECT_TRUE(a.authorize("User:alice", "h", O::read, R::topic, "other"));
}

TEST_F(AuthorizerTest, SuperUserBypassesDenies) {
  auto a = make({{"User:admin"}, false});
  add(a, {topic_acl("t", "User:*", O::all, P::deny)});
  EXPECT_TRUE(a.authorize("User:admin", "h", O::write, R::topic, "t"));
  EXPECT_FALSE(a.authorize("User:alice", "h", O::write, R::topic, "t"));
}

TEST_F(AuthorizerTest, DenyWinsOverAllow) {
  auto a = make();
  add(a, {topic_acl("t", "User:alice", O::read), topic_acl("t", "User:alice", O::read, P::deny)});
  EXPECT_FALSE(a.authorize("User:alice", "h", O::read, R::topic, "t"));
  // A deny of the wildcard principal also wins.
  add(a, {topic_acl("u", "User:alice", O::write), topic_acl("u", "User:*", O::write, P::deny)});
  EXPECT_FALSE(a.authorize("User:alice", "h", O::write, R::topic, "u"));
}

TEST_F(AuthorizerTest, AllMatchesEveryOperation) {
  auto a = make();
  add(a, {topic_acl("t", "User:alice", O::all)});
  for (const auto op : supported_operations(R::topic)) {
    EXPECT_TRUE(a.authorize("User:alice", "h", op, R::topic, "t")) << to_string(op);
  }
  add(a, {topic_acl("u", "User:alice", O::all), topic_acl("u", "User:alice", O::all, P::deny)});
  EXPECT_FALSE(a.authorize("User:alice", "h", O::describe, R::topic, "u"));
}

TEST_F(AuthorizerTest, DescribeIsImpliedByReadWriteDeleteAlter) {
  auto a = make();
  for (const auto op : {O::read, O::write, O::remove, O::alter}) {
    const std::string name = "t-" + std::string(to_string(op));
    add(a, {topic_acl(name, "User:alice", op)});
    EXPECT_TRUE(a.authorize("User:alice", "h", O::describe, R::topic, name)) << name;
    EXPECT_FALSE(a.authorize("User:alice", "h", O::describe_configs, R::topic, name)) << name;
  }
  add(a, {topic_acl("c", "User:alice", O::alter_configs)});
  EXPECT_TRUE(a.authorize("User:alice", "h", O::describe_configs, R::topic, "c"));
  EXPECT_FALSE(a.authorize("User:alice", "h", O::describe, R::topic, "c"));
  // Implication applies to ALLOW only: a DENY of READ does not deny DESCRIBE.
  add(a,
      {topic_acl("d", "User:alice", O::describe), topic_acl("d", "User:alice", O::read, P::deny)});
  EXPECT_TRUE(a.authorize("User:alice", "h", O::describe, R::topic, "d"));
  EXPECT_FALSE(a.authorize("User:alice", "h", O::read, R::topic, "d"));
}

TEST_F(AuthorizerTest, WildcardNamePrincipalAndHost) {
  auto a = make();
  add(a, {topic_acl("*", "User:*", O::read)});
  EXPECT_TRUE(a.authorize("User:anyone", "h", O::read, R::topic, "whatever"));
  EXPECT_FALSE(a.authorize("User:anyone", "h", O::write, R::topic, "whatever"));
  // Wildcards of one resource type do not leak into another.
  EXPECT_FALSE(a.authorize("User:anyone", "h", O::read, R::group, "whatever"));

  add(a, {acl(R::group, "g", PatternType::literal, "User:alice", O::read, P::allow, "10.0.0.1")});
  EXPECT_TRUE(a.authorize("User:alice", "10.0.0.1", O::read, R::group, "g"));
  EXPECT_FALSE(a.authorize("User:alice", "10.0.0.2", O::read, R::group, "g"));
}

TEST_F(AuthorizerTest, PrefixedPatterns) {
  auto a = make();
  add(a, {acl(R::topic, "orders-", PatternType::prefixed, "User:alice", O::write, P::allow)});
  EXPECT_TRUE(a.authorize("User:alice", "h", O::write, R::topic, "orders-eu"));
  EXPECT_TRUE(a.authorize("User:alice", "h", O::write, R::topic, "orders-"));
  EXPECT_FALSE(a.authorize("User:alice", "h", O::write, R::topic, "order"));
  add(a, {acl(R::topic, "orders-secret", PatternType::prefixed, "User:alice", O::all, P::deny)});
  EXPECT_FALSE(a.authorize("User:alice", "h", O::write, R::topic, "orders-secret-1"));
  EXPECT_TRUE(a.authorize("User:alice", "h", O::write, R::topic, "orders-public"));
  // A literal "*" with PREFIXED is a prefix, not the wildcard.
  add(a, {acl(R::group, "*", PatternType::prefixed, "User:alice", O::read, P::allow)});
  EXPECT_FALSE(a.authorize("User:alice", "h", O::read, R::group, "g"));
}

TEST_F(AuthorizerTest, AuthorizedOperationsBitField) {
  auto a = make();
  add(a, {topic_acl("t", "User:alice", O::read)});
  const int32_t bits = a.authorized_operations("User:alice", "h", R::topic, "t");
  EXPECT_EQ(bits, (1 << 3) | (1 << 8));  // READ and the DESCRIBE it implies
}

TEST_F(AuthorizerTest, AuthorizeAnyTopic) {
  auto a = make();
  EXPECT_FALSE(a.authorize_any("User:alice", "h", O::write, R::topic));
  add(a, {topic_acl("t", "User:alice", O::write)});
  EXPECT_TRUE(a.authorize_any("User:alice", "h", O::write, R::topic));
  EXPECT_FALSE(a.authorize_any("User:bob", "h", O::write, R::topic));
  add(a, {topic_acl("t", "User:alice", O::write, P::deny)});
  EXPECT_FALSE(a.authorize_any("User:alice", "h", O::write, R::topic));
  add(a, {acl(R::topic, "p-", PatternType::prefixed, "User:alice", O::write, P::allow)});
  EXPECT_TRUE(a.authorize_any("User:alice", "h", O::write, R::topic));
  add(a, {acl(R::topic, "p", PatternType::prefixed, "User:*", O::write, P::deny)});
  EXPECT_FALSE(a.authorize_any("User:alice", "h", O::write, R::topic));
}

TEST(AclFilter, MatchesLikeKafka) {
  const auto lit = topic_acl("orders", "User:alice", O::read);
  const auto star = topic_acl("*", "User:bob", O::write);
  const auto pre = acl(R::topic, "ord", PatternType::prefixed, "User:alice", O::read, P::deny);
  AclBindingFilter any;
  EXPECT_TRUE(any.matches(lit) && any.matches(star) && any.matches(pre));
  AclBindingFilter match{R::topic, "orders", PatternType::match, {}, {}, O::any, P::any};
  EXPECT_TRUE(match.matches(lit) && match.matches(star) && match.matches(pre));
  AclBindingFilter by_name{R::any, "orders", PatternType::any, {}, {}, O::any, P::any};
  EXPECT_TRUE(by_name.matches(lit));
  EXPECT_FALSE(by_name.matches(star) || by_name.matches(pre));
  AclBindingFilter prefixed{R::topic, {}, PatternType::prefixed, {}, {}, O::any, P::any};
  EXPECT_TRUE(prefixed.matches(pre));
  EXPECT_FALSE(prefixed.matches(lit));
  AclBindingFilter who{R::any, {}, PatternType::any, "User:bob", "*", O::write, P::allow};
  EXPECT_TRUE(who.matches(star));
  EXPECT_FALSE(who.matches(lit));
  AclBindingFilter group{R::group, {}, PatternType::any, {}, {}, O::any, P::any};
  EXPECT_FALSE(group.matches(lit));
}

TEST(AclValidation, RejectsWhatKafkaRejects) {
  EXPECT_EQ(validate_binding(topic_acl("t", "User:a", O::read)), "");
  EXPECT_NE(validate_binding(topic_acl("", "User:a", O::read)), "");
  EXPECT_NE(validate_binding(topic_acl("t", "alice", O::read)), "");
  EXPECT_NE(validate_binding(topic_acl("t", "User:a", O::any)), "");
  EXPECT_NE(validate_binding(topic_acl("t", "User:a", O::read, P::any)), "");
  EXPECT_NE(validate_binding(acl(R::topic, "t", PatternType::match, "User:a", O::read, P::allow)),
            "");
  EXPECT_NE(validate_binding(acl(R::any, "t", PatternType::literal, "User:a", O::read, P::allow)),
            "");
  EXPECT_NE(
      validate_binding(acl(R::cluster, "c", PatternType::literal, "User:a", O::alter, P::allow)),
      "");
  EXPECT_EQ(validate_binding(acl(R::cluster, "kafka-cluster", PatternType::literal, "User:a",
                                 O::alter, P::allow)),
            "");
  EXPECT_NE(validate_filter({R::unknown, {}, PatternType::any, {}, {}, O::any, P::any}), "");
  EXPECT_EQ(validate_filter({}), "");
}

TEST(AclCodes, KafkaNumbersAndNames) {
  EXPECT_EQ(static_cast<int>(R::topic), 2);
  EXPECT_EQ(static_cast<int>(R::user), 7);
  EXPECT_EQ(static_cast<int>(O::idempotent_write), 12);
  EXPECT_EQ(static_cast<int>(PatternType::prefixed), 4);
  EXPECT_EQ(static_cast<int>(P::allow), 3);
  EXPECT_EQ(parse_operation("describe_configs"), O::describe_configs);
  EXPECT_EQ(parse_operation("Delete"), O::remove);
  EXPECT_EQ(to_string(O::remove), "DELETE");
  EXPECT_EQ(parse_resource_type("transactional_id"), R::transactional_id);
  EXPECT_EQ(operation_of(99), O::unknown);
  EXPECT_EQ(resource_type_of(-1), R::unknown);
}

TEST_F(AuthorizerTest, CreateRemoveAndPersist) {
  auto a = make();
  add(a, {topic_acl("t", "User:alice", O::read),
          acl(R::group, "g", PatternType::prefixed, "User:b b", O::read, P::allow, "::1"),
          topic_acl("t", "User:alice", O::read)});
  EXPECT_EQ(a.describe({}).size(), 2u);
  {
    auto again = make();
    std::string error;
    ASSERT_TRUE(again.load(&error)) << error;
    EXPECT_EQ(again.describe({}), a.describe({}));
    EXPECT_TRUE(again.authorize("User:b b", "::1", O::read, R::group, "g1"));
  }
  std::vector<std::vector<AclBinding>> matched;
  std::string error;
  ASSERT_TRUE(a.remove({{R::topic, {}, PatternType::any, {}, {}, O::any, P::any},
                        {R::any, {}, PatternType::any, "User:alice", {}, O::any, P::any}},
                       &matched, &error));
  ASSERT_EQ(matched.size(), 2u);
  EXPECT_EQ(matched[0].size(), 1u);
  EXPECT_EQ(matched[1].size(), 1u);  // listed under both filters, as Kafka does
  EXPECT_EQ(a.describe({}).size(), 1u);
  auto again = make();
  ASSERT_TRUE(again.load(&error)) << error;
  EXPECT_EQ(again.describe({}).size(), 1u);
}

TEST_F(AuthorizerTest, DamagedFileIsAnError) {
  std::filesystem::create_directories(Authorizer::default_path(dir_.path()).parent_path());
  for (const std::string text : {"kaffa-acls 1\n1\n", "kaffa-acls 1\n1\n2 3 dA== VXNlcjph Kg== 3",
                                 "kaffa-acls 1\n1\n2 3 dA== VXNlcjph Kg== 0 3\n", "junk\n"}) {
    std::ofstream(Authorizer::default_path(dir_.path()), std::ios::trunc) << text;
    auto a = make();
    std::string error;
    EXPECT_FALSE(a.load(&error)) << text;
    EXPECT_NE(error.find("damaged"), std::string::npos);
  }
  std::ofstream(Authorizer::default_path(dir_.path()), std::ios::trunc)
      << "kaffa-acls 1\n1\n2 3 dA== VXNlcjph Kg== 3 3\n";
  auto a = make();
  std::string error;
  ASSERT_TRUE(a.load(&error)) << error;
  EXPECT_TRUE(a.authorize("User:a", "h", O::read, R::topic, "t"));
}

// In a cluster the set comes from the metadata store: until it has, allow.everyone.if.no.acl.found
// must not open everything, and the set given is used without a file.
TEST_F(AuthorizerTest, WaitingForTheFirstSetAllowsOnlySuperUsersUntilReplaceGivesIt) {
  auto a = make({{"User:admin"}, true, true});
  EXPECT_FALSE(a.authorize("User:alice", "h", O::read, R::topic, "t"));
  EXPECT_TRUE(a.authorize("User:admin", "h", O::read, R::topic, "t"));
  a.replace({topic_acl("t", "User:bob", O::read)});
  EXPECT_FALSE(a.authorize("User:alice", "h", O::read, R::topic, "t"));
  EXPECT_TRUE(a.authorize("User:bob", "h", O::read, R::topic, "t"));
  EXPECT_TRUE(a.authorize("User:alice", "h", O::read, R::topic, "other"));  // no ACL applies
  a.replace({});
  EXPECT_TRUE(a.authorize("User:alice", "h", O::read, R::topic, "t"));
  EXPECT_FALSE(std::filesystem::exists(Authorizer::default_path(dir_.path())));
}

TEST(AclSets, ChangesSayWhenNothingChanged) {
  const std::set<AclBinding> one{topic_acl("t", "User:a", O::read)};
  EXPECT_FALSE(with_added(one, {topic_acl("t", "User:a", O::read)}));
  auto two = with_added(one, {topic_acl("t", "User:b", O::read)});
  ASSERT_TRUE(two);
  EXPECT_EQ(two->size(), 2u);
  std::vector<std::vector<AclBinding>> matched;
  AclBindingFilter of_b;
  of_b.principal = "User:b";
  AclBindingFilter of_c;
  of_c.principal = "User:c";
  auto left = without_matching(*two, {of_c, of_b}, &matched);
  ASSERT_TRUE(left);
  EXPECT_EQ(*left, one);
  ASSERT_EQ(matched.size(), 2u);
  EXPECT_TRUE(matched[0].empty());
  EXPECT_EQ(matched[1], (std::vector<AclBinding>{topic_acl("t", "User:b", O::read)}));
  EXPECT_FALSE(without_matching(one, {of_c}, &matched));
  ASSERT_EQ(matched.size(), 1u);
  EXPECT_TRUE(matched[0].empty());
}

}  // namespace
}  // namespace kaffa::security
