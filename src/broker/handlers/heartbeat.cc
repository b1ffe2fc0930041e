// Heartbeat (key 12), versions 0-4 (flexible from 4).
// An empty group id is INVALID_GROUP_ID. On the group's shard: resets the member's session timer;
// REBALANCE_IN_PROGRESS tells a member to rejoin, ILLEGAL_GENERATION / UNKNOWN_MEMBER_ID /
// FENCED_INSTANCE_ID (v3+ static members) as Kafka. While the shard loads the answer is no error,
// as Kafka answers ("the group is still loading, so blindly respond").
// Authorization: READ on the group (else GROUP_AUTHORIZATION_FAILED), checked first, as Kafka.
#include "protocol/messages/heartbeat.h"

#include <memory>

#include "broker/authorize.h"
#include "broker/broker.h"
#include "broker/handlers/handlers.h"
#include "coordinator/group_manager.h"
#include "protocol/error_codes.h"

namespace kaffa::broker {

using protocol::ErrorCode;

void handle_heartbeat(RequestContext& ctx, Responder respond) {
  auto req = std::make_shared<protocol::HeartbeatRequest>();
  if (!ctx.decode(*req)) return respond.close();
  if (!authorize(ctx, AclOperation::read, ResourceType::group, req->group_id)) {
    protocol::HeartbeatResponse r;
    r.error_code = protocol::code(ErrorCode::group_authorization_failed);
    return respond.send(r);
  }
  if (req->group_id.empty()) {
    protocol::HeartbeatResponse r;
    r.error_code = protocol::code(ErrorCode::invalid_group_id);
    return respond.send(r);
  }
  auto out = std::make_shared<Responder>(std::move(respond));
  ctx.broker.coordinator().with_shard(
      req->group_id, [req, out](coordinator::CoordinatorShard* shard, protocol::ErrorCode why) {
        protocol::HeartbeatResponse r;
        r.error_code = protocol::code(why);
        if (shard) {
          r.error_code = protocol::code(shard->groups().heartbeat(
              req->group_id, req->member_id, req->group_instance_id, req->generation_id));
        }
        out->send(r);
      });
}

}  // namespace kaffa::broker
