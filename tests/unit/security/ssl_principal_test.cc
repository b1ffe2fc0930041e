#include "security/ssl_principal.h"

#include <gtest/gtest.h>

namespace kaffa::security {
namespace {

std::optional<std::string> map(const std::string& rules, const std::string& subject) {
  std::string error;
  auto mapper = SslPrincipalMapper::parse(rules, &error);
  EXPECT_TRUE(mapper) << rules << ": " << error;
  if (!mapper) return std::nullopt;
  return mapper->apply(subject);
}

std::string parse_error(const std::string& rules) {
  std::string error;
  EXPECT_FALSE(SslPrincipalMapper::parse(rules, &error)) << rules;
  return error;
}

TEST(SslPrincipalMapper, DefaultKeepsTheSubject) {
  EXPECT_EQ(map("DEFAULT", "CN=alice,OU=Eng,O=Acme"), "CN=alice,OU=Eng,O=Acme");
}

TEST(SslPrincipalMapper, RuleReplacesAWholeMatchWithGroups) {
  const std::string rules = "RULE:^CN=(.*?),OU=(.*?),O=(.*)$/$1@$2/";
  EXPECT_EQ(map(rules, "CN=alice,OU=Eng,O=Acme"), "alice@Eng");
  // The pattern must match the whole subject.
  EXPECT_EQ(map("RULE:CN=alice/x/", "CN=alice,O=Acme"), std::nullopt);
}

TEST(SslPrincipalMapper, LowerAndUpperCase) {
  EXPECT_EQ(map("RULE:^CN=(.*),O=.*$/$1/L", "CN=Alice,O=Acme"), "alice");
  EXPECT_EQ(map("RULE:^CN=(.*),O=.*$/$1/U", "CN=Alice,O=Acme"), "ALICE");
}

TEST(SslPrincipalMapper, FirstMatchingRuleWinsThenDefault) {
  const std::string rules =
      "RULE:^CN=([^,]*),OU=ServiceUsers,.*$/svc-$1/, RULE:^CN=admin,.*$/root/,DEFAULT";
  EXPECT_EQ(map(rules, "CN=kafka,OU=ServiceUsers,O=Acme"), "svc-kafka");
  EXPECT_EQ(map(rules, "CN=admin,O=Acme"), "root");
  EXPECT_EQ(map(rules, "CN=bob,O=Acme"), "CN=bob,O=Acme");
}

TEST(SslPrincipalMapper, NoRuleApplies) {
  EXPECT_EQ(map("RULE:^CN=admin,.*$/admin/", "CN=bob,O=Acme"), std::nullopt);
}

TEST(SslPrincipalMapper, EscapedSlashesAndCommasInPatterns) {
  EXPECT_EQ(map("RULE:^CN=(.*),O=a\\/b$/$1\\/x/", "CN=bob,O=a/b"), "bob/x");
  EXPECT_EQ(map("RULE:^CN=([^,]*),O=(Acme|Other)$/$2-$1/,DEFAULT", "CN=bob,O=Other"), "Other-bob");
}

TEST(SslPrincipalMapper, MalformedRulesAreRefused) {
  EXPECT_NE(parse_error(""), "");
  EXPECT_NE(parse_error("RULE:^CN=(.*)$"), "");
  EXPECT_NE(parse_error("RULE:^CN=(.*$/$1/"), "");  // bad regex
  EXPECT_NE(parse_error("DEFAULT,"), "");
  EXPECT_NE(parse_error("DEFAULT;RULE:a/b/"), "");
  EXPECT_NE(parse_error("SOMETHING"), "");
  EXPECT_NE(parse_error("RULE:a/b/X"), "");
}

}  // namespace
}  // namespace kaffa::security
