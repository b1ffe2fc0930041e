// AddOffsetsToTxn (key 25), versions 0-3 (flexible from 3): adds the __consumer_offsets partition
// of `group_id` to the producer's transaction, so that the offsets it then sends with
// TxnOffsetCommit commit or abort with the transaction. WRITE on the transactional id
// (TRANSACTIONAL_ID_AUTHORIZATION_FAILED) and READ on the group (GROUP_AUTHORIZATION_FAILED) are
// needed, in that order; the rest is AddPartitionsToTxn's (txn/txn_rules.h).
#include "protocol/messages/add_offsets_to_txn.h"

#include "broker/authorize.h"
#include "broker/broker.h"
#include "broker/handlers/handlers.h"
#include "broker/handlers/txn_common.h"
#include "coordinator/group_coordinator.h"

namespace kaffa::broker {

void handle_add_offsets_to_txn(RequestContext& ctx, Responder respond) {
  using protocol::ErrorCode;
  protocol::AddOffsetsToTxnRequest req;
  if (!ctx.decode(req)) return respond.close();
  protocol::AddOffsetsToTxnResponse resp;
  if (!authorize(ctx, AclOperation::write, ResourceType::transactional_id, req.transactional_id)) {
    resp.error_code = protocol::code(ErrorCode::transactional_id_authorization_failed);
    return respond.send(resp);
  }
  if (!authorize(ctx, AclOperation::read, ResourceType::group, req.group_id)) {
    resp.error_code = protocol::code(ErrorCode::group_authorization_failed);
    return respond.send(resp);
  }
  const int32_t offsets_partition = ctx.broker.coordinator().partition_for(req.group_id);
  auto out = std::make_shared<Responder>(std::move(respond));
  const int16_t version = ctx.version();
  const std::string id = req.transactional_id;  // `req` moves into the callback
  ctx.broker.txn_coordinator().with_shard(id, [req = std::move(req), resp, offsets_partition, out,
                                               version](txn::TxnShard* shard, ErrorCode e) mutable {
    if (shard == nullptr) {
      resp.error_code = protocol::code(e);
      return out->send(resp);
    }
    shard->add_partitions(req.transactional_id, req.producer_id, req.producer_epoch,
                          {{coordinator::kOffsetsTopic, offsets_partition}},
                          [resp, out, version](ErrorCode e) mutable {
                            resp.error_code = protocol::code(txn_error_for_version(e, version, 2));
                            out->send(resp);
                          });
  });
}

}  // namespace kaffa::broker
