// ApiVersions (key 18), versions 0-3. A version above 3 never reaches this file: the dispatcher
// answers it in the v0 layout with UNSUPPORTED_VERSION (see broker.cc). From v3 the client sends
// its software name and version, which must match Kafka's pattern or the answer is INVALID_REQUEST.
// ConsumerGroupHeartbeat and ConsumerGroupDescribe are left out when
// group.coordinator.rebalance.protocols does not name "consumer", as Kafka leaves them out.

#include "protocol/messages/api_versions.h"

#include "broker/broker.h"
#include "broker/handlers/handlers.h"
#include "protocol/error_codes.h"
#include "protocol/messages/consumer_group_describe.h"
#include "protocol/messages/consumer_group_heartbeat.h"

namespace kaffa::broker {
namespace {

bool valid_software_field(const std::string& s) {
  // [a-zA-Z0-9](?:[a-zA-Z0-9\-.]*[a-zA-Z0-9])?
  if (s.empty()) return false;
  auto alnum = [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
  };
  if (!alnum(s.front()) || !alnum(s.back())) return false;
  for (char c : s) {
    if (!alnum(c) && c != '-' && c != '.') return false;
  }
  return true;
}

}  // namespace

void handle_api_versions(RequestContext& ctx, Responder respond) {
  protocol::ApiVersionsRequest req;
  if (!ctx.decode(req)) return respond.close();
  protocol::ApiVersionsResponse resp;
  if (ctx.version() >= 3 && (!valid_software_field(req.client_software_name) ||
                             !valid_software_field(req.client_software_version))) {
    resp.error_code = protocol::code(protocol::ErrorCode::invalid_request);
  }
  const bool consumer_protocol = ctx.broker.coordinator().config().consumer_protocol_enabled;
  for (const auto& h : handler_table()) {
    if (!consumer_protocol && (h.api_key == protocol::ConsumerGroupHeartbeatRequest::kApiKey ||
                               h.api_key == protocol::ConsumerGroupDescribeRequest::kApiKey)) {
      continue;
    }
    resp.api_keys.push_back({h.api_key, h.min_version, h.max_version, {}});
  }
  respond.send(resp);
}

}  // namespace kaffa::broker
