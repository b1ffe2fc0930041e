// LeaveGroup (key 13), versions 0-5 (flexible from 4).
// v0-2 name one member by id and answer with one error code; v3+ (KIP-345) carry a batch of
// members, each by member id and/or static instance id (an empty member id with an instance id
// removes that static member, an administrator's request), answered per member. An empty group
// id is INVALID_GROUP_ID; while the shard loads, COORDINATOR_LOAD_IN_PROGRESS. A leave from a
// group that is unknown answers UNKNOWN_MEMBER_ID for each member, as Kafka.
// Authorization: READ on the group (else GROUP_AUTHORIZATION_FAILED), checked first, as Kafka.
#include "protocol/messages/leave_group.h"

#include <memory>

#include "broker/authorize.h"
#include "broker/broker.h"
#include "broker/handlers/handlers.h"
#include "coordinator/group_manager.h"
#include "protocol/error_codes.h"

namespace kaffa::broker {

using protocol::ErrorCode;
using protocol::LeaveGroupResponse;

void handle_leave_group(RequestContext& ctx, Responder respond) {
  auto req = std::make_shared<protocol::LeaveGroupRequest>();
  if (!ctx.decode(*req)) return respond.close();
  const int16_t v = ctx.version();
  if (!authorize(ctx, AclOperation::read, ResourceType::group, req->group_id)) {
    LeaveGroupResponse r;
    r.error_code = protocol::code(ErrorCode::group_authorization_failed);
    return respond.send(r);
  }
  if (req->group_id.empty()) {
    LeaveGroupResponse r;
    r.error_code = protocol::code(ErrorCode::invalid_group_id);
    return respond.send(r);
  }
  auto leaving = std::make_shared<std::vector<coordinator::GroupManager::LeavingMember>>();
  if (v <= 2) {
    leaving->push_back({req->member_id, std::nullopt});
  } else {
    for (const auto& m : req->members) leaving->push_back({m.member_id, m.group_instance_id});
  }
  auto out = std::make_shared<Responder>(std::move(respond));
  ctx.broker.coordinator().with_shard(
      req->group_id, [req, leaving, out, v](coordinator::CoordinatorShard* shard, ErrorCode why) {
        LeaveGroupResponse r;
        if (!shard) {
          r.error_code = protocol::code(why);
          return out->send(r);
        }
        auto result = shard->groups().leave(req->group_id, *leaving);
        r.error_code = protocol::code(result.error);
        if (v <= 2) {
          // One member: its error is the answer's (Kafka's LeaveGroupResponse for v0-2).
          if (result.error == ErrorCode::none && !result.members.empty()) {
            r.error_code = protocol::code(result.members.front());
          }
          return out->send(r);
        }
        for (size_t i = 0; i < result.members.size(); ++i) {
          auto& m = r.members.emplace_back();
          m.member_id = (*leaving)[i].member_id;
          m.group_instance_id = (*leaving)[i].group_instance_id;
          m.error_code = protocol::code(result.members[i]);
        }
        out->send(r);
      });
}

}  // namespace kaffa::broker
