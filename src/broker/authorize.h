// The one place handlers ask the authorizer (authorizer.class.name) whether a request may act on a
// resource. Without an authorizer every check passes, as in Kafka. A refusal is logged at debug
// (principal, host, operation, resource) and counted in kaffa_authorization_denials_total.
//
// Threading: any event loop; the authorizer reads an immutable ACL snapshot, takes no lock.
#pragma once

#include <string>
#include <string_view>

#include "broker/request_context.h"
#include "security/acl.h"

namespace kaffa::broker {

using security::AclOperation;
using security::ResourceType;

// The client's address as ACL hosts name it ("127.0.0.1", "::1"): the peer without its port.
std::string client_host(const net::ConnectionInfo& conn);

// Whether the request's principal may do `op` on the resource (type, name).
bool authorize(const RequestContext& ctx, AclOperation op, ResourceType type,
               std::string_view name);
// The same without logging or counting a refusal: for filtering (a Metadata list of all topics,
// ListGroups) where leaving an item out is not a denial.
bool allowed(const RequestContext& ctx, AclOperation op, ResourceType type, std::string_view name);
// The request's identity, copied for checks made after its handler returned (in a callback on
// another loop, where the RequestContext is gone). For filtering, as allowed(): nothing logged.
class RequestIdentity {
 public:
  explicit RequestIdentity(const RequestContext& ctx);
  bool allowed(AclOperation op, ResourceType type, std::string_view name) const;

 private:
  const security::Authorizer* authorizer_;  // the broker's, which outlives its requests
  std::string principal_;
  std::string host_;
};
// `op` on the cluster or on the topic (CreateTopics, auto-creation: CREATE); one refusal at most.
bool authorize_cluster_or_topic(const RequestContext& ctx, AclOperation op, std::string_view topic);
inline bool authorize_cluster(const RequestContext& ctx, AclOperation op) {
  return authorize(ctx, op, ResourceType::cluster, security::kClusterResourceName);
}
// Whether some ACL of `type` may allow `op` to the principal (Kafka's authorizeByResourceType;
// InitProducerId's "WRITE on any topic").
bool authorize_any(const RequestContext& ctx, AclOperation op, ResourceType type);
// Kafka's bit field of the supported operations allowed on the resource (every supported one
// without an authorizer): Metadata, DescribeCluster, DescribeGroups.
int32_t authorized_operations(const RequestContext& ctx, ResourceType type, std::string_view name);

}  // namespace kaffa::broker
