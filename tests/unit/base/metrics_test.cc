#include "base/metrics.h"

#include <gtest/gtest.h>

#include <chrono>
#include <functional>
#include <limits>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

namespace kaffa::metrics {
namespace {

TEST(Metrics, CounterAndGaugeSeriesAreCreatedOnceAndRendered) {
  Registry r;
  auto& requests = r.counter("kaffa_requests_total", "Requests.", {"api", "version"});
  Counter& produce = requests.with({"Produce", "9"});
  EXPECT_EQ(&produce, &requests.with({"Produce", "9"}));
  produce.inc();
  produce.inc(4);
  requests.with({"Fetch", "12"}).inc();
  auto& open = r.gauge("kaffa_connections_open", "Open connections.");
  open.with({}).set(3);
  open.with({}).add(-1);

  Exposition out;
  r.render(out);
  EXPECT_EQ(out.text(),
            "# HELP kaffa_requests_total Requests.\n"
            "# TYPE kaffa_requests_total counter\n"
            "kaffa_requests_total{api=\"Fetch\",version=\"12\"} 1\n"
            "kaffa_requests_total{api=\"Produce\",version=\"9\"} 5\n"
            "# HELP kaffa_connections_open Open connections.\n"
            "# TYPE kaffa_connections_open gauge\n"
            "kaffa_connections_open 2\n");
}

TEST(Metrics, RegisteringTheSameNameReturnsTheFamilyOrThrowsOnAnotherType) {
  Registry r;
  auto& a = r.counter("kaffa_x_total", "X.");
  EXPECT_EQ(&a, &r.counter("kaffa_x_total", "X."));
  EXPECT_THROW(r.gauge("kaffa_x_total", "X."), std::logic_error);
}

TEST(Metrics, HistogramBucketsAreCumulativeWithInfSumAndCount) {
  const double bounds[] = {0.1, 1, 10};
  Histogram h(bounds);
  h.observe(0.05);
  h.observe(0.1);  // "le" is inclusive
  h.observe(0.5);
  h.observe(100);
  const auto s = h.snapshot();
  ASSERT_EQ(s.cumulative.size(), 4u);
  EXPECT_EQ(s.cumulative[0], 2u);
  EXPECT_EQ(s.cumulative[1], 3u);
  EXPECT_EQ(s.cumulative[2], 3u);
  EXPECT_EQ(s.cumulative[3], 4u);
  EXPECT_EQ(s.count, 4u);
  EXPECT_DOUBLE_EQ(s.sum, 100.65);

  Exposition out;
  out.begin("kaffa_lat_seconds", "Latency.", Type::histogram);
  out.histogram("kaffa_lat_seconds", {{"api", "Produce"}}, s);
  EXPECT_EQ(out.text(),
            "# HELP kaffa_lat_seconds Latency.\n"
            "# TYPE kaffa_lat_seconds histogram\n"
            "kaffa_lat_seconds_bucket{api=\"Produce\",le=\"0.1\"} 2\n"
            "kaffa_lat_seconds_bucket{api=\"Produce\",le=\"1\"} 3\n"
            "kaffa_lat_seconds_bucket{api=\"Produce\",le=\"10\"} 3\n"
            "kaffa_lat_seconds_bucket{api=\"Produce\",le=\"+Inf\"} 4\n"
            "kaffa_lat_seconds_sum{api=\"Produce\"} 100.65\n"
            "kaffa_lat_seconds_count{api=\"Produce\"} 4\n");
}

TEST(Metrics, HistogramWithoutLabelsHasOnlyLe) {
  const double bounds[] = {1};
  Histogram h(bounds);
  Exposition out;
  out.histogram("kaffa_h", {}, h.snapshot());
  EXPECT_EQ(out.text(),
            "kaffa_h_bucket{le=\"1\"} 0\n"
            "kaffa_h_bucket{le=\"+Inf\"} 0\n"
            "kaffa_h_sum 0\n"
            "kaffa_h_count 0\n");
}

TEST(Metrics, LabelValuesAndHelpAreEscaped) {
  EXPECT_EQ(escape_label_value("a\"b\\c\nd"), "a\\\"b\\\\c\\nd");
  EXPECT_EQ(escape_help("x\\y\nz\"q"), "x\\\\y\\nz\"q");
  Exposition out;
  out.begin("kaffa_g", "Help with \\ and\nnewline.", Type::gauge);
  out.sample("kaffa_g", {{"topic", "we\"ird"}}, int64_t{-7});
  EXPECT_EQ(out.text(),
            "# HELP kaffa_g Help with \\\\ and\\nnewline.\n"
            "# TYPE kaffa_g gauge\n"
            "kaffa_g{topic=\"we\\\"ird\"} -7\n");
}

TEST(Metrics, ValuesFormatAsPrometheusNumbers) {
  EXPECT_EQ(format_value(1.0), "1");
  EXPECT_EQ(format_value(0.25), "0.25");
  EXPECT_EQ(format_value(1e-05), "1e-05");
  EXPECT_EQ(format_value(std::numeric_limits<double>::infinity()), "+Inf");
  EXPECT_EQ(format_value(-std::numeric_limits<double>::infinity()), "-Inf");
  EXPECT_EQ(format_value(std::numeric_limits<double>::quiet_NaN()), "NaN");
}

TEST(Metrics, TimerCountsFromTheStartItIsGiven) {
  Histogram h;
  Timer t(&h, std::chrono::steady_clock::now() - std::chrono::seconds(10));
  t.finish();
  EXPECT_EQ(h.snapshot().count, 1u);
  EXPECT_GE(h.snapshot().sum, 10.0);  // the time before the timer existed counts
}

TEST(Metrics, AReleasedTimerObservesWhenItsPendingPartIsCalled) {
  Histogram h;
  Timer t(&h, std::chrono::steady_clock::now() - std::chrono::seconds(5));
  const Timer::Pending pending = t.release();
  t.finish();  // handed over: nothing
  EXPECT_EQ(h.snapshot().count, 0u);
  std::function<void()> later = pending;  // what a response frame keeps
  later();
  EXPECT_EQ(h.snapshot().count, 1u);
  EXPECT_GE(h.snapshot().sum, 5.0);
  Timer().release()();  // an empty timer's pending part observes nothing
  EXPECT_EQ(h.snapshot().count, 1u);
}

TEST(Metrics, TimerObservesOnceAndNotAfterMove) {
  Histogram h;
  {
    Timer t(&h);
    Timer moved = std::move(t);
    moved.finish();
    moved.finish();
    t.finish();  // moved-from: nothing
  }
  EXPECT_EQ(h.snapshot().count, 1u);
  { Timer t(&h); }  // destroyed without finish(): nothing
  EXPECT_EQ(h.snapshot().count, 1u);
  {
    Timer t(&h);
    Timer other;
    other = std::move(t);  // t observes nothing, other does on finish()
    other.finish();
  }
  EXPECT_EQ(h.snapshot().count, 2u);
  {
    Timer t(&h);
    t.cancel();
  }
  EXPECT_EQ(h.snapshot().count, 2u);
}

TEST(Metrics, ConcurrentUpdatesAreNotLost) {
  Registry r;
  auto& fam = r.counter("kaffa_c_total", "C.", {"t"});
  auto& hist = r.histogram("kaffa_h_seconds", "H.");
  std::vector<std::thread> threads;
  for (int i = 0; i < 4; ++i) {
    threads.emplace_back([&] {
      Counter& c = fam.with({"x"});
      Histogram& h = hist.with({});
      for (int j = 0; j < 10000; ++j) {
        c.inc();
        h.observe(0.001);
      }
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(fam.with({"x"}).value(), 40000u);
  const auto s = hist.with({}).snapshot();
  EXPECT_EQ(s.count, 40000u);
  EXPECT_NEAR(s.sum, 40.0, 1e-6);
}

}  // namespace
}  // namespace kaffa::metrics
