// AlterUserScramCredentials (key 51), version 0 (flexible): upserts (salt and salted password as
// computed by the client) and deletions of SCRAM credentials, stored durably before the answer
// (this broker's security::ScramCredentialStore; in a cluster the metadata store, so that the
// users authenticate on every broker). Per user, as Kafka: an empty name or
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
  std::map<std::string, Verdict> users;  // every user named, in name order
  std::map<std::pair<std::string, int8_t>, int> seen;
  const bool allowed = authorize_cluster(ctx, AclOperation::alter);
  for (const auto& d : req.deletions) ++seen[{d.name, d.mechanism}];
  for (const auto& u : req.upsertions) ++seen[{u.name, u.mechanism}];
  // Refusals of upsertions, in order: a deletion's RESOURCE_NOT_FOUND (known only against the
  // stored credentials, below) comes before them, as when the deletions are looked at first.
  std::vector<std::pair<std::string, Verdict>> upsert_refusals;
  bool upserts = false;
  auto refuse = [&](const std::string& user, ErrorCode e, std::string message) {
    if (upserts) upsert_refusals.push_back({user, {e, message}});
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
  for (const auto& d : req.deletions) check(d.name, d.mechanism);
  auto after_deletions = users;
  upserts = true;
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
  for (const auto& u : req.upsertions) after_deletions.try_emplace(u.name);
  // Every change the request asks for, of users refused by nothing above.
  std::vector<security::ScramCredentialStore::Change> wanted;
  for (const auto& d : req.deletions) {
    if (users[d.name].error != ErrorCode::none) continue;
    wanted.push_back({d.name, std::string(security::scram_mechanism_name(d.mechanism)), {}});
  }
  for (const auto& u : req.upsertions) {
    if (users[u.name].error != ErrorCode::none) continue;
    const auto mech = security::scram_mechanism_name(u.mechanism);
    wanted.push_back(
        {u.name, std::string(mech),
         security::scram_credential(mech, std::string(u.salt), u.salted_password, u.iterations)});
  }
  // The verdicts once the stored credentials are known: deleting one that does not exist is
  // RESOURCE_NOT_FOUND, and leaves that user's other changes undone. Recomputed each time the
  // change runs (in a cluster it may run again on a newer set).
  auto verdicts = std::make_shared<std::map<std::string, Verdict>>(users);
  auto out = std::make_shared<Responder>(std::move(respond));
  ctx.broker.update_scram_users(
      [verdicts, base = std::move(after_deletions), later = std::move(upsert_refusals),
       wanted](security::ScramUsers& stored) {
        *verdicts = base;
        auto refuse_once = [&](const std::string& user, const Verdict& why) {
          auto& v = (*verdicts)[user];
          if (v.error == ErrorCode::none) v = why;
        };
        for (const auto& w : wanted) {
          if (w.credential) continue;
          const auto u = stored.find(w.user);
          if (u == stored.end() || !u->second.contains(w.mechanism)) {
            refuse_once(w.user, {ErrorCode::resource_not_found,
                                 "Attempt to delete a user credential that does not exist"});
          }
        }
        for (const auto& [user, why] : later) refuse_once(user, why);
        std::vector<security::ScramCredentialStore::Change> changes;
        for (const auto& w : wanted) {
          if ((*verdicts)[w.user].error == ErrorCode::none) changes.push_back(w);
        }
        security::apply_scram_changes(stored, changes);
        return !changes.empty();
      },
      [out, verdicts](std::string error) {
        if (!error.empty()) {
          log::error("cannot store SCRAM credentials: {}", error);
          for (auto& [name, v] : *verdicts) {
            if (v.error == ErrorCode::none) v = {ErrorCode::unknown_server_error, "Storage error"};
          }
        }
        protocol::AlterUserScramCredentialsResponse resp;
        for (const auto& [name, v] : *verdicts) {
          auto& r = resp.results.emplace_back();
          r.user = name;
          r.error_code = protocol::code(v.error);
          if (v.error != ErrorCode::none) r.error_message = v.message;
          if (v.error == ErrorCode::none) log::info("SCRAM credentials of user '{}' changed", name);
        }
        out->send(resp);
      });
}

}  // namespace kaffa::broker
