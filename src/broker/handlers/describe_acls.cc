// DescribeAcls (key 29), versions 0-3 (flexible from 2): the ACL bindings matching the request's
// filter, grouped by resource pattern. Needs DESCRIBE on the cluster (else
// CLUSTER_AUTHORIZATION_FAILED); without an authorizer SECURITY_DISABLED; a filter with an unknown
// code (or not LITERAL in v0) INVALID_REQUEST, as Kafka answers.
#include "protocol/messages/describe_acls.h"

#include <map>
#include <tuple>

#include "broker/handlers/acl_wire.h"
#include "broker/handlers/handlers.h"

namespace kaffa::broker {

void handle_describe_acls(RequestContext& ctx, Responder respond) {
  protocol::DescribeAclsRequest req;
  if (!ctx.decode(req)) return respond.close();
  protocol::DescribeAclsResponse resp;
  if (const auto refused = acl_wire::refusal(ctx, AclOperation::describe)) {
    resp.error_code = protocol::code(refused->first);
    resp.error_message = refused->second;
    return respond.send(resp);
  }
  const auto filter = acl_wire::filter_of(req);
  if (auto why = security::validate_filter(filter); !why.empty()) {
    resp.error_code = protocol::code(protocol::ErrorCode::invalid_request);
    resp.error_message = std::move(why);
    return respond.send(resp);
  }
  // Bindings come sorted by resource pattern: consecutive ones share a resource entry.
  for (const auto& b : ctx.broker.authorizer()->describe(filter)) {
    if (resp.resources.empty() ||
        resp.resources.back().resource_type != static_cast<int8_t>(b.resource.type) ||
        resp.resources.back().resource_name != b.resource.name ||
        resp.resources.back().pattern_type != static_cast<int8_t>(b.resource.pattern)) {
      auto& r = resp.resources.emplace_back();
      r.resource_type = static_cast<int8_t>(b.resource.type);
      r.resource_name = b.resource.name;
      r.pattern_type = static_cast<int8_t>(b.resource.pattern);
    }
    acl_wire::describe_entry(resp.resources.back().acls.emplace_back(), b);
  }
  respond.send(resp);
}

}  // namespace kaffa::broker
