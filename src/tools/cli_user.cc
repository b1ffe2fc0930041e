// `kaffa user list|set|delete`: SCRAM credentials (KIP-554's DescribeUserScramCredentials and
// AlterUserScramCredentials), as Kafka's `kafka-configs.sh --entity-type users` manages them. The
// password never leaves this process: the salted password (PBKDF2 with a random salt) is sent.
// librdkafka 2.0 has no API for these requests, so they go through RawClient.
#include <openssl/rand.h>

#include <CLI/CLI.hpp>
#include <cstdio>
#include <iostream>

#include "protocol/error_codes.h"
#include "protocol/messages/alter_user_scram_credentials.h"
#include "protocol/messages/describe_user_scram_credentials.h"
#include "security/scram.h"
#include "tools/cli_common.h"
#include "tools/raw_client.h"

namespace kaffa::cli {
namespace {

constexpr int16_t kDescribe = 50;
constexpr int16_t kAlter = 51;

struct UserOptions {
  std::vector<std::string> names;
  std::string name;
  std::string mechanism = std::string(security::kScramSha256);
  std::optional<std::string> only_mechanism;
  int32_t iterations = security::kScramMinIterations;
  std::optional<std::string> password;
  bool password_stdin = false;
};

protocol::DescribeUserScramCredentialsResponse describe(RawClient& c,
                                                        const std::vector<std::string>& names) {
  protocol::DescribeUserScramCredentialsRequest req;
  if (!names.empty()) {
    req.users.emplace();
    for (const auto& n : names) req.users->push_back({n, {}});
  }
  protocol::DescribeUserScramCredentialsResponse resp;
  c.call_checked("DescribeUserScramCredentials", kDescribe, 0, req, resp);
  return resp;
}

int user_list(Globals& g, const UserOptions& o) {
  RawClient c(g);
  const auto resp = describe(c, o.names);
  int status = 0;
  Json j;
  j.begin_array();
  Table t({"USER", "MECHANISM", "ITERATIONS"});
  for (const auto& r : resp.results) {
    if (r.error_code != 0) {
      std::fprintf(stderr, "kaffa: user %s: %s\n", r.user.c_str(),
                   r.error_message.value_or("error " + std::to_string(r.error_code)).c_str());
      status = kExitKafka;
      continue;
    }
    j.begin_object().key("user").str(r.user).key("credentials").begin_array();
    for (const auto& info : r.credential_infos) {
      const std::string mech(security::scram_mechanism_name(info.mechanism));
      j.begin_object().key("mechanism").str(mech).key("iterations").num(info.iterations);
      j.end_object();
      t.row({r.user, mech, std::to_string(info.iterations)});
    }
    j.end_array().end_object();
  }
  j.end_array();
  g.json ? j.print() : t.print();
  return status;
}

int alter(Globals& g, const protocol::AlterUserScramCredentialsRequest& req, const char* done) {
  RawClient c(g);
  protocol::AlterUserScramCredentialsResponse resp;
  c.call(kAlter, 0, req, resp);
  int status = 0;
  for (const auto& r : resp.results) {
    if (r.error_code != 0) {
      std::fprintf(stderr, "kaffa: user %s: %s\n", r.user.c_str(),
                   r.error_message.value_or("error " + std::to_string(r.error_code)).c_str());
      status = kExitKafka;
    } else if (!g.json) {
      std::printf("%s SCRAM credentials of user %s\n", done, r.user.c_str());
    }
  }
  if (g.json) {
    Json j;
    j.begin_array();
    for (const auto& r : resp.results) {
      j.begin_object().key("user").str(r.user).key("error_code").num(r.error_code);
      j.key("error_message").opt_str(r.error_message).end_object();
    }
    j.end_array().print();
  }
  return status;
}

int user_set(Globals& g, const UserOptions& o) {
  const int8_t type = security::scram_mechanism_type(o.mechanism);
  if (type == 0) usage_error("--mechanism must be SCRAM-SHA-256 or SCRAM-SHA-512");
  std::string password;
  if (o.password) {
    password = *o.password;
  } else if (o.password_stdin) {
    std::getline(std::cin, password);
  } else {
    usage_error("give --password or --password-stdin");
  }
  if (password.empty()) usage_error("the password must not be empty");
  std::string salt(32, '\0');
  RAND_bytes(reinterpret_cast<unsigned char*>(salt.data()), static_cast<int>(salt.size()));
  protocol::AlterUserScramCredentialsRequest req;
  auto& up = req.upsertions.emplace_back();
  up.name = o.name;
  up.mechanism = type;
  up.iterations = o.iterations;
  up.salt = salt;
  up.salted_password = security::scram_salted_password(o.mechanism, password, salt, o.iterations);
  return alter(g, req, "Set");
}

int user_delete(Globals& g, const UserOptions& o) {
  protocol::AlterUserScramCredentialsRequest req;
  if (o.only_mechanism) {
    const int8_t type = security::scram_mechanism_type(*o.only_mechanism);
    if (type == 0) usage_error("--mechanism must be SCRAM-SHA-256 or SCRAM-SHA-512");
    req.deletions.push_back({o.name, type, {}});
  } else {
    RawClient c(g);
    const auto found = describe(c, {o.name});
    for (const auto& r : found.results) {
      if (r.error_code != 0) {
        throw Failure(kExitKafka,
                      "user " + o.name + ": " +
                          r.error_message.value_or("error " + std::to_string(r.error_code)));
      }
      for (const auto& info : r.credential_infos)
        req.deletions.push_back({o.name, info.mechanism, {}});
    }
  }
  return alter(g, req, "Deleted");
}

}  // namespace

void add_user_commands(CLI::App& app, Globals& g) {
  auto* user = app.add_subcommand("user", "SCRAM users (as kafka-configs.sh --entity-type users)");
  user->require_subcommand(1);
  auto o = std::make_shared<UserOptions>();

  auto* list = user->add_subcommand("list", "Users and their SCRAM mechanisms");
  list->add_option("names", o->names, "Only these users");
  on_run(list, g, [&g, o] { return user_list(g, *o); });

  auto* set = user->add_subcommand("set", "Create or replace a user's SCRAM credential");
  set->add_option("name", o->name, "User name")->required();
  set->add_option("--mechanism", o->mechanism, "SCRAM-SHA-256 (default) or SCRAM-SHA-512");
  set->add_option("--iterations", o->iterations, "PBKDF2 iterations (4096-16384)");
  set->add_option("--password", o->password, "The password (visible to ps; see --password-stdin)");
  set->add_flag("--password-stdin", o->password_stdin,
                "Read the password from the first line of stdin");
  on_run(set, g, [&g, o] { return user_set(g, *o); });

  auto* del = user->add_subcommand("delete", "Remove a user's SCRAM credentials");
  del->add_option("name", o->name, "User name")->required();
  del->add_option("--mechanism", o->only_mechanism, "Only this mechanism (default: all)");
  on_run(del, g, [&g, o] { return user_delete(g, *o); });
}

}  // namespace kaffa::cli
