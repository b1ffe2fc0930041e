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
  const double bytes =
      bound->bytes_per_second * static_cast<double>((samples_ - 1) * window_ms_) / 1000.0;
  return static_cast<int64_t>(std::min(bytes, 9.0e18));
}

int32_t QuotaManager::record(std::string_view key, std::string_view user,
                             std::string_view client_id, int64_t bytes, int64_t now_ms) {
  std::lock_guard lock(mu_);
  const auto bound = quotas::resolve(*set_, key, user, client_id);
  if (!bound) return 0;
  Rate& r = rates_[{std::string(key), bound->user, bound->client_id}];
  if (r.bytes.empty()) {
    r.bytes.assign(static_cast<size_t>(samples_), 0);
    r.starts.assign(static_cast<size_t>(samples_), -1);
    r.starts[0] = now_ms;
  }
  // Move to the window holding now_ms, recycling the oldest.
  if (now_ms >= r.starts[r.current] + window_ms_) {
    r.current = (r.current + 1) % r.bytes.size();
    r.bytes[r.current] = 0;
    r.starts[r.current] = now_ms;
  }
  r.bytes[r.current] += bytes;
  // The rate over the windows still within the span (Kafka's SampledStat, Rate).
  const int64_t span_ms = samples_ * window_ms_;
  int64_t total = 0;
  int64_t oldest = now_ms;
  for (size_t i = 0; i < r.bytes.size(); ++i) {
    if (r.starts[i] < 0 || now_ms - r.starts[i] >= span_ms) continue;
    total += r.bytes[i];
    oldest = std::min(oldest, r.starts[i]);
  }
  // Kafka measures over at least samples - 1 whole windows, so a first burst is not a huge rate.
  const int64_t elapsed = std::max(now_ms - oldest, (samples_ - 1) * window_ms_);
  const double rate = static_cast<double>(total) * 1000.0 / static_cast<double>(elapsed);
  if (rate <= bound->bytes_per_second) return 0;
  const double throttle =
      (rate - bound->bytes_per_second) / bound->bytes_per_second * static_cast<double>(elapsed);
  return static_cast<int32_t>(std::min<double>(throttle, static_cast<double>(span_ms)));
}

}  // namespace kaffa::broker
