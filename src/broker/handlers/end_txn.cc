// EndTxn (key 26), versions 0-3 (flexible from 3): commits or aborts the producer's transaction.
// Answered once PrepareCommit / PrepareAbort is durable in __transaction_state; the markers are
// written afterwards (txn/txn_shard.h), and until they are the id answers CONCURRENT_TRANSACTIONS.
// WRITE on the transactional id is needed (TRANSACTIONAL_ID_AUTHORIZATION_FAILED).
#include "protocol/messages/end_txn.h"

#include "broker/authorize.h"
#include "broker/broker.h"
#include "broker/handlers/handlers.h"
#include "broker/handlers/txn_common.h"

namespace kaffa::broker {

void handle_end_txn(RequestContext& ctx, Responder respond) {
  using protocol::ErrorCode;
  protocol::EndTxnRequest req;
  if (!ctx.decode(req)) return respond.close();
  protocol::EndTxnResponse resp;
  if (!authorize(ctx, AclOperation::write, ResourceType::transactional_id, req.transactional_id)) {
    resp.error_code = protocol::code(ErrorCode::transactional_id_authorization_failed);
    return respond.send(resp);
  }
  auto out = std::make_shared<Responder>(std::move(respond));
  const int16_t version = ctx.version();
  const std::string id = req.transactional_id;  // `req` moves into the callback
  ctx.broker.txn_coordinator().with_shard(
      id, [req = std::move(req), resp, out, version](txn::TxnShard* shard, ErrorCode e) mutable {
        if (shard == nullptr) {
          resp.error_code = protocol::code(e);
          return out->send(resp);
        }
        shard->end_txn(req.transactional_id, req.producer_id, req.producer_epoch, req.committed,
                       [resp, out, version](ErrorCode e) mutable {
                         resp.error_code = protocol::code(txn_error_for_version(e, version, 2));
                         out->send(resp);
                       });
      });
}

}  // namespace kaffa::broker
