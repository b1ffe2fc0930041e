// What CreateAcls, DescribeAcls and DeleteAcls share: turning the wire's numeric codes into the
// ACL model (security/acl.h), and the answer when they may not run at all.
#pragma once

#include <optional>
#include <string>

#include "base/log.h"
#include "broker/authorize.h"
#include "broker/broker.h"
#include "protocol/error_codes.h"

namespace kaffa::broker::acl_wire {

// A DescribeAcls request or a DeleteAcls filter (same field names) as a filter.
template <class F>
security::AclBindingFilter filter_of(const F& f) {
  return {security::resource_type_of(f.resource_type_filter),
          f.resource_name_filter,
          security::pattern_type_of(f.pattern_type_filter),
          f.principal_filter,
          f.host_filter,
          security::operation_of(f.operation),
          security::permission_of(f.permission_type)};
}

// Fills a response's description of one binding (DescribeAcls' resources carry the pattern
// fields, DeleteAcls' matching ACLs all of them).
template <class T>
void describe_entry(T& out, const security::AclBinding& b) {
  out.principal = b.principal;
  out.host = b.host;
  out.operation = static_cast<int8_t>(b.operation);
  out.permission_type = static_cast<int8_t>(b.permission);
}

// One line per ACL added or removed (`verb`: "added", "removed"), naming who did it.
inline void log_change(std::string_view principal, const char* verb,
                       const security::AclBinding& b) {
  log::info("ACL {} by {}: {} {} {} on {}:{} ({}) from host {}", verb, principal,
            security::to_string(b.permission), b.principal, security::to_string(b.operation),
            security::to_string(b.resource.type), b.resource.name,
            security::to_string(b.resource.pattern), b.host);
}

// Kafka's refusal of the whole request: SECURITY_DISABLED without an authorizer, else
// CLUSTER_AUTHORIZATION_FAILED unless the principal has `op` on the cluster. nullopt: go on.
inline std::optional<std::pair<protocol::ErrorCode, std::string>> refusal(const RequestContext& ctx,
                                                                          AclOperation op) {
  if (ctx.broker.authorizer() == nullptr) {
    return std::pair{protocol::ErrorCode::security_disabled,
                     std::string("No Authorizer is configured.")};
  }
  if (!authorize_cluster(ctx, op)) {
    return std::pair{protocol::ErrorCode::cluster_authorization_failed,
                     std::string("Cluster authorization failed.")};
  }
  return std::nullopt;
}

}  // namespace kaffa::broker::acl_wire
