// AlterUserScramCredentials (key 51), version 0 (flexible): upserts (salt and salted password as
// computed by the client) and deletions of SCRAM credentials, stored durably
// (security::ScramCredentialStore) before the answer. Per user, as Kafka: an empty name or
// iterations outside [4096, 16384] or an empty salt/salted password are UNACCEPTABLE_CREDENTIAL,
// an unknown mechanism UNSUPPORTED_SASL_MECHANISM, a user named twice for the same mechanism
// DUPLICATE_RESOURCE, deleting a credential that does not exist RESOURCE_NOT_FOUND. Users with an
// error are left unchanged; the others change together. Authorization: ALTER on the cluster, else
// every user named answers CLUSTER_AUTHORIZATION_FAILED and nothing changes.
#include "protocol/messages/alter_user_scram_credentials.h"

#include <map>

#include "base/log.h"
#include "broker/authorize.h"
#include "broker/broker.h"
#include "broker/handlers/handlers.h"
#include "protocol/error_codes.h"

namespace kaffa::broker {
namespace {

using protocol::ErrorCode;

struct Verdict {
  ErrorCode error = ErrorCode::none;
  std::string message;
};

}  // namespace

void handle_alter_user_scram_credentials(RequestContext& ctx, Responder respond) {
  protocol::AlterUserScramCredentialsRequest req;
  if (!ctx.decode(req)) return respond.close();
  auto& store = ctx.broker.scram_credentials();
  std::map<std::string, Verdict> users;  // every user named, in name order
  std::map<std::pair<std::string, int8_t>, int> seen;
  const bool allowed = authorize_cluster(ctx, AclOperation::alter);
  for (const auto& d : req.deletions) ++seen[{d.name, d.mechanism}];
  for (const auto& u : req.upsertions) ++seen[{u.name, u.mechanism}];
  auto refuse = [&](const std::string& user, ErrorCode e, std::string message) {
    auto& v = users[user];
    if (v.error == ErrorCode::none) v = {e, std::move(message)};
  };
  auto check = [&](const std::string& name, int8_t mechanism) {
    users.try_emplace(name);
    if (!allowed) {
      refuse(name, ErrorCode::cluster_authorization_failed, "Cluster authorization failed.");
    }
    if (name.empty())
      refuse(name, ErrorCode::unacceptable_credential, "Username must not be empty");
    if (security::scram_mechanism_name(mechanism).empty()) {
      refuse(name, ErrorCode::unsupported_sasl_mechanism,
             "Unknown SCRAM mechanism " + std::to_string(mechanism));
    }
    if (seen[{name, mechanism}] > 1) {
      refuse(name, ErrorCode::duplicate_resource,
             "A user credential cannot be altered twice in the same request");
    }
  };
  for (const auto& d : req.deletions) {
    check(d.name, d.mechanism);
    const auto mech = security::scram_mechanism_name(d.mechanism);
    if (!mech.empty() && !store.find(d.name, mech)) {
      refuse(d.name, ErrorCode::resource_not_found,
             "Attempt to delete a user credential that does not exist");
    }
  }
  for (const auto& u : req.upsertions) {
    check(u.name, u.mechanism);
    if (u.iterations < security::kScramMinIterations ||
        u.iterations > security::kScramMaxIterations) {
      refuse(u.name, ErrorCode::unacceptable_credential,
             "Iterations must be between " + std::to_string(security::kScramMinIterations) +
                 " and " + std::to_string(security::kScramMaxIterations));
    }
    if (u.salt.empty() || u.salted_password.empty()) {
      refuse(u.name, ErrorCode::unacceptable_credential, "Salt and salted password are required");
    }
  }
  std::vector<security::ScramCredentialStore::Change> changes;
  for (const auto& d : req.deletions) {
    if (users[d.name].error != ErrorCode::none) continue;
    changes.push_back({d.name, std::string(security::scram_mechanism_name(d.mechanism)), {}});
  }
  for (const auto& u : req.upsertions) {
    if (users[u.name].error != ErrorCode::none) continue;
    const auto mech = security::scram_mechanism_name(u.mechanism);
    changes.push_back(
        {u.name, std::string(mech),
         security::scram_credential(mech, std::string(u.salt), u.salted_password, u.iterations)});
  }
  std::string error;
  if (!changes.empty() && !store.apply(changes, &error)) {
    log::error("cannot store SCRAM credentials: {}", error);
    for (auto& [name, v] : users) {
      if (v.error == ErrorCode::none) v = {ErrorCode::unknown_server_error, "Storage error"};
    }
  }
  protocol::AlterUserScramCredentialsResponse resp;
  for (const auto& [name, v] : users) {
    auto& r = resp.results.emplace_back();
    r.user = name;
    r.error_code = protocol::code(v.error);
    if (v.error != ErrorCode::none) r.error_message = v.message;
    if (v.error == ErrorCode::none) log::info("SCRAM credentials of user '{}' changed", name);
  }
  respond.send(resp);
}

}  // namespace kaffa::broker
