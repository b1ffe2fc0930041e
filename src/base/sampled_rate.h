// SampledRate: a byte rate measured over `samples` windows of `window_ms` each, as Kafka's
// SampledStat / Rate (quota.window.num and quota.window.size.seconds for client quotas,
// replication.quota.window.num and replication.quota.window.size.seconds for replication): a
// ring of windows, the oldest recycled when time moves past the current one; the rate is what
// the windows still within samples × window_ms hold, over at least samples - 1 whole windows (so
// that a first burst is not a huge rate).
//
// Threading: none; its owner guards it.
#pragma once

#include <algorithm>
#include <cstdint>
#include <vector>

namespace kaffa {

class SampledRate {
 public:
  SampledRate(int32_t samples, int64_t window_ms)
      : samples_(std::max(samples, 2)),
        window_ms_(std::max<int64_t>(window_ms, 1)),
        bytes_(static_cast<size_t>(samples_), 0),
        starts_(static_cast<size_t>(samples_), -1) {}

  void record(int64_t bytes, int64_t now_ms) {
    if (starts_[current_] < 0) {
      starts_[current_] = now_ms;
    } else if (now_ms >= starts_[current_] + window_ms_) {
      current_ = (current_ + 1) % bytes_.size();
      bytes_[current_] = 0;
      starts_[current_] = now_ms;
    }
    bytes_[current_] += bytes;
  }

  // Bytes per second now, and the span (ms) it was measured over.
  double rate(int64_t now_ms, int64_t* elapsed_ms = nullptr) const {
    int64_t total = 0;
    int64_t oldest = now_ms;
    for (size_t i = 0; i < bytes_.size(); ++i) {
      if (starts_[i] < 0 || now_ms - starts_[i] >= span_ms()) continue;
      total += bytes_[i];
      oldest = std::min(oldest, starts_[i]);
    }
    const int64_t elapsed = std::max(now_ms - oldest, (samples_ - 1) * window_ms_);
    if (elapsed_ms != nullptr) *elapsed_ms = elapsed;
    return static_cast<double>(total) * 1000.0 / static_cast<double>(elapsed);
  }

  int64_t span_ms() const { return samples_ * window_ms_; }
  // What a bound allows over samples - 1 windows (Kafka's getMaxValueInQuotaWindow).
  static int64_t window_bytes(int32_t samples, int64_t window_ms, double bytes_per_second) {
    const double bytes =
        bytes_per_second * static_cast<double>((std::max(samples, 2) - 1) * window_ms) / 1000.0;
    return static_cast<int64_t>(std::min(bytes, 9.0e18));
  }

 private:
  const int32_t samples_;
  const int64_t window_ms_;
  std::vector<int64_t> bytes_;   // per window, a ring
  std::vector<int64_t> starts_;  // each window's start (ms); -1 unused
  size_t current_ = 0;
};

}  // namespace kaffa
