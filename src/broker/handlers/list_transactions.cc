// ListTransactions (key 66), versions 0-1 (flexible): the transactional ids this broker
// coordinates and may be described by the principal (DESCRIBE on each id; the others are left
// out, as Kafka), filtered by state names (Kafka's, e.g. "Ongoing"; unknown names are listed in
// unknown_state_filters and match nothing), producer ids and (v1) duration_filter: only
// transactions running for longer than that many milliseconds.
#include "protocol/messages/list_transactions.h"

#include <algorithm>
#include <mutex>

#include "base/clock.h"
#include "broker/authorize.h"
#include "broker/broker.h"
#include "broker/handlers/handlers.h"

namespace kaffa::broker {

void handle_list_transactions(RequestContext& ctx, Responder respond) {
  protocol::ListTransactionsRequest req;
  if (!ctx.decode(req)) return respond.close();
  struct Op {
    protocol::ListTransactionsRequest req;
    protocol::ListTransactionsResponse resp;
    std::set<txn::TxnState> states;
    std::mutex mu;  // shards on several loops add to resp
    Responder respond;
    explicit Op(Responder r) : respond(std::move(r)) {}
  };
  auto op = std::make_shared<Op>(std::move(respond));
  for (const auto& name : req.state_filters) {
    bool known = false;
    for (int8_t s = 0; s <= 7; ++s) {
      if (name == txn::state_name(static_cast<txn::TxnState>(s))) {
        op->states.insert(static_cast<txn::TxnState>(s));
        known = true;
      }
    }
    if (!known) op->resp.unknown_state_filters.push_back(name);
  }
  op->req = std::move(req);
  // Which ids may be listed is decided once all are gathered (the authorizer needs no loop).
  auto gathered = std::make_shared<std::vector<std::pair<std::string, txn::TxnMetadata>>>();
  const int64_t now = clock::wall_ms();
  ctx.broker.txn_coordinator().for_each_shard(
      [op, gathered, now](txn::TxnShard* shard) {
        const auto& r = op->req;
        for (const auto& [id, m] : shard->all()) {
          if (!r.state_filters.empty() && op->states.count(m.state) == 0) continue;
          if (!r.producer_id_filters.empty() &&
              std::find(r.producer_id_filters.begin(), r.producer_id_filters.end(),
                        m.producer_id) == r.producer_id_filters.end()) {
            continue;
          }
          if (r.duration_filter >= 0 && (m.start_ms < 0 || now - m.start_ms <= r.duration_filter)) {
            continue;
          }
          std::lock_guard lock(op->mu);
          gathered->emplace_back(id, m);
        }
      },
      [op, gathered, who = RequestIdentity(ctx)] {
        for (const auto& [id, m] : *gathered) {
          if (!who.allowed(AclOperation::describe, ResourceType::transactional_id, id)) continue;
          auto& s = op->resp.transaction_states.emplace_back();
          s.transactional_id = id;
          s.producer_id = m.producer_id;
          s.transaction_state = txn::state_name(m.state);
        }
        op->respond.send(op->resp);
      });
}

}  // namespace kaffa::broker
