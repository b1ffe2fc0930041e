#include "broker/quota_manager.h"

#include <algorithm>

namespace kaffa::broker {

QuotaManager::QuotaManager(int32_t samples, int64_t window_ms)
    : samples_(std::max(samples, 2)),
      window_ms_(std::max<int64_t>(window_ms, 1)),
      set_(std::make_shared<const quotas::QuotaSet>()) {}

std::filesystem::path QuotaManager::default_path(const std::filesystem::path& log_dir) {
  return log_dir / "__kaffa_metadata" / "client-quotas";
}

std::shared_ptr<const quotas::QuotaSet> QuotaManager::current() const {
  std::lock_guard lock(mu_);
  return set_;
}

void QuotaManager::replace(quotas::QuotaSet set) {
  auto next = std::make_shared<const quotas::QuotaSet>(std::move(set));
  std::lock_guard lock(mu_);
  set_ = std::move(next);
  has_quotas_.store(!set_->empty(), std::memory_order_release);
  rates_.clear();  // bounds may have moved to other entities: measure afresh
}

std::optional<int64_t> QuotaManager::window_bytes(std::string_view key, std::string_view user,
                                                  std::string_view client_id) const {
  std::lock_guard lock(mu_);
  const auto bound = quotas::resolve(*set_, key, user, client_id);
  if (!bound) return std::nullopt;
  return SampledRate::window_bytes(samples_, window_ms_, bound->bytes_per_second);
}

int32_t QuotaManager::record(std::string_view key, std::string_view user,
                             std::string_view client_id, int64_t bytes, int64_t now_ms) {
  std::lock_guard lock(mu_);
  const auto bound = quotas::resolve(*set_, key, user, client_id);
  if (!bound) return 0;
  auto [it, _] =
      rates_.try_emplace({std::string(key), bound->user, bound->client_id}, samples_, window_ms_);
  SampledRate& r = it->second;
  r.record(bytes, now_ms);
  int64_t elapsed = 0;
  const double rate = r.rate(now_ms, &elapsed);
  if (rate <= bound->bytes_per_second) return 0;
  const double throttle =
      (rate - bound->bytes_per_second) / bound->bytes_per_second * static_cast<double>(elapsed);
  return static_cast<int32_t>(std::min<double>(throttle, static_cast<double>(r.span_ms())));
}

}  // namespace kaffa::broker
