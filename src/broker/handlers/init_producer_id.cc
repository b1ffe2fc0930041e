// InitProducerId (key 22), versions 0-5 (flexible from 2), for idempotent producers.
//
// Without a transactional id Kafka hands out a fresh producer id with epoch 0 on every call, also
// when a v3+ client passes its current id and epoch to recover from a sequence error (KIP-360):
// a new id starts its sequences from scratch on every partition. Ids come from
// cluster::ProducerIdManager (durable blocks, never reused; in a cluster, blocks reserved in the
// metadata store). Transactions are not supported yet: a
// transactional id is answered with TRANSACTIONAL_ID_AUTHORIZATION_FAILED, which clients treat as
// fatal rather than retrying forever. Authorization (Kafka >= 3.0): IDEMPOTENT_WRITE on the cluster
// or WRITE on any topic, else CLUSTER_AUTHORIZATION_FAILED.
#include "protocol/messages/init_producer_id.h"

#include "base/log.h"
#include "broker/authorize.h"
#include "broker/broker.h"
#include "broker/handlers/handlers.h"
#include "protocol/error_codes.h"

namespace kaffa::broker {

void handle_init_producer_id(RequestContext& ctx, Responder respond) {
  protocol::InitProducerIdRequest req;
  if (!ctx.decode(req)) return respond.close();
  protocol::InitProducerIdResponse resp;
  resp.producer_id = -1;
  resp.producer_epoch = -1;
  if (req.transactional_id.has_value()) {
    resp.error_code = protocol::code(protocol::ErrorCode::transactional_id_authorization_failed);
    return respond.send(resp);
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
