#include "bench_util.h"

#include <dirent.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <bit>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <sstream>

namespace kaffa_bench {

namespace {
int64_t clock_ns(clockid_t id) {
  timespec ts{};
  clock_gettime(id, &ts);
  return static_cast<int64_t>(ts.tv_sec) * 1'000'000'000 + ts.tv_nsec;
}

std::optional<double> stat_cpu_seconds(const std::string& path) {
  std::ifstream f(path);
  std::string line;
  if (!f || !std::getline(f, line)) return std::nullopt;
  // Fields after the command name, which is in parentheses and may contain spaces.
  auto rp = line.rfind(')');
  if (rp == std::string::npos) return std::nullopt;
  std::istringstream in(line.substr(rp + 1));
  std::string tok;
  unsigned long long utime = 0, stime = 0;
  // Tokens after ')' start at field 3 (state); utime and stime are fields 14 and 15.
  for (int field = 3; field <= 15 && (in >> tok); ++field) {
    if (field == 14) utime = std::strtoull(tok.c_str(), nullptr, 10);
    if (field == 15) stime = std::strtoull(tok.c_str(), nullptr, 10);
  }
  if (!in) return std::nullopt;
  return static_cast<double>(utime + stime) / static_cast<double>(sysconf(_SC_CLK_TCK));
}
}  // namespace

int64_t mono_ns() { return clock_ns(CLOCK_MONOTONIC); }
int64_t stamp_ns(bool realtime) { return clock_ns(realtime ? CLOCK_REALTIME : CLOCK_MONOTONIC); }

// ---- Histogram ----

Histogram::Histogram() : buckets_(kBuckets, 0) {}

size_t Histogram::index_of(uint64_t v) {
  if (v < 256) return static_cast<size_t>(v);
  int msb = 63 - std::countl_zero(v);  // >= 8
  int shift = msb - kSubBits;          // >= 1
  uint64_t mantissa = v >> shift;      // in [128, 255]
  return 256 + static_cast<size_t>(shift - 1) * 128 + static_cast<size_t>(mantissa - 128);
}

uint64_t Histogram::value_of(size_t idx) {
  if (idx < 256) return idx;
  size_t k = idx - 256;
  int shift = static_cast<int>(k / 128) + 1;
  uint64_t mantissa = k % 128 + 128;
  return (mantissa << shift) + ((uint64_t{1} << shift) >> 1);
}

void Histogram::record(int64_t ns) {
  if (ns < 0) ns = 0;  // a clock step (realtime stamps) must not wrap around
  ++buckets_[index_of(static_cast<uint64_t>(ns))];
  ++count_;
  sum_ += static_cast<double>(ns);
  max_ = std::max(max_, ns);
}

void Histogram::merge(const Histogram& o) {
  for (size_t i = 0; i < kBuckets; ++i) buckets_[i] += o.buckets_[i];
  count_ += o.count_;
  sum_ += o.sum_;
  max_ = std::max(max_, o.max_);
}

int64_t Histogram::quantile(double q) const {
  if (count_ == 0) return 0;
  auto target = static_cast<uint64_t>(std::ceil(q * static_cast<double>(count_)));
  target = std::clamp<uint64_t>(target, 1, count_);
  uint64_t seen = 0;
  for (size_t i = 0; i < kBuckets; ++i) {
    seen += buckets_[i];
    if (seen >= target) return std::min<int64_t>(static_cast<int64_t>(value_of(i)), max_);
  }
  return max_;
}

// ---- /proc ----

std::optional<double> proc_cpu_seconds(pid_t pid) {
  return stat_cpu_seconds("/proc/" + std::to_string(pid) + "/stat");
}

double self_threads_cpu_seconds(std::string_view prefix) {
  double total = 0;
  DIR* d = opendir("/proc/self/task");
  if (!d) return 0;
  while (dirent* e = readdir(d)) {
    if (e->d_name[0] == '.') continue;
    std::string base = std::string("/proc/self/task/") + e->d_name;
    std::ifstream comm(base + "/comm");
    std::string name;
    if (!comm || !std::getline(comm, name)) continue;
    if (name.compare(0, prefix.size(), prefix) != 0) continue;
    total += stat_cpu_seconds(base + "/stat").value_or(0);
  }
  closedir(d);
  return total;
}

std::optional<uint64_t> proc_peak_rss_kib(pid_t pid) {
  std::ifstream f("/proc/" + std::to_string(pid) + "/status");
  std::string line;
  while (f && std::getline(f, line)) {
    if (line.rfind("VmHWM:", 0) == 0) return std::strtoull(line.c_str() + 6, nullptr, 10);
  }
  return std::nullopt;
}

double self_cpu_seconds() {
  rusage ru{};
  getrusage(RUSAGE_SELF, &ru);
  auto tv = [](const timeval& t) { return static_cast<double>(t.tv_sec) + static_cast<double>(t.tv_usec) / 1e6; };
  return tv(ru.ru_utime) + tv(ru.ru_stime);
}

// ---- JSON ----

void JsonWriter::quote(std::string& out, std::string_view s) {
  out += '"';
  for (unsigned char c : s) {
    switch (c) {
      case '"': out += "\\\""; break;
      case '\\': out += "\\\\"; break;
      case '\n': out += "\\n"; break;
      case '\r': out += "\\r"; break;
      case '\t': out += "\\t"; break;
      default:
        if (c < 0x20) {
          char buf[8];
          std::snprintf(buf, sizeof buf, "\\u%04x", c);
          out += buf;
        } else {
          out += static_cast<char>(c);
        }
    }
  }
  out += '"';
}

void JsonWriter::key(std::string_view k) {
  if (!first_.empty()) {
    if (!first_.back()) out_ += ',';
    first_.back() = false;
  }
  if (!k.empty()) {
    quote(out_, k);
    out_ += ':';
  }
}

JsonWriter& JsonWriter::begin(std::string_view k) {
  key(k);
  out_ += '{';
  first_.push_back(true);
  return *this;
}

JsonWriter& JsonWriter::end() {
  out_ += '}';
  first_.pop_back();
  return *this;
}

JsonWriter& JsonWriter::field(std::string_view k, std::string_view v) {
  key(k);
  quote(out_, v);
  return *this;
}

JsonWriter& JsonWriter::field(std::string_view k, bool v) {
  key(k);
  out_ += v ? "true" : "false";
  return *this;
}

JsonWriter& JsonWriter::field(std::string_view k, int64_t v) {
  key(k);
  out_ += std::to_string(v);
  return *this;
}

JsonWriter& JsonWriter::field(std::string_view k, uint64_t v) {
  key(k);
  out_ += std::to_string(v);
  return *this;
}

JsonWriter& JsonWriter::field(std::string_view k, double v) {
  key(k);
  if (!std::isfinite(v)) {
    out_ += "null";
    return *this;
  }
  char buf[64];
  // Plain notation for large values (records/s), 6 significant digits otherwise.
  std::snprintf(buf, sizeof buf, std::fabs(v) >= 1e5 ? "%.1f" : "%.6g", v);
  out_ += buf;
  return *this;
}

JsonWriter& JsonWriter::null_field(std::string_view k) {
  key(k);
  out_ += "null";
  return *this;
}

JsonWriter& JsonWriter::string_array(std::string_view k, const std::vector<std::string>& v) {
  key(k);
  out_ += '[';
  for (size_t i = 0; i < v.size(); ++i) {
    if (i) out_ += ',';
    quote(out_, v[i]);
  }
  out_ += ']';
  return *this;
}

}  // namespace kaffa_bench
