// DescribeUserScramCredentials (key 50), version 0 (flexible): each user's SCRAM mechanisms and
// iteration counts (never salts or keys). A null user list describes every user; a named user
// without credentials gets RESOURCE_NOT_FOUND, a name asked twice DUPLICATE_RESOURCE (KIP-554).
// Authorization: DESCRIBE on the cluster, else the request's CLUSTER_AUTHORIZATION_FAILED.
#include "protocol/messages/describe_user_scram_credentials.h"

#include <set>

#include "broker/authorize.h"
#include "broker/broker.h"
#include "broker/handlers/handlers.h"
#include "protocol/error_codes.h"

namespace kaffa::broker {

void handle_describe_user_scram_credentials(RequestContext& ctx, Responder respond) {
  protocol::DescribeUserScramCredentialsRequest req;
  if (!ctx.decode(req)) return respond.close();
  protocol::DescribeUserScramCredentialsResponse resp;
  if (!authorize_cluster(ctx, AclOperation::describe)) {
    resp.error_code = protocol::code(protocol::ErrorCode::cluster_authorization_failed);
    resp.error_message = "Cluster authorization failed.";
    return respond.send(resp);
  }
  const auto all = ctx.broker.scram_credentials().describe();
  auto describe = [&](const std::string& user,
                      const std::vector<std::pair<std::string, int32_t>>& mechs) {
    auto& r = resp.results.emplace_back();
    r.user = user;
    for (const auto& [mech, iterations] : mechs) {
      r.credential_infos.push_back({security::scram_mechanism_type(mech), iterations, {}});
    }
  };
  if (!req.users.has_value()) {
    for (const auto& [user, mechs] : all) describe(user, mechs);
    return respond.send(resp);
  }
  std::multiset<std::string> asked;
  for (const auto& u : *req.users) asked.insert(u.name);
  std::set<std::string> done;
  for (const auto& u : *req.users) {
    if (!done.insert(u.name).second) continue;
    if (asked.count(u.name) > 1) {
      auto& r = resp.results.emplace_back();
      r.user = u.name;
      r.error_code = protocol::code(protocol::ErrorCode::duplicate_resource);
      r.error_message =
          "Cannot describe SCRAM credentials for the same user twice in a single "
          "request: " +
          u.name;
      continue;
    }
    const auto it = all.find(u.name);
    if (it == all.end()) {
      auto& r = resp.results.emplace_back();
      r.user = u.name;
      r.error_code = protocol::code(protocol::ErrorCode::resource_not_found);
      r.error_message = "Attempt to describe a user credential that does not exist: " + u.name;
      continue;
    }
    describe(u.name, it->second);
  }
  respond.send(resp);
}

}  // namespace kaffa::broker
