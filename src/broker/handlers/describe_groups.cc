// DescribeGroups (key 15), versions 0-5 (flexible from 5).
// Each group is described on its own shard (in parallel); the answer keeps the request's order.
// As Kafka: an unknown group is state "Dead" with no error and no members; members carry their
// metadata only when the group is Stable (protocol_data is then the chosen protocol); a shard
// still loading answers COORDINATOR_LOAD_IN_PROGRESS for its groups. A group that only has
// committed offsets (a "simple" consumer's) is "Empty", as Kafka keeps such groups. v3+ return the
// authorized operations when asked (every group operation without an authorizer).
// Authorization: DESCRIBE on each group, else that group answers GROUP_AUTHORIZATION_FAILED.
#include "protocol/messages/describe_groups.h"

#include <atomic>
#include <memory>

#include "broker/authorize.h"
#include "broker/broker.h"
#include "broker/handlers/gathered_response.h"
#include "broker/handlers/handlers.h"
#include "coordinator/group_manager.h"
#include "coordinator/offset_store.h"
#include "protocol/error_codes.h"

namespace kaffa::broker {
namespace {

using protocol::DescribeGroupsResponse;
using protocol::ErrorCode;

using DescribeOp = GatheredResponse<DescribeGroupsResponse>;

}  // namespace

void handle_describe_groups(RequestContext& ctx, Responder respond) {
  protocol::DescribeGroupsRequest req;
  if (!ctx.decode(req)) return respond.close();
  auto op = std::make_shared<DescribeOp>();
  op->respond.emplace(std::move(respond));
  const bool with_operations = ctx.version() >= 3 && req.include_authorized_operations;
  op->resp.groups.resize(req.groups.size());
  op->pending.fetch_add(req.groups.size(), std::memory_order_relaxed);
  for (size_t i = 0; i < req.groups.size(); ++i) {
    if (!authorize(ctx, AclOperation::describe, ResourceType::group, req.groups[i])) {
      auto& out = op->resp.groups[i];
      out.group_id = req.groups[i];
      out.error_code = protocol::code(ErrorCode::group_authorization_failed);
      op->finish_one();
      continue;
    }
    const int32_t operations =
        with_operations ? authorized_operations(ctx, ResourceType::group, req.groups[i]) : 0;
    ctx.broker.coordinator().with_shard(
        req.groups[i], [op, i, id = req.groups[i], with_operations, operations](
                           coordinator::CoordinatorShard* shard, ErrorCode why) {
          auto& out = op->resp.groups[i];
          if (!shard) {
            out.group_id = id;
            out.error_code = protocol::code(why);
          } else {
            out = shard->groups().describe(id);
            if (!shard->groups().has_group(id) && shard->offsets().has_offsets(id)) {
              out.group_state =
                  std::string(coordinator::state_name(coordinator::GroupState::empty));
            }
            if (with_operations) out.authorized_operations = operations;
          }
          op->finish_one();
        });
  }
  op->finish_one();
}

}  // namespace kaffa::broker
