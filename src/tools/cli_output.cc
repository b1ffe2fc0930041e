// Output helpers of the client verbs: tables, JSON, the progress line.
#include <chrono>
#include <cstdio>

#include "tools/cli_common.h"

namespace kaffa::cli {
namespace {

int64_t mono_ns() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

}  // namespace

Progress::Progress(const char* verb, bool enabled)
    : verb_(verb), on_(enabled && stderr_is_terminal()), start_ns_(mono_ns()) {}

void Progress::tick(uint64_t n) {
  if (!on_) return;
  int64_t now = mono_ns();
  if (now - last_ns_ < 500'000'000) return;
  last_ns_ = now;
  show(n);
}

void Progress::done(uint64_t n) {
  if (!on_) return;
  show(n);
  std::fputc('\n', stderr);
}

void Progress::show(uint64_t n) {
  double secs = static_cast<double>(mono_ns() - start_ns_) / 1e9;
  double rate = secs > 0 ? static_cast<double>(n) / secs : 0;
  std::fprintf(stderr, "\r%s %llu records (%.0f/s)   ", verb_, static_cast<unsigned long long>(n),
               rate);
}

void Table::print() const {
  std::vector<size_t> width;
  for (const auto& r : rows_) {
    if (width.size() < r.size()) width.resize(r.size(), 0);
    for (size_t i = 0; i < r.size(); ++i) width[i] = std::max(width[i], r[i].size());
  }
  std::string line;
  for (const auto& r : rows_) {
    line.clear();
    for (size_t i = 0; i < r.size(); ++i) {
      line += r[i];
      if (i + 1 < r.size()) line.append(width[i] - r[i].size() + 2, ' ');
    }
    line += '\n';
    std::fputs(line.c_str(), stdout);
  }
}

void Json::print() const {
  std::fputs(w_.str().c_str(), stdout);
  std::fputc('\n', stdout);
}

}  // namespace kaffa::cli
