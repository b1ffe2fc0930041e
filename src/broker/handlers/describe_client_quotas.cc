// DescribeClientQuotas (key 48), versions 0-1 (flexible from 1; KIP-546): the quota entities
// matching the filter (client_quotas.h's describe) with their values, from the set this broker
// enforces (in a cluster: the metadata record as of its image). A bad filter is INVALID_REQUEST
// at the top, an unknown entity type UNSUPPORTED_VERSION (as Kafka), entries then null.
// Authorization: DESCRIBE_CONFIGS on the cluster, else CLUSTER_AUTHORIZATION_FAILED at the top.
#include "protocol/messages/describe_client_quotas.h"

#include "broker/authorize.h"
#include "broker/broker.h"
#include "broker/handlers/handlers.h"
#include "protocol/error_codes.h"

namespace kaffa::broker {

void handle_describe_client_quotas(RequestContext& ctx, Responder respond) {
  protocol::DescribeClientQuotasRequest req;
  if (!ctx.decode(req)) return respond.close();
  protocol::DescribeClientQuotasResponse resp;
  if (!authorize_cluster(ctx, AclOperation::describe_configs)) {
    resp.error_code = protocol::code(protocol::ErrorCode::cluster_authorization_failed);
    resp.error_message = "Authorization failed.";
    return respond.send(resp);
  }
  std::vector<quotas::Component> filter;
  for (const auto& c : req.components) filter.push_back({c.entity_type, c.match_type, c.match});
  const auto set = ctx.broker.quotas().current();
  std::vector<quotas::QuotaSet::const_iterator> found;
  std::string message;
  const auto error = quotas::describe(*set, filter, req.strict, found, &message);
  if (error != protocol::ErrorCode::none) {
    resp.error_code = protocol::code(error);
    resp.error_message = message;
    return respond.send(resp);
  }
  auto& entries = resp.entries.emplace();
  for (const auto& it : found) {
    auto& e = entries.emplace_back();
    for (auto& [type, name] : quotas::entity_data(it->first)) e.entity.push_back({type, name});
    for (const auto& [key, value] : it->second) e.values.push_back({key, value});
  }
  respond.send(resp);
}

}  // namespace kaffa::broker
