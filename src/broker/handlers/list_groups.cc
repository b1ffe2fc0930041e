// ListGroups (key 16), versions 0-5 (flexible from 3).
// Gathers the groups of every coordinator shard (each on its own loop). v4+ filter by state
// (case-insensitive; an empty filter keeps all) and return the state; v5+ filter by type and
// return it ("classic" or "consumer", the KIP-848 kind). Groups that only have committed offsets
// are listed as Empty with no protocol type, as Kafka lists simple consumers' groups. If any shard
// is still loading the answer is COORDINATOR_LOAD_IN_PROGRESS with no groups. Authorization: with
// DESCRIBE on the cluster every group is listed, otherwise only those the principal may DESCRIBE
// (never an error), as Kafka.
#include "protocol/messages/list_groups.h"

#include <algorithm>
#include <cctype>
#include <memory>
#include <mutex>
#include <set>

#include "broker/authorize.h"
#include "broker/broker.h"
#include "broker/handlers/handlers.h"
#include "coordinator/group_manager.h"
#include "coordinator/offset_store.h"
#include "protocol/error_codes.h"

namespace kaffa::broker {
namespace {

using protocol::ErrorCode;
using protocol::ListGroupsResponse;

std::string lower(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  for (char c : s) out.push_back(static_cast<char>(std::tolower(static_cast<unsigned char>(c))));
  // Kafka trims the state filters too.
  const auto b = out.find_first_not_of(" \t");
  const auto e = out.find_last_not_of(" \t");
  return b == std::string::npos ? std::string() : out.substr(b, e - b + 1);
}

struct ListOp {
  std::mutex mu;
  ListGroupsResponse resp;
  bool loading = false;
};

}  // namespace

void handle_list_groups(RequestContext& ctx, Responder respond) {
  protocol::ListGroupsRequest req;
  if (!ctx.decode(req)) return respond.close();
  const int16_t v = ctx.version();
  std::set<std::string> states;
  if (v >= 4) {
    for (const auto& s : req.states_filter) states.insert(lower(s));
  }
  std::set<std::string> types;
  if (v >= 5) {
    for (const auto& t : req.types_filter) types.insert(lower(t));
  }
  auto op = std::make_shared<ListOp>();
  auto out = std::make_shared<Responder>(std::move(respond));
  const security::Authorizer* authorizer =
      allowed(ctx, AclOperation::describe, ResourceType::cluster, security::kClusterResourceName)
          ? nullptr
          : ctx.broker.authorizer();
  auto keep = [states, types](std::string_view state, std::string_view type) {
    return (states.empty() || states.count(lower(state)) > 0) &&
           (types.empty() || types.count(std::string(type)) > 0);
  };
  ctx.broker.coordinator().for_each_shard(
      [op, keep](coordinator::CoordinatorShard* shard) {
        std::vector<ListGroupsResponse::ListedGroup> found;
        if (shard) {
          auto add = [&](std::string id, std::string protocol_type, std::string state,
                         std::string type) {
            if (!keep(state, type)) return;
            auto& g = found.emplace_back();
            g.group_id = std::move(id);
            g.protocol_type = std::move(protocol_type);
            g.group_state = std::move(state);
            g.group_type = std::move(type);
          };
          for (auto& l : shard->groups().list()) {
            add(std::move(l.group_id), std::move(l.protocol_type), std::move(l.state),
                std::move(l.type));
          }
          for (auto& id : shard->offsets().groups()) {
            if (!shard->groups().has_group(id)) {
              add(id, "", std::string(coordinator::state_name(coordinator::GroupState::empty)),
                  "classic");
            }
          }
        }
        std::lock_guard lock(op->mu);
        if (!shard) op->loading = true;
        for (auto& g : found) op->resp.groups.push_back(std::move(g));
      },
      [op, out, authorizer, principal = ctx.principal(), host = client_host(ctx.conn)] {
        std::lock_guard lock(op->mu);
        if (authorizer != nullptr) {
          std::erase_if(op->resp.groups, [&](const ListGroupsResponse::ListedGroup& g) {
            return !authorizer->authorize(principal, host, AclOperation::describe,
                                          ResourceType::group, g.group_id);
          });
        }
        if (op->loading) {
          op->resp.groups.clear();
          op->resp.error_code = protocol::code(ErrorCode::coordinator_load_in_progress);
        }
        out->send(op->resp);
      });
}

}  // namespace kaffa::broker
