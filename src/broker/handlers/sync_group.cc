// SyncGroup (key 14), versions 0-5 (flexible from 4).
// An empty group id is INVALID_GROUP_ID. On the group's shard (COORDINATOR_LOAD_IN_PROGRESS while
// it loads): followers wait for the leader; the leader's assignment is written with the group's
// metadata and every waiting member is answered once the write is durable (GroupManager::sync).
// v3+ carry the static instance id; v5+ the protocol type and name, checked against the group's
// (INCONSISTENT_GROUP_PROTOCOL) and echoed in the answer.
// Authorization: READ on the group (else GROUP_AUTHORIZATION_FAILED), checked first, as Kafka.
#include "protocol/messages/sync_group.h"

#include <memory>

#include "broker/authorize.h"
#include "broker/broker.h"
#include "broker/handlers/handlers.h"
#include "coordinator/group_manager.h"
#include "protocol/error_codes.h"

namespace kaffa::broker {

using protocol::ErrorCode;
using protocol::SyncGroupResponse;

void handle_sync_group(RequestContext& ctx, Responder respond) {
  protocol::SyncGroupRequest req;
  if (!ctx.decode(req)) return respond.close();
  auto out = std::make_shared<Responder>(std::move(respond));
  auto answer = [out](SyncGroupResponse r) { out->send(r); };
  if (!authorize(ctx, AclOperation::read, ResourceType::group, req.group_id)) {
    SyncGroupResponse r;
    r.error_code = protocol::code(ErrorCode::group_authorization_failed);
    return answer(std::move(r));
  }
  if (req.group_id.empty()) {
    SyncGroupResponse r;
    r.error_code = protocol::code(ErrorCode::invalid_group_id);
    return answer(std::move(r));
  }
  auto sync = std::make_shared<coordinator::GroupManager::SyncRequest>();
  sync->group_id = req.group_id;
  sync->generation_id = req.generation_id;
  sync->member_id = std::move(req.member_id);
  sync->group_instance_id = std::move(req.group_instance_id);
  sync->protocol_type = std::move(req.protocol_type);
  sync->protocol_name = std::move(req.protocol_name);
  sync->assignments.reserve(req.assignments.size());
  for (auto& a : req.assignments) {
    sync->assignments.emplace_back(std::move(a.member_id), std::move(a.assignment));
  }
  ctx.broker.coordinator().with_shard(
      req.group_id, [sync, answer](coordinator::CoordinatorShard* shard, ErrorCode why) {
        if (!shard) {
          SyncGroupResponse r;
          r.error_code = protocol::code(why);
          return answer(std::move(r));
        }
        shard->groups().sync(std::move(*sync), answer);
      });
}

}  // namespace kaffa::broker
