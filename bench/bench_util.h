// Small helpers of kaffa_bench: clocks, a latency histogram, /proc sampling, a JSON writer.
#pragma once

#include <sys/types.h>

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace kaffa_bench {

// Nanoseconds of CLOCK_MONOTONIC (the steady clock).
int64_t mono_ns();
// Nanoseconds of the clock stamped into record values (CLOCK_MONOTONIC or CLOCK_REALTIME).
int64_t stamp_ns(bool realtime);

// Log-linear histogram of non-negative nanosecond values: exact below 256 ns, then 128 buckets
// per power of two (relative error under 0.4 %). Not thread-safe: one per thread, merge after.
class Histogram {
 public:
  Histogram();
  void record(int64_t ns);
  void merge(const Histogram& other);
  uint64_t count() const { return count_; }
  int64_t max() const { return max_; }
  double mean() const { return count_ ? sum_ / static_cast<double>(count_) : 0; }
  // The value at quantile q in [0, 1] (a bucket's midpoint, clamped to the exact max).
  int64_t quantile(double q) const;

 private:
  static constexpr int kSubBits = 7;
  static constexpr size_t kBuckets = 256 + 56 * 128;
  static size_t index_of(uint64_t v);
  static uint64_t value_of(size_t idx);
  std::vector<uint64_t> buckets_;
  uint64_t count_ = 0;
  int64_t max_ = 0;
  double sum_ = 0;  // ns
};

// CPU seconds (utime + stime) of a process from /proc/PID/stat; nullopt if it cannot be read.
std::optional<double> proc_cpu_seconds(pid_t pid);
// Sum of the CPU seconds of this process's threads whose name (comm) starts with `prefix`.
double self_threads_cpu_seconds(std::string_view prefix);
// Peak resident set size (VmHWM) in KiB from /proc/PID/status; nullopt if it cannot be read.
std::optional<uint64_t> proc_peak_rss_kib(pid_t pid);
// CPU seconds used by this whole process so far (getrusage).
double self_cpu_seconds();

// A minimal streaming JSON writer (objects, numbers, strings, booleans; commas handled).
class JsonWriter {
 public:
  JsonWriter& begin(std::string_view key = {});  // an object (a field if key is given)
  JsonWriter& end();
  JsonWriter& field(std::string_view key, std::string_view v);
  JsonWriter& field(std::string_view key, const char* v) { return field(key, std::string_view(v)); }
  JsonWriter& field(std::string_view key, const std::string& v) { return field(key, std::string_view(v)); }
  JsonWriter& field(std::string_view key, bool v);
  JsonWriter& field(std::string_view key, int64_t v);
  JsonWriter& field(std::string_view key, uint64_t v);
  JsonWriter& field(std::string_view key, int v) { return field(key, static_cast<int64_t>(v)); }
  JsonWriter& field(std::string_view key, double v);
  JsonWriter& null_field(std::string_view key);
  JsonWriter& string_array(std::string_view key, const std::vector<std::string>& v);
  const std::string& str() const { return out_; }

 private:
  void key(std::string_view k);
  static void quote(std::string& out, std::string_view s);
  std::string out_;
  std::vector<bool> first_;  // per open object: no field written yet
};

}  // namespace kaffa_bench
