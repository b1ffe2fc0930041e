// QuotaManager: the client quotas in force on this broker (client_quotas.h) and the byte rates
// they are enforced on. Each rate is measured over `samples` windows of `window_ms` (Kafka's
// quota.window.num = 11 and quota.window.size.seconds = 1); a request that takes a rate above its
// bound is throttled for as long as the rate needs to fall back to it (Kafka's formula: the excess
// over the bound, relative to the bound, times the measured span), at most the whole span.
//
// Threading: any thread. The set is swapped whole under a mutex; record() takes the same mutex,
// only when some quota exists (has_quotas() is one atomic load for the request path).
#pragma once

#include <atomic>
#include <cstdint>
#include <filesystem>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <tuple>

#include "base/sampled_rate.h"
#include "broker/client_quotas.h"

namespace kaffa::broker {

class QuotaManager {
 public:
  explicit QuotaManager(int32_t samples = 11, int64_t window_ms = 1000);

  // <log.dirs>/__kaffa_metadata/client-quotas: a single node's set.
  static std::filesystem::path default_path(const std::filesystem::path& log_dir);

  std::shared_ptr<const quotas::QuotaSet> current() const;
  void replace(quotas::QuotaSet set);
  bool has_quotas() const { return has_quotas_.load(std::memory_order_acquire); }

  // Adds `bytes` to the rate the quota `key` of (user, client_id) is measured on; the throttle
  // time in ms (0 without a quota, or while the rate stays within it).
  int32_t record(std::string_view key, std::string_view user, std::string_view client_id,
                 int64_t bytes, int64_t now_ms);
  // The quota's bound times (samples - 1) windows, in bytes; nullopt without a quota.
  std::optional<int64_t> window_bytes(std::string_view key, std::string_view user,
                                      std::string_view client_id) const;

 private:
  const int32_t samples_;
  const int64_t window_ms_;
  mutable std::mutex mu_;
  std::shared_ptr<const quotas::QuotaSet> set_;
  std::map<std::tuple<std::string, std::string, std::string>, SampledRate> rates_;
  std::atomic<bool> has_quotas_{false};
};

}  // namespace kaffa::broker
