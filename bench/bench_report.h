// Result reporting of kaffa_bench: the text summary and the JSON object.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "bench_clients.h"
#include "bench_util.h"

namespace kaffa_bench {

struct Totals {
  uint64_t sent = 0, acked = 0, failed = 0, acked_bytes = 0;
  uint64_t received = 0, consumed_bytes = 0, malformed = 0;
};

struct LatencySummary {
  uint64_t count;
  double p50, p99, p999, max, mean;  // milliseconds
};

LatencySummary summarize(const Histogram& h);

// "%g" of a number of seconds.
std::string secs(double s);

struct Report {
  const Options* opt = nullptr;
  int partitions = 0;
  Totals t;
  uint64_t unique = 0;    // records consumed without duplicates
  bool complete = false;  // consumers read every acknowledged record
  double produce_s = 0;   // start of the producers to the last delivery report
  double consume_s = 0;  // start of the producers (or of the consumers) to the last record consumed
  bool cost_consume_only =
      false;          // CPU figures cover the consume phase only (--consume-after-produce)
  double wall_s = 0;  // start of the producers to the end of the measurement
  LatencySummary ack{}, e2e{};
  std::optional<double> broker_cpu;  // CPU seconds of the broker (or the mock cluster thread)
  std::optional<uint64_t> peak_rss;  // KiB
  double client_cpu = 0;
  std::vector<std::string> errors;
};

// Prints the report to stdout: one JSON object under --json, else a few lines of text.
void print_report(const Report& r);

}  // namespace kaffa_bench
