// InitProducerId (key 22), versions 0-5 (flexible from 2).
//
// Without a transactional id Kafka hands out a fresh producer id with epoch 0 on every call, also
// when a v3+ client passes its current id and epoch to recover from a sequence error (KIP-360):
// a new id starts its sequences from scratch on every partition. Ids come from
// cluster::ProducerIdManager (durable blocks, never reused; in a cluster, blocks reserved in the
// metadata store). Authorization (Kafka >= 3.0): IDEMPOTENT_WRITE on the cluster or WRITE on any
// topic, else CLUSTER_AUTHORIZATION_FAILED.
//
// With a transactional id the id's transaction coordinator answers (txn/txn_rules.h): WRITE on
// the transactional id is needed (else TRANSACTIONAL_ID_AUTHORIZATION_FAILED), an empty id is
// INVALID_REQUEST, a timeout outside [1, transaction.max.timeout.ms] INVALID_TRANSACTION_TIMEOUT,
// and PRODUCER_FENCED is INVALID_PRODUCER_EPOCH below v4 (Kafka's mapping for older clients).
#include "protocol/messages/init_producer_id.h"

#include "base/log.h"
#include "broker/authorize.h"
#include "broker/broker.h"
#include "broker/handlers/handlers.h"
#include "broker/handlers/txn_common.h"
#include "protocol/error_codes.h"

namespace kaffa::broker {
namespace {

void init_transactional(RequestContext& ctx, const protocol::InitProducerIdRequest& req,
                        protocol::InitProducerIdResponse resp, Responder respond) {
  using protocol::ErrorCode;
  const std::string& id = *req.transactional_id;
  auto fail = [&](ErrorCode e) {
    resp.error_code = protocol::code(e);
    respond.send(resp);
  };
  if (id.empty()) return fail(ErrorCode::invalid_request);
  if (!authorize(ctx, AclOperation::write, ResourceType::transactional_id, id)) {
    return fail(ErrorCode::transactional_id_authorization_failed);
  }
  auto& coordinator = ctx.broker.txn_coordinator();
  if (req.transaction_timeout_ms <= 0 ||
      req.transaction_timeout_ms > coordinator.config().max_timeout_ms) {
    return fail(ErrorCode::invalid_transaction_timeout);
  }
  auto out = std::make_shared<Responder>(std::move(respond));
  const int16_t version = ctx.version();
  coordinator.with_shard(id, [req, resp, out, version](txn::TxnShard* shard, ErrorCode e) mutable {
    if (shard == nullptr) {
      resp.error_code = protocol::code(e);
      return out->send(resp);
    }
    shard->init_producer_id(
        *req.transactional_id, req.transaction_timeout_ms, req.producer_id, req.producer_epoch,
        [resp, out, version](ErrorCode e, int64_t producer_id, int16_t epoch) mutable {
          resp.error_code = protocol::code(txn_error_for_version(e, version, 4));
          resp.producer_id = producer_id;
          resp.producer_epoch = epoch;
          out->send(resp);
        });
  });
}

}  // namespace

void handle_init_producer_id(RequestContext& ctx, Responder respond) {
  protocol::InitProducerIdRequest req;
  if (!ctx.decode(req)) return respond.close();
  protocol::InitProducerIdResponse resp;
  resp.producer_id = -1;
  resp.producer_epoch = -1;
  if (req.transactional_id.has_value()) {
    return init_transactional(ctx, req, resp, std::move(respond));
  }
  if (!allowed(ctx, AclOperation::idempotent_write, ResourceType::cluster,
               security::kClusterResourceName) &&
      !authorize_any(ctx, AclOperation::write, ResourceType::topic)) {
    resp.error_code = protocol::code(protocol::ErrorCode::cluster_authorization_failed);
    return respond.send(resp);
  }
  auto out = std::make_shared<Responder>(std::move(respond));
  ctx.broker.producer_ids().next_async(
      [resp, out](std::optional<int64_t> id, const std::string& error) mutable {
        if (!id) {
          log::error("cannot reserve producer ids: {}", error);
          resp.error_code = protocol::code(protocol::ErrorCode::coordinator_not_available);
          return out->send(resp);
        }
        resp.producer_id = *id;
        resp.producer_epoch = 0;
        out->send(resp);
      });
}

}  // namespace kaffa::broker
