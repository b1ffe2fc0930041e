// Metrics: counters, gauges and histograms with labels, rendered in the Prometheus text
// exposition format (version 0.0.4).
//
// A Registry holds named families (`kaffa_...`), each with fixed label names. A series (one set of
// label values) is created once, under the family's mutex, by `Family::with(...)`; the caller
// keeps the returned reference (series live as long as the registry and never move) and updates
// it lock-free with relaxed atomics. Values that are cheaper to compute when scraped (sizes,
// counts, snapshots held elsewhere) are written at scrape time through an Exposition directly.
//
// Threading: every member may be called from any thread. Rendering takes each family's mutex only
// to walk its series list.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <deque>
#include <initializer_list>
#include <map>
#include <memory>
#include <mutex>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace kaffa::metrics {

enum class Type { counter, gauge, histogram };

using Labels = std::vector<std::pair<std::string, std::string>>;

class Counter {
 public:
  void inc(uint64_t n = 1) { v_.fetch_add(n, std::memory_order_relaxed); }
  uint64_t value() const { return v_.load(std::memory_order_relaxed); }

 private:
  std::atomic<uint64_t> v_{0};
};

class Gauge {
 public:
  void set(int64_t v) { v_.store(v, std::memory_order_relaxed); }
  void add(int64_t n) { v_.fetch_add(n, std::memory_order_relaxed); }
  int64_t value() const { return v_.load(std::memory_order_relaxed); }

 private:
  std::atomic<int64_t> v_{0};
};

// Upper bounds (seconds) for latencies from 50 µs to 10 s; +Inf is implicit.
std::span<const double> latency_buckets();

struct HistogramSnapshot {
  std::vector<double> bounds;        // upper bounds, ascending, without +Inf
  std::vector<uint64_t> cumulative;  // per bound, cumulative; then one more for +Inf (== count)
  double sum = 0;
  uint64_t count = 0;
};

// Fixed buckets. observe() is two relaxed atomic adds plus a bucket search.
class Histogram {
 public:
  explicit Histogram(std::span<const double> bounds = latency_buckets());
  Histogram(const Histogram&) = delete;
  Histogram& operator=(const Histogram&) = delete;

  void observe(double v);
  void observe_since(std::chrono::steady_clock::time_point start) {
    observe(std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count());
  }
  // Consistent enough for scraping: the +Inf bucket is the sum of the buckets read.
  HistogramSnapshot snapshot() const;

 private:
  std::vector<double> bounds_;
  std::unique_ptr<std::atomic<uint64_t>[]> buckets_;  // bounds_.size() + 1 (the +Inf bucket)
  std::atomic<double> sum_{0};
};

// Observes the time from construction to finish() into a histogram, once. A timer destroyed
// without finish() observes nothing (an abandoned request has no latency). Move-only: a
// moved-from timer observes nothing.
class Timer {
 public:
  Timer() = default;
  explicit Timer(Histogram* h) : h_(h), start_(std::chrono::steady_clock::now()) {}
  Timer(Histogram* h, std::chrono::steady_clock::time_point start) : h_(h), start_(start) {}
  Timer(Timer&& o) noexcept : h_(std::exchange(o.h_, nullptr)), start_(o.start_) {}
  Timer& operator=(Timer&& o) noexcept {
    if (this != &o) {
      h_ = std::exchange(o.h_, nullptr);  // a pending timer replaced observes nothing
      start_ = o.start_;
    }
    return *this;
  }
  ~Timer() = default;
  void finish() {
    if (h_ != nullptr) std::exchange(h_, nullptr)->observe_since(start_);
  }
  void cancel() { h_ = nullptr; }
  // Hands the measurement over to a copyable function object (16 bytes, so a std::function holds
  // it without allocating) that observes it when called; this timer observes nothing then.
  struct Pending {
    Histogram* h = nullptr;
    std::chrono::steady_clock::time_point start{};
    void operator()() const {
      if (h != nullptr) h->observe_since(start);
    }
  };
  Pending release() { return Pending{std::exchange(h_, nullptr), start_}; }

 private:
  Histogram* h_ = nullptr;
  std::chrono::steady_clock::time_point start_{};
};

// Builds exposition text. Each family is begun once, then its samples follow contiguously.
class Exposition {
 public:
  void begin(std::string_view name, std::string_view help, Type type);
  // A sample of the current family; `suffix` for histograms ("_bucket", "_sum", "_count").
  void sample(std::string_view name, const Labels& labels, double value);
  void sample(std::string_view name, const Labels& labels, uint64_t value);
  void sample(std::string_view name, const Labels& labels, int64_t value);
  void histogram(std::string_view name, const Labels& labels, const HistogramSnapshot& s);

  const std::string& text() const { return out_; }
  std::string take() { return std::move(out_); }

 private:
  void series(std::string_view name, const Labels& labels, const std::string* extra_le);
  std::string out_;
};

// Text helpers (exposed for tests).
std::string escape_label_value(std::string_view v);
std::string escape_help(std::string_view v);
std::string format_value(double v);  // "+Inf", "-Inf", "NaN" or shortest round-trip decimal

namespace detail {
class FamilyBase {
 public:
  FamilyBase(std::string name, std::string help, Type type, std::vector<std::string> label_names)
      : name_(std::move(name)),
        help_(std::move(help)),
        type_(type),
        label_names_(std::move(label_names)) {}
  virtual ~FamilyBase() = default;
  const std::string& name() const { return name_; }
  virtual void render(Exposition& out) const = 0;

 protected:
  Labels labels_of(const std::vector<std::string>& values) const;
  std::string name_;
  std::string help_;
  Type type_;
  std::vector<std::string> label_names_;
};
}  // namespace detail

template <class Series>
class Family : public detail::FamilyBase {
 public:
  using detail::FamilyBase::FamilyBase;

  // The series for these label values (as many as the family has label names), created on first
  // use. Keep the reference: it is valid as long as the registry.
  Series& with(std::initializer_list<std::string_view> values) {
    std::vector<std::string> key(values.begin(), values.end());
    if (key.size() != label_names_.size()) key.resize(label_names_.size());
    std::lock_guard lock(mu_);
    auto it = index_.find(key);
    if (it != index_.end()) return *it->second;
    Series* s = make_series();
    index_.emplace(std::move(key), s);
    return *s;
  }

  void render(Exposition& out) const override;

 private:
  Series* make_series() { return &storage_.emplace_back(); }
  mutable std::mutex mu_;
  std::deque<Series> storage_;  // never moves its elements
  std::map<std::vector<std::string>, Series*> index_;
};

template <>
void Family<Counter>::render(Exposition& out) const;
template <>
void Family<Gauge>::render(Exposition& out) const;
template <>
void Family<Histogram>::render(Exposition& out) const;

class Registry {
 public:
  Family<Counter>& counter(std::string name, std::string help,
                           std::vector<std::string> label_names = {});
  Family<Gauge>& gauge(std::string name, std::string help,
                       std::vector<std::string> label_names = {});
  // Histograms of a family share latency_buckets().
  Family<Histogram>& histogram(std::string name, std::string help,
                               std::vector<std::string> label_names = {});

  // Writes every family, in registration order.
  void render(Exposition& out) const;

 private:
  template <class S>
  Family<S>& add(std::string name, std::string help, Type type, std::vector<std::string> labels);

  mutable std::mutex mu_;
  std::vector<std::unique_ptr<detail::FamilyBase>> families_;
};

}  // namespace kaffa::metrics
