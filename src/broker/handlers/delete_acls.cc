// DeleteAcls (key 31), versions 0-3 (flexible from 2): removes the ACL bindings matching each
// filter and lists them under it (a binding matched by two filters is listed twice, as Kafka
// does). Needs ALTER on the cluster (else every filter result is CLUSTER_AUTHORIZATION_FAILED);
// without an authorizer SECURITY_DISABLED; an invalid filter INVALID_REQUEST. All removals are
// stored together, durably (in a cluster in the metadata store: every broker stops enforcing
// them).
#include "protocol/messages/delete_acls.h"

#include "broker/handlers/acl_wire.h"
#include "broker/handlers/handlers.h"

namespace kaffa::broker {

void handle_delete_acls(RequestContext& ctx, Responder respond) {
  protocol::DeleteAclsRequest req;
  if (!ctx.decode(req)) return respond.close();
  protocol::DeleteAclsResponse resp;
  resp.filter_results.resize(req.filters.size());
  auto fail = [&](size_t i, protocol::ErrorCode e, std::string message) {
    resp.filter_results[i].error_code = protocol::code(e);
    resp.filter_results[i].error_message = std::move(message);
  };
  if (const auto refused = acl_wire::refusal(ctx, AclOperation::alter)) {
    for (size_t i = 0; i < req.filters.size(); ++i) fail(i, refused->first, refused->second);
    return respond.send(resp);
  }
  std::vector<security::AclBindingFilter> filters;
  std::vector<size_t> filter_at;
  for (size_t i = 0; i < req.filters.size(); ++i) {
    auto f = acl_wire::filter_of(req.filters[i]);
    if (auto why = security::validate_filter(f); !why.empty()) {
      fail(i, protocol::ErrorCode::invalid_request, std::move(why));
      continue;
    }
    filters.push_back(std::move(f));
    filter_at.push_back(i);
  }
  if (filters.empty()) return respond.send(resp);
  auto out = std::make_shared<Responder>(std::move(respond));
  // What each filter matched in the set the change was applied to (its last run, if it ran again).
  auto matched = std::make_shared<std::vector<std::vector<security::AclBinding>>>();
  ctx.broker.update_acls(
      [filters, matched](const std::set<security::AclBinding>& current) {
        return security::without_matching(current, filters, matched.get());
      },
      [out, resp = std::move(resp), filter_at, matched,
       principal = ctx.principal()](std::string error) mutable {
        if (!error.empty()) {
          log::error("DeleteAcls: cannot store the ACLs: {}", error);
          for (const size_t i : filter_at) {
            resp.filter_results[i].error_code =
                protocol::code(protocol::ErrorCode::unknown_server_error);
            resp.filter_results[i].error_message = "Failed to store the ACLs";
          }
          return out->send(resp);
        }
        for (size_t k = 0; k < filter_at.size() && k < matched->size(); ++k) {
          auto& found = resp.filter_results[filter_at[k]].matching_acls;
          for (const auto& b : (*matched)[k]) {
            auto& m = found.emplace_back();
            m.resource_type = static_cast<int8_t>(b.resource.type);
            m.resource_name = b.resource.name;
            m.pattern_type = static_cast<int8_t>(b.resource.pattern);
            acl_wire::describe_entry(m, b);
            acl_wire::log_change(principal, "removed", b);
          }
        }
        out->send(resp);
      });
}

}  // namespace kaffa::broker
