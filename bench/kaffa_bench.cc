// kaffa_bench: a Kafka load generator on librdkafka, in the spirit of kafka-producer-perf-test and
// kafka-consumer-perf-test. N producer threads (one rd_kafka_t each) write records of a given size
// whose value starts with an 8-byte send timestamp; N consumer threads read them back and compute
// end-to-end latency. The same load can run against librdkafka's in-process mock cluster (--mock)
// as a reference. See bench/README.md.
#include <librdkafka/rdkafka.h>
#include <librdkafka/rdkafka_mock.h>
#include <malloc.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <algorithm>
#include <atomic>
#include <chrono>
#include <csignal>
#include <cstdio>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "bench_clients.h"
#include "bench_report.h"
#include "bench_util.h"

namespace kaffa_bench {
namespace {

volatile std::sig_atomic_t g_signals = 0;
void on_signal(int) {
  g_signals = g_signals + 1;
}

constexpr const char* kMockThreadPrefix = "rdk:mock";  // librdkafka's mock cluster thread

Totals totals(const Run& run) {
  Totals t;
  for (const auto& p : run.pstats) {
    t.sent += p->sent.load();
    t.acked += p->acked.load();
    t.failed += p->failed.load();
    t.acked_bytes += p->acked_bytes.load();
  }
  for (const auto& c : run.cstats) {
    t.received += c->received.load();
    t.consumed_bytes += c->bytes.load();
    t.malformed += c->malformed.load();
  }
  return t;
}

// Prints a progress line to stderr once a second.
class Progress {
 public:
  Progress(const Run& run, bool enabled) : run_(run), enabled_(enabled), last_ns_(run.t0_ns) {}
  void tick() {
    int64_t now = mono_ns();
    if (!enabled_ || now - last_ns_ < 1'000'000'000) return;
    Totals t = totals(run_);
    double dt = static_cast<double>(now - last_ns_) / 1e9;
    double size = run_.opt.record_size;
    std::fprintf(
        stderr,
        "[%6.1fs] sent %llu  acked %llu (%.0f rec/s, %.1f MB/s)  failed %llu  consumed %llu (%.0f "
        "rec/s)\n",
        static_cast<double>(now - run_.t0_ns) / 1e9, static_cast<unsigned long long>(t.sent),
        static_cast<unsigned long long>(t.acked), static_cast<double>(t.acked - last_.acked) / dt,
        static_cast<double>(t.acked - last_.acked) * size / 1e6 / dt,
        static_cast<unsigned long long>(t.failed), static_cast<unsigned long long>(t.received),
        static_cast<double>(t.received - last_.received) / dt);
    last_ = t;
    last_ns_ = now;
  }

 private:
  const Run& run_;
  bool enabled_;
  int64_t last_ns_;
  Totals last_;
};

int run_bench(Options& o) {
  Run run;
  run.opt = o;
  if (run.opt.group.empty())
    run.opt.group = "kaffa-bench-" + std::to_string(getpid()) + "-" + std::to_string(mono_ns());
  const Options& opt = run.opt;
  std::string err;

  // The mock cluster lives in a handle of its own for the whole run.
  rd_kafka_t* mock_host = nullptr;
  rd_kafka_mock_cluster_t* mock = nullptr;
  if (opt.mock) {
    char buf[512];
    rd_kafka_conf_t* c = rd_kafka_conf_new();
    rd_kafka_conf_set(c, "client.id", "kaffa-bench-mock", buf, sizeof buf);
    rd_kafka_conf_set(c, "log_level", "4", buf,
                      sizeof buf);  // no notice about its empty bootstrap.servers
    mock_host = rd_kafka_new(RD_KAFKA_PRODUCER, c, buf, sizeof buf);
    if (!mock_host || !(mock = rd_kafka_mock_cluster_new(mock_host, 1))) {
      std::fprintf(stderr, "kaffa_bench: cannot start the mock cluster: %s\n",
                   mock_host ? "" : buf);
      return 2;
    }
    run.bootstrap = rd_kafka_mock_cluster_bootstraps(mock);
  } else {
    run.bootstrap = opt.brokers;
  }

  auto cleanup_mock = [&] {
    if (mock) rd_kafka_mock_cluster_destroy(mock);
    if (mock_host) rd_kafka_destroy(mock_host);
  };

  // An admin handle: topic setup and start offsets.
  {
    rd_kafka_conf_t* c = base_conf(run, "kaffa-bench-admin", err);
    char buf[512];
    rd_kafka_t* admin = c ? rd_kafka_new(RD_KAFKA_PRODUCER, c, buf, sizeof buf) : nullptr;
    if (c && !admin) err = buf;
    bool ok = admin && setup_topic(admin, mock, run, err);
    if (admin) rd_kafka_destroy(admin);
    if (!ok) {
      std::fprintf(stderr, "kaffa_bench: setup failed (%s): %s\n", run.bootstrap.c_str(),
                   err.c_str());
      cleanup_mock();
      return 2;
    }
  }

  std::signal(SIGINT, on_signal);
  std::signal(SIGTERM, on_signal);

  // Consumers first, so that they are assigned before the first record is produced; under
  // --consume-after-produce they start after producing and are timed on their own.
  for (int i = 0; i < opt.consumers; ++i) run.cstats.push_back(std::make_unique<ConsumerStats>());
  std::vector<std::thread> consumers;
  std::vector<std::string> errors;
  auto start_consumers = [&] {
    for (int i = 0; i < opt.consumers; ++i)
      consumers.emplace_back(consumer_thread, std::ref(run), i);
    int64_t deadline = mono_ns() + static_cast<int64_t>(opt.timeout_s * 1e9);
    for (;;) {
      bool all = true;
      int assigned = 0;
      for (const auto& c : run.cstats) {
        all = all && c->got_assignment.load();
        // Every group member must hold a share: one still showing its assignment of an earlier
        // generation would make the sum look complete while a rebalance is under way.
        if (!opt.assign && opt.consumers <= run.partitions) all = all && c->assigned.load() > 0;
        assigned += c->assigned.load();
      }
      if (all && (opt.consumers == 0 || assigned == run.partitions)) break;
      if (mono_ns() > deadline || g_signals) {
        errors.push_back(
            "consumers were not assigned every partition within " + secs(opt.timeout_s) + " s" +
            (opt.assign ? "" : " (does the broker support consumer groups? try --assign)"));
        break;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    for (const auto& c : run.cstats) {
      if (!c->setup_error.empty()) errors.push_back(c->setup_error);
    }
  };
  if (!opt.consume_after) start_consumers();

  // Produce.
  auto broker_cpu = [&]() -> std::optional<double> {
    if (opt.mock) return self_threads_cpu_seconds(kMockThreadPrefix);
    if (opt.broker_pid > 0) return proc_cpu_seconds(opt.broker_pid);
    return std::nullopt;
  };
  std::optional<double> broker_cpu0 = broker_cpu();
  double client_cpu0 = self_cpu_seconds();
  const uint64_t n_records = errors.empty() ? opt.records : 0;
  for (int i = 0; i < opt.producers; ++i) run.pstats.push_back(std::make_unique<ProducerStats>());
  run.t0_ns = mono_ns();
  std::vector<std::thread> producers;
  for (int i = 0; i < opt.producers; ++i) {
    uint64_t quota =
        n_records / static_cast<uint64_t>(opt.producers) +
        (static_cast<uint64_t>(i) < n_records % static_cast<uint64_t>(opt.producers) ? 1 : 0);
    if (!errors.empty() || (opt.records > 0 && quota == 0)) {
      run.pstats[static_cast<size_t>(i)]->done =
          true;  // not started (setup error, or more producers than records)
      continue;
    }
    producers.emplace_back(producer_thread, std::ref(run), i, quota);
  }
  Progress progress(run, opt.progress);
  for (;;) {
    bool done = true;
    for (const auto& p : run.pstats) done = done && p->done.load();
    if (done) break;
    if (g_signals) run.stop_producing = true;
    progress.tick();
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  for (auto& t : producers) t.join();
  const int64_t produced_ns = mono_ns();
  Totals t = totals(run);
  int64_t consume_t0 = run.t0_ns;
  if (opt.consume_after && opt.consumers > 0) {
    start_consumers();
    // From here the cost figures cover the consume phase alone.
    broker_cpu0 = broker_cpu();
    client_cpu0 = self_cpu_seconds();
    consume_t0 = mono_ns();
    run.release_consumers.store(true, std::memory_order_release);
  }

  // Wait for the consumers to read every acknowledged record.
  bool complete = opt.consumers == 0;
  if (opt.consumers > 0) {
    int64_t deadline = mono_ns() + static_cast<int64_t>(opt.timeout_s * 1e9);
    const int signals_before = g_signals;  // a signal from here on ends the wait
    while (!complete && mono_ns() < deadline && g_signals == signals_before) {
      t = totals(run);
      complete = run.unique_consumed() >= t.acked && t.received >= t.acked;
      if (!complete) {
        progress.tick();
        std::this_thread::sleep_for(std::chrono::milliseconds(20));
      }
    }
  }
  const int64_t end_ns = mono_ns();
  const std::optional<double> broker_cpu1 = broker_cpu();
  const double client_cpu1 = self_cpu_seconds();
  std::optional<uint64_t> peak_rss;
  if (!opt.mock && opt.broker_pid > 0) peak_rss = proc_peak_rss_kib(opt.broker_pid);
  run.stop_consuming = true;
  for (auto& c : consumers) c.join();
  t = totals(run);
  const uint64_t unique = opt.consumers > 0 ? run.unique_consumed() : 0;

  Histogram ack, e2e;
  int64_t last_ack = run.t0_ns, last_recv = run.t0_ns;
  std::string first_delivery_error;
  for (const auto& p : run.pstats) {
    ack.merge(p->ack_latency);
    last_ack = std::max(last_ack, p->last_ack_ns);
    if (first_delivery_error.empty()) first_delivery_error = p->first_error;
  }
  for (const auto& c : run.cstats) {
    e2e.merge(c->e2e_latency);
    last_recv = std::max(last_recv, c->last_recv_ns);
  }
  if (t.failed > 0 || (errors.empty() && t.acked == 0)) {
    errors.push_back(
        std::to_string(t.failed) + " records failed delivery" +
        (first_delivery_error.empty() ? "" : " (first: " + first_delivery_error + ")"));
  }
  if (opt.consumers > 0 && !complete) {
    errors.push_back("consumers received " + std::to_string(unique) + " of " +
                     std::to_string(t.acked) + " acknowledged records within " +
                     secs(opt.timeout_s) + " s after producing");
    for (const auto& c : run.cstats) {
      if (!c->error.empty()) errors.push_back(c->error);
    }
    if (opt.mock) {
      errors.push_back(
          "note: the mock cluster keeps only the last 5 MiB (or 100000 batches) of each partition; "
          "consumers that fall further behind lose records: lower --records or --rate, or add "
          "partitions");
    }
  }
  if (t.malformed > 0)
    errors.push_back(std::to_string(t.malformed) + " consumed records had an unexpected size");
  if (g_signals) errors.push_back("interrupted");

  Report r;
  r.opt = &opt;
  r.partitions = run.partitions;
  r.t = t;
  r.unique = unique;
  r.complete = complete;
  r.produce_s =
      static_cast<double>((t.acked + t.failed ? last_ack : produced_ns) - run.t0_ns) / 1e9;
  r.consume_s = static_cast<double>(last_recv - consume_t0) / 1e9;
  r.wall_s = static_cast<double>(end_ns - run.t0_ns) / 1e9;
  r.cost_consume_only = opt.consume_after;
  r.ack = summarize(ack);
  r.e2e = summarize(e2e);
  if (broker_cpu0 && broker_cpu1) r.broker_cpu = *broker_cpu1 - *broker_cpu0;
  r.peak_rss = peak_rss;
  r.client_cpu = client_cpu1 - client_cpu0;
  r.errors = errors;
  const bool ok = errors.empty();
  print_report(r);
  cleanup_mock();
  return ok ? 0 : 1;
}

}  // namespace
}  // namespace kaffa_bench

int main(int argc, char** argv) {
  using kaffa_bench::Options;
  Options o;
  CLI::App app{
      "kaffa_bench: Kafka load generator on librdkafka (produce, consume, latency, broker CPU)"};
  app.add_option("-b,--brokers", o.brokers, "Bootstrap servers")->capture_default_str();
  app.add_option("-t,--topic", o.topic, "Topic (created if missing)")->capture_default_str();
  auto* parts =
      app.add_option("-p,--partitions", o.partitions, "Partitions of the topic when it is created")
          ->check(CLI::Range(1, 100000))
          ->capture_default_str();
  app.add_option("-s,--record-size", o.record_size,
                 "Value size in bytes (>= 8: the send timestamp)")
      ->check(CLI::Range(kaffa_bench::kStampBytes, 64 << 20))
      ->capture_default_str();
  auto* rec = app.add_option("-n,--records", o.records, "Records to produce over all producers")
                  ->capture_default_str();
  auto* dur = app.add_option("-d,--duration", o.duration_s,
                             "Produce for this many seconds instead of --records")
                  ->check(CLI::PositiveNumber);
  rec->excludes(dur);
  app.add_option("--acks", o.acks, "Producer acks")
      ->check(CLI::IsMember({"0", "1", "all", "-1"}))
      ->capture_default_str();
  app.add_option("--linger-ms", o.linger_ms, "Producer linger.ms")
      ->check(CLI::Range(0, 900000))
      ->capture_default_str();
  app.add_option("--batch-size", o.batch_size, "Producer batch.size (bytes)")
      ->check(CLI::Range(1, 2147483647))
      ->capture_default_str();
  app.add_option("--compression", o.compression, "compression.type")
      ->check(CLI::IsMember({"none", "gzip", "snappy", "lz4", "zstd"}))
      ->capture_default_str();
  app.add_option("--producers", o.producers, "Producer threads (one rd_kafka_t each)")
      ->check(CLI::Range(1, 1024))
      ->capture_default_str();
  app.add_option("--consumers", o.consumers, "Consumer threads (0: produce only)")
      ->check(CLI::Range(0, 1024))
      ->capture_default_str();
  app.add_flag(
      "--consume-after-produce", o.consume_after,
      "Start the consumers after producing and time them alone (reads from the page cache)");
  app.add_flag("--assign", o.assign,
               "Consumers assign partitions manually (p % consumers) instead of joining a group");
  app.add_option("--group", o.group, "Consumer group id (default: a fresh one per run)");
  app.add_option("--rate", o.rate, "Target records/s over all producers (0 = unlimited)")
      ->check(CLI::NonNegativeNumber)
      ->capture_default_str();
  app.add_flag(
      "--mock", o.mock,
      "Run against librdkafka's in-process mock cluster (one broker) instead of --brokers");
  app.add_option("--broker-pid", o.broker_pid,
                 "Broker process to sample CPU time and peak RSS of (/proc)")
      ->check(CLI::PositiveNumber);
  app.add_flag("--json", o.json, "Print the results as one JSON object");
  app.add_flag("--progress", o.progress,
               "Print a progress line every second to stderr (default: if it is a terminal)");
  app.add_option("--timeout", o.timeout_s,
                 "Seconds allowed for deliveries and consumers to finish after producing")
      ->check(CLI::PositiveNumber)
      ->capture_default_str();
  std::string clock = "monotonic";
  app.add_option("--clock", clock, "Clock of the timestamps in record values")
      ->check(CLI::IsMember({"monotonic", "realtime"}))
      ->capture_default_str();
  std::vector<std::string> extra;
  app.add_option("-X", extra, "Extra librdkafka property key=value for every client (repeatable)")
      ->expected(1)
      ->multi_option_policy(CLI::MultiOptionPolicy::TakeAll);
  CLI11_PARSE(app, argc, argv);

  o.partitions_given = parts->count() > 0;
  if (dur->count() > 0) o.records = 0;
  o.realtime_clock = clock == "realtime";
  if (isatty(STDERR_FILENO)) o.progress = true;
  for (const auto& kv : extra) {
    auto eq = kv.find('=');
    if (eq == std::string::npos || eq == 0) {
      std::fprintf(stderr, "kaffa_bench: -X %s: expected key=value\n", kv.c_str());
      return 2;
    }
    o.extra.emplace_back(kv.substr(0, eq), kv.substr(eq + 1));
  }
  if (o.records == 0 && o.duration_s <= 0) {
    std::fprintf(stderr, "kaffa_bench: give --records > 0 or --duration\n");
    return 2;
  }
  // Keep freed memory for reuse instead of handing it back to the kernel: at a gigabyte per
  // second the records and request buffers would otherwise be faulted in afresh, and first
  // touches are expensive on these VMs (docs/PERFORMANCE.md). 32 MiB is glibc's largest mmap
  // threshold on 64-bit.
  mallopt(M_MMAP_THRESHOLD, 32 << 20);
  mallopt(M_TRIM_THRESHOLD, 1 << 30);
  return kaffa_bench::run_bench(o);
}
