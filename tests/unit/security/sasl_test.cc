#include "security/sasl.h"

#include <gtest/gtest.h>

namespace kaffa::security {
namespace {

using State = SaslStep::State;

std::shared_ptr<const PlainUsers> users() {
  return std::make_shared<const PlainUsers>(PlainUsers{{"alice", "alice-secret"}, {"bob", "b"}});
}

SaslStep plain(std::string_view token) {
  return make_plain(users())->step(token);
}

TEST(SaslPlain, AcceptsKnownUsersWithTheirPassword) {
  using namespace std::string_literals;
  auto ok = plain("\0alice\0alice-secret"s);
  EXPECT_EQ(ok.state, State::done);
  EXPECT_EQ(ok.principal, "User:alice");
  EXPECT_TRUE(ok.token.empty());
  EXPECT_EQ(plain("bob\0bob\0b"s).state, State::done);  // authzid equal to the user
}

TEST(SaslPlain, RejectsWithoutSayingWhy) {
  using namespace std::string_literals;
  const auto wrong = plain("\0alice\0alice-secreT"s);
  const auto unknown = plain("\0mallory\0alice-secret"s);
  EXPECT_EQ(wrong.state, State::failed);
  EXPECT_EQ(unknown.state, State::failed);
  EXPECT_EQ(wrong.error, unknown.error);  // same answer whether or not the user exists
  EXPECT_NE(wrong.detail.find("alice"), std::string::npos);
  EXPECT_EQ(plain("\0alice\0alice-secret-longer"s).state, State::failed);
  EXPECT_EQ(plain("\0alice\0"s).state, State::failed);
  EXPECT_EQ(plain("\0\0alice-secret"s).state, State::failed);
  EXPECT_EQ(plain("bob\0alice\0alice-secret"s).state, State::failed);  // other authzid
  for (const std::string& bad : {""s, "alice"s, "\0alice"s, "\0alice\0pw\0extra"s}) {
    EXPECT_EQ(plain(bad).state, State::failed) << bad.size();
  }
}

TEST(SaslPlain, TakesOneTokenOnly) {
  using namespace std::string_literals;
  auto m = make_plain(users());
  EXPECT_EQ(m->step("\0alice\0alice-secret"s).state, State::done);
  EXPECT_EQ(m->step("\0alice\0alice-secret"s).state, State::failed);
}

TEST(Jaas, ParsesKafkasPlainLoginModuleText) {
  std::string error;
  auto u = parse_plain_jaas(
      "org.apache.kafka.common.security.plain.PlainLoginModule required\n"
      "  username=\"admin\" password=\"admin-secret\"\n"
      "  user_admin=\"admin-secret\" user_alice=\"a \\\"quoted\\\" pw\";",
      &error);
  ASSERT_TRUE(u) << error;
  EXPECT_EQ(u->size(), 2u);
  EXPECT_EQ(u->at("alice"), "a \"quoted\" pw");
  EXPECT_EQ(u->at("admin"), "admin-secret");
}

TEST(Jaas, MalformedTextIsAnError) {
  for (const char* bad :
       {"", "Module", "Module always;", "Module required user_a=\"x\"", "Module required user_a=x;",
        "Module required user_a=\"x;", "Module required user_=\"x\";", "Module required; trailing",
        "Module required user_a;"}) {
    std::string error;
    EXPECT_FALSE(parse_plain_jaas(bad, &error)) << bad;
    EXPECT_NE(error.find("sasl.jaas.config"), std::string::npos) << bad;
  }
}

TEST(SaslPlain, OurClientLogsIn) {
  auto client = make_sasl_client(kPlain, "alice", "alice-secret");
  ASSERT_TRUE(client);
  const auto token = client->first();
  EXPECT_EQ(token, std::string("\0alice\0alice-secret", 19));
  auto server = make_plain(users());
  EXPECT_EQ(server->step(token).state, State::done);
  EXPECT_EQ(client->step("").state, SaslClientStep::State::done);
}

TEST(Jaas, OptionsGiveABrokersOwnCredentials) {
  std::string error;
  auto o = parse_jaas_options(
      "org.apache.kafka.common.security.scram.ScramLoginModule required\n"
      "  username=\"broker\" password=\"s3\\\"cret\";",
      &error);
  ASSERT_TRUE(o) << error;
  EXPECT_EQ((*o)["username"], "broker");
  EXPECT_EQ((*o)["password"], "s3\"cret");
  EXPECT_FALSE(parse_jaas_options("Module required username=broker;", &error));
  auto users = parse_plain_jaas(
      "M required username=\"a\" password=\"b\" user_a=\"b\" user_c=\"d\";", &error);
  ASSERT_TRUE(users) << error;
  EXPECT_EQ(*users, (PlainUsers{{"a", "b"}, {"c", "d"}}));
}

}  // namespace
}  // namespace kaffa::security
