// AlterClientQuotas (key 49), versions 0-1 (flexible from 1; KIP-546): sets or removes quota
// values per entity (client_quotas.h's alter rules; INVALID_REQUEST per entry, with a message).
// The valid entries of one request are applied together, once: through the metadata store in a
// cluster, into this node's quota file otherwise; an entity named twice is refused (Kafka:
// "Ignoring duplicate entity"). validate_only checks without storing. A storage failure answers
// UNKNOWN_SERVER_ERROR for the entries it concerned.
// Authorization: ALTER_CONFIGS on the cluster, else CLUSTER_AUTHORIZATION_FAILED per entry.
#include "protocol/messages/alter_client_quotas.h"

#include <memory>
#include <set>

#include "broker/authorize.h"
#include "broker/broker.h"
#include "broker/handlers/handlers.h"
#include "protocol/error_codes.h"

namespace kaffa::broker {
namespace {

using protocol::ErrorCode;

quotas::EntityData entity_of(const protocol::AlterClientQuotasRequest::EntryData& e) {
  quotas::EntityData out;
  for (const auto& d : e.entity) out.emplace_back(d.entity_type, d.entity_name);
  return out;
}

std::vector<quotas::Op> ops_of(const protocol::AlterClientQuotasRequest::EntryData& e) {
  std::vector<quotas::Op> out;
  for (const auto& o : e.ops) out.push_back({o.key, o.value, o.remove});
  return out;
}

}  // namespace

void handle_alter_client_quotas(RequestContext& ctx, Responder respond) {
  auto req = std::make_shared<protocol::AlterClientQuotasRequest>();
  if (!ctx.decode(*req)) return respond.close();
  auto resp = std::make_shared<protocol::AlterClientQuotasResponse>();
  for (const auto& e : req->entries) {
    auto& out = resp->entries.emplace_back();
    for (const auto& d : e.entity) out.entity.push_back({d.entity_type, d.entity_name});
  }
  if (!authorize_cluster(ctx, AclOperation::alter_configs)) {
    for (auto& out : resp->entries) {
      out.error_code = protocol::code(ErrorCode::cluster_authorization_failed);
      out.error_message = "Authorization failed.";
    }
    return respond.send(*resp);
  }
  // Each entry checked on its own against the current set; duplicates refused.
  std::set<quotas::EntityData> seen;
  std::vector<size_t> valid;
  const auto current = ctx.broker.quotas().current();
  for (size_t i = 0; i < req->entries.size(); ++i) {
    auto entity = entity_of(req->entries[i]);
    std::sort(entity.begin(), entity.end());
    auto& out = resp->entries[i];
    std::string message;
    auto probe = *current;
    auto error = seen.insert(entity).second ? quotas::alter(probe, entity_of(req->entries[i]),
                                                            ops_of(req->entries[i]), &message)
                                            : ErrorCode::invalid_request;
    if (error == ErrorCode::invalid_request && message.empty())
      message = "Ignoring duplicate entity";
    if (error != ErrorCode::none) {
      out.error_code = protocol::code(error);
      out.error_message = message;
    } else {
      valid.push_back(i);
    }
  }
  if (req->validate_only || valid.empty()) return respond.send(*resp);
  auto out = std::make_shared<Responder>(std::move(respond));
  ctx.broker.update_client_quotas(
      [req, valid](quotas::QuotaSet& set) {
        const auto before = set;
        for (size_t i : valid) {
          // Checked above; against a newer set (another broker's change) it may be refused now,
          // and then leaves the set as it was.
          std::string ignored;
          quotas::alter(set, entity_of(req->entries[i]), ops_of(req->entries[i]), &ignored);
        }
        return set != before;
      },
      [out, resp, valid](std::string error) {
        if (!error.empty()) {
          for (size_t i : valid) {
            resp->entries[i].error_code = protocol::code(ErrorCode::unknown_server_error);
            resp->entries[i].error_message = error;
          }
        }
        out->send(*resp);
      });
}

}  // namespace kaffa::broker
