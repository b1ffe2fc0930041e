#include "base/metrics.h"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <stdexcept>

namespace kaffa::metrics {
namespace {

constexpr double kLatencyBuckets[] = {0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.0025,
                                      0.005,   0.01,   0.025,   0.05,   0.1,   0.25,
                                      0.5,     1,      2.5,     5,      10};

const char* type_name(Type t) {
  switch (t) {
    case Type::counter:
      return "counter";
    case Type::gauge:
      return "gauge";
    case Type::histogram:
      return "histogram";
  }
  return "untyped";
}

}  // namespace

std::span<const double> latency_buckets() {
  return kLatencyBuckets;
}

Histogram::Histogram(std::span<const double> bounds)
    : bounds_(bounds.begin(), bounds.end()),
      buckets_(std::make_unique<std::atomic<uint64_t>[]>(bounds.size() + 1)) {
  std::sort(bounds_.begin(), bounds_.end());
  for (size_t i = 0; i <= bounds_.size(); ++i) buckets_[i].store(0, std::memory_order_relaxed);
}

void Histogram::observe(double v) {
  if (std::isnan(v)) return;
  // First bucket whose upper bound is >= v (Prometheus buckets are "less than or equal").
  const size_t i =
      static_cast<size_t>(std::lower_bound(bounds_.begin(), bounds_.end(), v) - bounds_.begin());
  buckets_[i].fetch_add(1, std::memory_order_relaxed);
  sum_.fetch_add(v, std::memory_order_relaxed);
}

HistogramSnapshot Histogram::snapshot() const {
  HistogramSnapshot s;
  s.bounds = bounds_;
  s.cumulative.reserve(bounds_.size() + 1);
  uint64_t total = 0;
  for (size_t i = 0; i <= bounds_.size(); ++i) {
    total += buckets_[i].load(std::memory_order_relaxed);
    s.cumulative.push_back(total);
  }
  s.count = total;
  s.sum = sum_.load(std::memory_order_relaxed);
  return s;
}

std::string escape_label_value(std::string_view v) {
  std::string out;
  out.reserve(v.size());
  for (char c : v) {
    if (c == '\\') {
      out += "\\\\";
    } else if (c == '"') {
      out += "\\\"";
    } else if (c == '\n') {
      out += "\\n";
    } else {
      out += c;
    }
  }
  return out;
}

std::string escape_help(std::string_view v) {
  std::string out;
  out.reserve(v.size());
  for (char c : v) {
    if (c == '\\') {
      out += "\\\\";
    } else if (c == '\n') {
      out += "\\n";
    } else {
      out += c;
    }
  }
  return out;
}

std::string format_value(double v) {
  if (std::isnan(v)) return "NaN";
  if (std::isinf(v)) return v > 0 ? "+Inf" : "-Inf";
  return fmt::format("{}", v);
}

void Exposition::begin(std::string_view name, std::string_view help, Type type) {
  fmt::format_to(std::back_inserter(out_), "# HELP {} {}\n# TYPE {} {}\n", name, escape_help(help),
                 name, type_name(type));
}

void Exposition::series(std::string_view name, const Labels& labels, const std::string* le) {
  out_ += name;
  if (labels.empty() && le == nullptr) {
    out_ += ' ';
    return;
  }
  out_ += '{';
  bool first = true;
  for (const auto& [k, v] : labels) {
    if (!first) out_ += ',';
    first = false;
    fmt::format_to(std::back_inserter(out_), "{}=\"{}\"", k, escape_label_value(v));
  }
  if (le != nullptr) fmt::format_to(std::back_inserter(out_), "{}le=\"{}\"", first ? "" : ",", *le);
  out_ += "} ";
}

void Exposition::sample(std::string_view name, const Labels& labels, double value) {
  series(name, labels, nullptr);
  out_ += format_value(value);
  out_ += '\n';
}

void Exposition::sample(std::string_view name, const Labels& labels, uint64_t value) {
  series(name, labels, nullptr);
  fmt::format_to(std::back_inserter(out_), "{}\n", value);
}

void Exposition::sample(std::string_view name, const Labels& labels, int64_t value) {
  series(name, labels, nullptr);
  fmt::format_to(std::back_inserter(out_), "{}\n", value);
}

void Exposition::histogram(std::string_view name, const Labels& labels,
                           const HistogramSnapshot& s) {
  const std::string bucket = std::string(name) + "_bucket";
  for (size_t i = 0; i < s.cumulative.size(); ++i) {
    const std::string le = i < s.bounds.size() ? format_value(s.bounds[i]) : "+Inf";
    series(bucket, labels, &le);
    fmt::format_to(std::back_inserter(out_), "{}\n", s.cumulative[i]);
  }
  sample(std::string(name) + "_sum", labels, s.sum);
  sample(std::string(name) + "_count", labels, s.count);
}

namespace detail {

Labels FamilyBase::labels_of(const std::vector<std::string>& values) const {
  Labels l;
  l.reserve(label_names_.size());
  for (size_t i = 0; i < label_names_.size(); ++i) l.emplace_back(label_names_[i], values[i]);
  return l;
}

}  // namespace detail

template <>
void Family<Counter>::render(Exposition& out) const {
  out.begin(name_, help_, type_);
  std::lock_guard lock(mu_);
  for (const auto& [key, s] : index_) out.sample(name_, labels_of(key), s->value());
}

template <>
void Family<Gauge>::render(Exposition& out) const {
  out.begin(name_, help_, type_);
  std::lock_guard lock(mu_);
  for (const auto& [key, s] : index_) out.sample(name_, labels_of(key), s->value());
}

template <>
void Family<Histogram>::render(Exposition& out) const {
  out.begin(name_, help_, type_);
  std::lock_guard lock(mu_);
  for (const auto& [key, s] : index_) out.histogram(name_, labels_of(key), s->snapshot());
}

template <class S>
Family<S>& Registry::add(std::string name, std::string help, Type type,
                         std::vector<std::string> labels) {
  std::lock_guard lock(mu_);
  for (auto& f : families_) {
    if (f->name() != name) continue;
    if (auto* same = dynamic_cast<Family<S>*>(f.get())) return *same;
    throw std::logic_error("metric " + name + " registered twice with different types");
  }
  auto family =
      std::make_unique<Family<S>>(std::move(name), std::move(help), type, std::move(labels));
  Family<S>& ref = *family;
  families_.push_back(std::move(family));
  return ref;
}

Family<Counter>& Registry::counter(std::string name, std::string help,
                                   std::vector<std::string> label_names) {
  return add<Counter>(std::move(name), std::move(help), Type::counter, std::move(label_names));
}

Family<Gauge>& Registry::gauge(std::string name, std::string help,
                               std::vector<std::string> label_names) {
  return add<Gauge>(std::move(name), std::move(help), Type::gauge, std::move(label_names));
}

Family<Histogram>& Registry::histogram(std::string name, std::string help,
                                       std::vector<std::string> label_names) {
  return add<Histogram>(std::move(name), std::move(help), Type::histogram, std::move(label_names));
}

void Registry::render(Exposition& out) const {
  std::lock_guard lock(mu_);
  for (const auto& f : families_) f->render(out);
}

}  // namespace kaffa::metrics
