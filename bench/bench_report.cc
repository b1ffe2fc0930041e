#include "bench_report.h"

#include <cstdio>

namespace kaffa_bench {

LatencySummary summarize(const Histogram& h) {
  auto ms = [](int64_t ns) { return static_cast<double>(ns) / 1e6; };
  return {h.count(),   ms(h.quantile(0.50)), ms(h.quantile(0.99)), ms(h.quantile(0.999)),
          ms(h.max()), h.mean() / 1e6};
}

std::string secs(double s) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%g", s);
  return buf;
}

namespace {

void json_latency(JsonWriter& j, const char* key, const LatencySummary& l) {
  j.begin(key)
      .field("samples", l.count)
      .field("p50", l.p50)
      .field("p99", l.p99)
      .field("p99_9", l.p999);
  j.field("max", l.max).field("mean", l.mean).end();
}

std::string text_latency(const LatencySummary& l) {
  char buf[160];
  std::snprintf(buf, sizeof buf, "p50 %.3f  p99 %.3f  p99.9 %.3f  max %.3f ms", l.p50, l.p99,
                l.p999, l.max);
  return buf;
}

}  // namespace

void print_report(const Report& r) {
  const Options& opt = *r.opt;
  const int partitions = r.partitions;
  const Totals& t = r.t;
  const uint64_t unique = r.unique;
  const bool complete = r.complete;
  const double produce_s = r.produce_s, consume_s = r.consume_s, wall_s = r.wall_s;
  const LatencySummary &ack_l = r.ack, &e2e_l = r.e2e;
  const std::optional<double>& bcpu = r.broker_cpu;
  const std::optional<uint64_t>& peak_rss = r.peak_rss;
  const double ccpu = r.client_cpu;
  const std::vector<std::string>& errors = r.errors;
  const bool ok = errors.empty();
  const uint64_t moved_bytes =
      r.cost_consume_only ? t.consumed_bytes : t.acked_bytes + t.consumed_bytes;
  auto per_s = [](double v, double s) { return s > 0 ? v / s : 0.0; };

  if (opt.json) {
    JsonWriter j;
    j.begin().field("ok", ok).string_array("errors", errors);
    j.begin("config")
        .field("brokers", opt.mock ? std::string("mock") : opt.brokers)
        .field("mock", opt.mock);
    j.field("topic", opt.topic)
        .field("partitions", partitions)
        .field("record_size", opt.record_size);
    j.field("records", opt.records).field("duration_s", opt.duration_s).field("acks", opt.acks);
    j.field("linger_ms", opt.linger_ms)
        .field("batch_size", opt.batch_size)
        .field("compression", opt.compression);
    j.field("producers", opt.producers).field("consumers", opt.consumers);
    j.field("consumer_mode", opt.assign ? "assign" : "group").field("rate", opt.rate);
    j.field("consume_after_produce", opt.consume_after);
    j.field("clock", opt.realtime_clock ? "realtime" : "monotonic").end();
    j.begin("produce").field("records_sent", t.sent).field("records_acked", t.acked);
    j.field("records_failed", t.failed).field("bytes", t.acked_bytes).field("seconds", produce_s);
    j.field("records_per_s", per_s(static_cast<double>(t.acked), produce_s));
    j.field("mb_per_s", per_s(static_cast<double>(t.acked_bytes) / 1e6, produce_s));
    json_latency(j, "ack_latency_ms", ack_l);
    j.end();
    if (opt.consumers > 0) {
      j.begin("consume").field("records", t.received).field("unique_records", unique);
      j.field("duplicates", t.received > unique ? t.received - unique : 0)
          .field("malformed", t.malformed);
      j.field("bytes", t.consumed_bytes).field("seconds", consume_s).field("complete", complete);
      j.field("records_per_s", per_s(static_cast<double>(t.received), consume_s));
      j.field("mb_per_s", per_s(static_cast<double>(t.consumed_bytes) / 1e6, consume_s));
      json_latency(j, "end_to_end_latency_ms", e2e_l);
      j.end();
    } else {
      j.null_field("consume");
    }
    if (bcpu) {
      j.begin("broker").field("source", opt.mock ? std::string("mock cluster threads")
                                                 : "pid " + std::to_string(opt.broker_pid));
      j.field("cpu_s", *bcpu)
          .field("cpu_s_per_gb", per_s(*bcpu, static_cast<double>(moved_bytes) / 1e9));
      if (peak_rss)
        j.field("peak_rss_kib", *peak_rss);
      else
        j.null_field("peak_rss_kib");
      j.end();
    } else {
      j.null_field("broker");
    }
    j.begin("client")
        .field("cpu_s", ccpu)
        .field("cpu_s_per_gb", per_s(ccpu, static_cast<double>(moved_bytes) / 1e9));
    j.field("wall_s", wall_s).end();
    j.end();
    std::printf("%s\n", j.str().c_str());
  } else {
    std::printf(
        "kaffa_bench: %s, topic %s (%d partitions), %d B records, acks=%s, compression=%s, "
        "linger.ms=%d, "
        "batch.size=%d, %d producer(s), %d consumer(s)%s%s\n",
        opt.mock ? "librdkafka mock cluster" : opt.brokers.c_str(), opt.topic.c_str(), partitions,
        opt.record_size, opt.acks.c_str(), opt.compression.c_str(), opt.linger_ms, opt.batch_size,
        opt.producers, opt.consumers, opt.consumers ? (opt.assign ? " (assign)" : " (group)") : "",
        opt.consumers && opt.consume_after
            ? ", consuming after producing (CPU figures: consume phase)"
            : "");
    std::printf("produce: %llu acked, %llu failed in %.3f s: %.0f records/s, %.2f MB/s\n",
                static_cast<unsigned long long>(t.acked), static_cast<unsigned long long>(t.failed),
                produce_s, per_s(static_cast<double>(t.acked), produce_s),
                per_s(static_cast<double>(t.acked_bytes) / 1e6, produce_s));
    std::printf("  ack latency:        %s\n", text_latency(ack_l).c_str());
    if (opt.consumers > 0) {
      std::printf(
          "consume: %llu of %llu records (%llu duplicates) in %.3f s: %.0f records/s, %.2f MB/s\n",
          static_cast<unsigned long long>(unique), static_cast<unsigned long long>(t.acked),
          static_cast<unsigned long long>(t.received > unique ? t.received - unique : 0), consume_s,
          per_s(static_cast<double>(t.received), consume_s),
          per_s(static_cast<double>(t.consumed_bytes) / 1e6, consume_s));
      std::printf("  end-to-end latency: %s\n", text_latency(e2e_l).c_str());
    }
    if (bcpu) {
      std::printf(
          "broker (%s): %.3f CPU s, %.3f CPU s per GB moved",
          opt.mock ? "mock cluster threads" : ("pid " + std::to_string(opt.broker_pid)).c_str(),
          *bcpu, per_s(*bcpu, static_cast<double>(moved_bytes) / 1e9));
      if (peak_rss) std::printf(", peak RSS %.1f MiB", static_cast<double>(*peak_rss) / 1024);
      std::printf("\n");
    }
    std::printf("client: %.3f CPU s, %.3f CPU s per GB moved, wall %.3f s\n", ccpu,
                per_s(ccpu, static_cast<double>(moved_bytes) / 1e9), wall_s);
    for (const auto& e : errors) std::printf("ERROR: %s\n", e.c_str());
  }
  std::fflush(stdout);
}

}  // namespace kaffa_bench
