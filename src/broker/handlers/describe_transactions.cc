// DescribeTransactions (key 65), version 0 (flexible): each transactional id's state as its
// coordinator holds it, for ids this broker coordinates (others: NOT_COORDINATOR; the admin
// client asks each id's coordinator). DESCRIBE on the id is needed
// (TRANSACTIONAL_ID_AUTHORIZATION_FAILED); an unknown id is TRANSACTIONAL_ID_NOT_FOUND. As Kafka
// does, the partitions of topics the principal may not DESCRIBE are left out.
#include "protocol/messages/describe_transactions.h"

#include "broker/authorize.h"
#include "broker/broker.h"
#include "broker/handlers/gathered_response.h"
#include "broker/handlers/handlers.h"

namespace kaffa::broker {

void handle_describe_transactions(RequestContext& ctx, Responder respond) {
  using protocol::ErrorCode;
  protocol::DescribeTransactionsRequest req;
  if (!ctx.decode(req)) return respond.close();
  auto op = std::make_shared<GatheredResponse<protocol::DescribeTransactionsResponse>>();
  op->respond.emplace(std::move(respond));
  std::vector<bool> allowed;
  for (const auto& id : req.transactional_ids) {
    auto& s = op->resp.transaction_states.emplace_back();
    s.transactional_id = id;
    s.producer_id = -1;
    s.producer_epoch = -1;
    s.transaction_start_time_ms = -1;
    allowed.push_back(authorize(ctx, AclOperation::describe, ResourceType::transactional_id, id));
    if (!allowed.back()) {
      s.error_code = protocol::code(ErrorCode::transactional_id_authorization_failed);
    } else {
      op->pending.fetch_add(1, std::memory_order_relaxed);
    }
  }
  auto who = std::make_shared<const RequestIdentity>(ctx);
  for (size_t i = 0; i < req.transactional_ids.size(); ++i) {
    if (!allowed[i]) continue;
    auto* slot = &op->resp.transaction_states[i];
    ctx.broker.txn_coordinator().with_shard(
        slot->transactional_id, [op, slot, who](txn::TxnShard* shard, ErrorCode e) {
          if (shard == nullptr) {
            slot->error_code = protocol::code(e);
            return op->finish_one();
          }
          const txn::TxnMetadata* m = shard->find(slot->transactional_id);
          if (m == nullptr) {
            slot->error_code = protocol::code(ErrorCode::transactional_id_not_found);
            return op->finish_one();
          }
          slot->transaction_state = txn::state_name(m->state);
          slot->transaction_timeout_ms = m->timeout_ms;
          slot->transaction_start_time_ms = m->start_ms;
          slot->producer_id = m->producer_id;
          slot->producer_epoch = m->producer_epoch;
          std::string_view hidden;  // the last topic refused (partitions come sorted by topic)
          for (const auto& [topic, partition] : m->partitions) {
            if (topic == hidden) continue;
            if (slot->topics.empty() || slot->topics.back().topic != topic) {
              if (!who->allowed(AclOperation::describe, ResourceType::topic, topic)) {
                hidden = topic;
                continue;
              }
              slot->topics.emplace_back().topic = topic;
            }
            slot->topics.back().partitions.push_back(partition);
          }
          op->finish_one();
        });
  }
  op->finish_one();
}

}  // namespace kaffa::broker
