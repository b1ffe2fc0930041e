// CreateAcls (key 30), versions 0-3 (flexible from 2): adds ACL bindings, one result per creation
// in request order. Needs ALTER on the cluster (else every result is CLUSTER_AUTHORIZATION_FAILED);
// without an authorizer every result is SECURITY_DISABLED. An invalid binding (unknown or ANY
// codes, a pattern other than LITERAL/PREFIXED, an empty name, a principal without "Type:", a
// cluster not named kafka-cluster) is INVALID_REQUEST; the valid ones are stored together, durably
// (a disk or metadata store error fails them with UNKNOWN_SERVER_ERROR); in a cluster in the
// metadata store, so that every broker enforces them.
#include "protocol/messages/create_acls.h"

#include "broker/handlers/acl_wire.h"
#include "broker/handlers/handlers.h"

namespace kaffa::broker {

void handle_create_acls(RequestContext& ctx, Responder respond) {
  protocol::CreateAclsRequest req;
  if (!ctx.decode(req)) return respond.close();
  protocol::CreateAclsResponse resp;
  resp.results.resize(req.creations.size());
  if (const auto refused = acl_wire::refusal(ctx, AclOperation::alter)) {
    for (auto& r : resp.results) {
      r.error_code = protocol::code(refused->first);
      r.error_message = refused->second;
    }
    return respond.send(resp);
  }
  std::vector<security::AclBinding> valid;
  std::vector<size_t> valid_at;
  for (size_t i = 0; i < req.creations.size(); ++i) {
    const auto& c = req.creations[i];
    security::AclBinding b{{security::resource_type_of(c.resource_type), c.resource_name,
                            security::pattern_type_of(c.resource_pattern_type)},
                           c.principal,
                           c.host,
                           security::operation_of(c.operation),
                           security::permission_of(c.permission_type)};
    if (auto why = security::validate_binding(b); !why.empty()) {
      resp.results[i].error_code = protocol::code(protocol::ErrorCode::invalid_request);
      resp.results[i].error_message = std::move(why);
      continue;
    }
    valid.push_back(std::move(b));
    valid_at.push_back(i);
  }
  if (valid.empty()) return respond.send(resp);
  auto out = std::make_shared<Responder>(std::move(respond));
  ctx.broker.update_acls(
      [valid](const std::set<security::AclBinding>& current) {
        return security::with_added(current, valid);
      },
      [out, resp = std::move(resp), valid, valid_at,
       principal = std::string(ctx.principal())](std::string error) mutable {
        if (error.empty()) {
          for (const auto& b : valid) acl_wire::log_change(principal, "added", b);
        } else {
          log::error("CreateAcls: cannot store the ACLs: {}", error);
          for (const size_t i : valid_at) {
            resp.results[i].error_code = protocol::code(protocol::ErrorCode::unknown_server_error);
            resp.results[i].error_message = "Failed to store the ACLs";
          }
        }
        out->send(resp);
      });
}

}  // namespace kaffa::broker
