// Broker: where the client quotas live (client_quotas.h). A single node keeps them in
// `__kaffa_metadata/client-quotas`; a cluster as one record of the metadata store
// (`<prefix>/client_quotas`, the same text), which every broker's QuotaManager follows, so that a
// quota set through any broker holds on every broker (each enforcing it on its own traffic).
#include "base/clock.h"
#include "base/log.h"
#include "broker/broker.h"
#include "broker/request_context.h"
#include "broker/shared_records.h"
#include "cluster/etcd_metadata.h"

namespace kaffa::broker {

void Broker::load_client_quotas() {
  auto set = shared::load_file<quotas::QuotaSet>(QuotaManager::default_path(config_.log_dir),
                                                 clustered(), "client quotas", quotas::decode);
  if (!set) return;
  if (!set->empty()) log::info("client quotas: {} entities", set->size());
  quotas_.replace(std::move(*set));
}

std::optional<Broker::QuotaIdentity> Broker::quota_identity(const RequestContext& ctx) const {
  if (!quotas_.has_quotas()) return std::nullopt;
  std::string principal = principal_of(ctx.conn);
  // Kafka measures the principal's name ("User:alice" -> "alice").
  if (const auto colon = principal.find(':'); colon != std::string::npos)
    principal.erase(0, colon + 1);
  return QuotaIdentity{std::move(principal), ctx.header.client_id.value_or("")};
}

int32_t Broker::throttle(const QuotaIdentity& who, std::string_view key, int64_t bytes) {
  const int32_t ms = quotas_.record(key, who.user, who.client_id, bytes, clock::steady_ms());
  if (ms > 0) metrics_.on_throttled(key == quotas::kConsumerByteRate, ms);
  return ms;
}

void Broker::unrecord(const QuotaIdentity& who, std::string_view key, int64_t bytes) {
  quotas_.record(key, who.user, who.client_id, -bytes, clock::steady_ms());
}

std::optional<int64_t> Broker::quota_window_bytes(const QuotaIdentity& who,
                                                  std::string_view key) const {
  return quotas_.window_bytes(key, who.user, who.client_id);
}

void Broker::apply_quota_record(const cluster::MetadataImage* previous,
                                const cluster::MetadataImage& current) {
  if (previous != nullptr && previous->client_quotas == current.client_quotas) return;
  if (auto set = shared::decode_record<quotas::QuotaSet>(current.client_quotas, "client quotas",
                                                         quotas::decode)) {
    quotas_.replace(std::move(*set));
  }
}

void Broker::update_client_quotas(std::function<bool(quotas::QuotaSet&)> change,
                                  SecurityDone done) {
  if (!metadata_) {
    std::lock_guard lock(quota_file_mu_);
    auto next = *quotas_.current();
    if (!change(next)) return done("");
    const auto file = QuotaManager::default_path(config_.log_dir);
    if (auto error = shared::write_file(file, quotas::encode(next)); !error.empty()) {
      return done(error);
    }
    quotas_.replace(std::move(next));
    return done("");
  }
  shared::update_set<quotas::QuotaSet>(*metadata_, cluster::EtcdMetadata::Shared::client_quotas,
                                       "client quotas", std::move(change), quotas::decode,
                                       quotas::encode, std::move(done));
}

}  // namespace kaffa::broker
