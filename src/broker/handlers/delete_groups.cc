// DeleteGroups (key 42), versions 0-2 (flexible from 2).
// Per group, on its shard: a group with members is NON_EMPTY_GROUP, an unknown one
// GROUP_ID_NOT_FOUND (a group that only has committed offsets is deletable, as Kafka keeps such
// groups). Otherwise the group's metadata and all its committed offsets get tombstones in one
// write; the group leaves memory at once (so no member can join the dying group meanwhile) and
// its offsets once the tombstones are durable. A failed write restores the group and answers the
// error. A shard still loading answers COORDINATOR_LOAD_IN_PROGRESS for its groups.
// Authorization: DELETE on each group, else that group answers GROUP_AUTHORIZATION_FAILED.
#include "protocol/messages/delete_groups.h"

#include <atomic>
#include <memory>

#include "broker/authorize.h"
#include "broker/broker.h"
#include "broker/handlers/handlers.h"
#include "coordinator/group_manager.h"
#include "coordinator/offset_store.h"
#include "protocol/error_codes.h"

namespace kaffa::broker {
namespace {

using protocol::DeleteGroupsResponse;
using protocol::ErrorCode;

struct DeleteOp {
  DeleteGroupsResponse resp;
  std::optional<Responder> respond;
  std::atomic<size_t> pending{1};

  void finish_one() {
    if (pending.fetch_sub(1, std::memory_order_acq_rel) == 1) respond->send(resp);
  }
};

void delete_group(coordinator::CoordinatorShard& shard, const std::string& id,
                  std::shared_ptr<DeleteOp> op, size_t i) {
  auto& groups = shard.groups();
  auto& offsets = shard.offsets();
  auto& out = op->resp.results[i];
  ErrorCode e = groups.validate_delete(id);
  if (e == ErrorCode::group_id_not_found && offsets.has_offsets(id)) e = ErrorCode::none;
  if (e != ErrorCode::none) {
    out.error_code = protocol::code(e);
    return op->finish_one();
  }
  // What the tombstones delete: the offsets committed so far and the transactional ones pending
  // (later commits follow them in the log and must survive). As Kafka, open transactions do not
  // keep an Empty group from being deleted.
  auto deleted = offsets.partitions_of(id);
  auto records = offsets.delete_group_records(id);
  for (auto& t : groups.tombstones(id)) records.push_back(std::move(t));
  std::optional<protocol::GroupMetadataValue> saved;
  if (const auto* g = groups.group(id)) saved = g->to_record();
  groups.remove_group(id);
  shard.write(std::move(records), [&shard, id, saved = std::move(saved),
                                   deleted = std::move(deleted), op, i](ErrorCode err) {
    if (err != ErrorCode::none) {
      if (saved && !shard.groups().has_group(id)) shard.groups().replay(id, saved);
      op->resp.results[i].error_code = protocol::code(coordinator::group_write_error(err));
      return op->finish_one();
    }
    for (const auto& [topic, partition] : deleted) {
      shard.offsets().apply(id, topic, partition, std::nullopt);
    }
    log::info("group coordinator: deleted group {} and {} committed offsets", id, deleted.size());
    op->finish_one();
  });
}

}  // namespace

void handle_delete_groups(RequestContext& ctx, Responder respond) {
  protocol::DeleteGroupsRequest req;
  if (!ctx.decode(req)) return respond.close();
  auto op = std::make_shared<DeleteOp>();
  op->respond.emplace(std::move(respond));
  op->resp.results.resize(req.groups_names.size());
  op->pending.fetch_add(req.groups_names.size(), std::memory_order_relaxed);
  for (size_t i = 0; i < req.groups_names.size(); ++i) {
    const std::string& id = req.groups_names[i];
    op->resp.results[i].group_id = id;
    if (!authorize(ctx, AclOperation::remove, ResourceType::group, id)) {
      op->resp.results[i].error_code = protocol::code(ErrorCode::group_authorization_failed);
      op->finish_one();
      continue;
    }
    ctx.broker.coordinator().with_shard(
        id, [op, i, id](coordinator::CoordinatorShard* shard, ErrorCode why) {
          if (!shard) {
            op->resp.results[i].error_code = protocol::code(why);
            return op->finish_one();
          }
          delete_group(*shard, id, op, i);
        });
  }
  op->finish_one();
}

}  // namespace kaffa::broker
