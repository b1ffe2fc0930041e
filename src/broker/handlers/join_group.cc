// JoinGroup (key 11), versions 0-9 (flexible from 6).
// Checked here as Kafka does before reaching the coordinator: an empty group id is
// INVALID_GROUP_ID, a session timeout outside group.min/max.session.timeout.ms is
// INVALID_SESSION_TIMEOUT. Then, on the group's shard (COORDINATOR_LOAD_IN_PROGRESS while it
// loads), GroupManager::join parks the answer until the join phase completes. v0 has no rebalance
// timeout (the session timeout stands in); v4+ new dynamic members first get MEMBER_ID_REQUIRED
// with their id; v5+ static members; v7+ carry the protocol type and a nullable protocol name;
// v9 skip_assignment for a static leader that rejoined without a rebalance.
// Authorization: READ on the group (else GROUP_AUTHORIZATION_FAILED), checked first, as Kafka.
#include "protocol/messages/join_group.h"

#include <memory>

#include "broker/authorize.h"
#include "broker/broker.h"
#include "broker/handlers/handlers.h"
#include "coordinator/group_manager.h"
#include "protocol/error_codes.h"

namespace kaffa::broker {
namespace {

using protocol::ErrorCode;
using protocol::JoinGroupResponse;

}  // namespace

void handle_join_group(RequestContext& ctx, Responder respond) {
  auto req = std::make_shared<protocol::JoinGroupRequest>();
  if (!ctx.decode(*req)) return respond.close();
  const int16_t v = ctx.version();
  auto out = std::make_shared<Responder>(std::move(respond));
  auto answer = [out, v](JoinGroupResponse r) {
    // Nullable protocol name from v7 (null rather than ""); before that "" rather than null.
    if (v < 7 && !r.protocol_name) r.protocol_name = "";
    if (v >= 7 && r.protocol_name && r.protocol_name->empty()) r.protocol_name = std::nullopt;
    out->send(r);
  };
  auto fail = [&](ErrorCode e) {
    JoinGroupResponse r;
    r.member_id = req->member_id;
    r.error_code = protocol::code(e);
    answer(std::move(r));
  };
  if (v == 0) req->rebalance_timeout_ms = req->session_timeout_ms;
  if (!authorize(ctx, AclOperation::read, ResourceType::group, req->group_id)) {
    return fail(ErrorCode::group_authorization_failed);
  }
  auto& coordinator = ctx.broker.coordinator();
  if (auto e = coordinator::GroupManager::check_join(coordinator.config(), req->group_id,
                                                     req->session_timeout_ms);
      e != ErrorCode::none) {
    return fail(e);
  }
  coordinator::GroupManager::JoinRequest join;
  join.group_id = req->group_id;
  join.member_id = req->member_id;
  join.group_instance_id = req->group_instance_id;
  join.protocol_type = req->protocol_type;
  join.protocols.reserve(req->protocols.size());
  for (auto& p : req->protocols) join.protocols.push_back({p.name, std::move(p.metadata)});
  join.session_timeout_ms = req->session_timeout_ms;
  join.rebalance_timeout_ms = req->rebalance_timeout_ms;
  join.client_id = ctx.header.client_id.value_or("");
  // Kafka shows a member's host as InetAddress.toString() of the client: "/<address>".
  join.client_host = "/" + client_host(ctx.conn);
  join.api_version = v;
  auto shared = std::make_shared<coordinator::GroupManager::JoinRequest>(std::move(join));
  coordinator.with_shard(req->group_id,
                         [shared, answer](coordinator::CoordinatorShard* shard, ErrorCode why) {
                           if (!shard) {
                             JoinGroupResponse r;
                             r.member_id = shared->member_id;
                             r.error_code = protocol::code(why);
                             return answer(std::move(r));
                           }
                           shard->groups().join(std::move(*shared), answer);
                         });
}

}  // namespace kaffa::broker
