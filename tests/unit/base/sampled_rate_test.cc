#include "base/sampled_rate.h"

#include <gtest/gtest.h>

namespace kaffa {
namespace {

TEST(SampledRate, MeasuresOverAtLeastAllButOneWindow) {
  SampledRate r(11, 1000);
  r.record(10000, 0);
  int64_t elapsed = 0;
  // A first burst is spread over 10 windows, not over the 0 ms since it came.
  EXPECT_DOUBLE_EQ(r.rate(0, &elapsed), 1000.0);
  EXPECT_EQ(elapsed, 10000);
  r.record(10000, 500);  // the same window
  EXPECT_DOUBLE_EQ(r.rate(500), 2000.0);
}

TEST(SampledRate, OldWindowsLeaveTheMeasure) {
  SampledRate r(3, 1000);
  r.record(3000, 0);
  r.record(1000, 1000);                    // a second window
  EXPECT_DOUBLE_EQ(r.rate(1000), 2000.0);  // 4000 bytes over max(1000, 2 windows) ms
  // At 3000 ms the first window is older than the 3 s span: only the second counts.
  EXPECT_DOUBLE_EQ(r.rate(3000), 500.0);
  EXPECT_DOUBLE_EQ(r.rate(10000), 0.0);
  // Recording recycles the oldest window.
  r.record(2000, 10000);
  r.record(2000, 11000);
  r.record(2000, 12000);
  EXPECT_DOUBLE_EQ(r.rate(12000), 3000.0);  // 6000 bytes over 2000 ms
}

TEST(SampledRate, WindowBytes) {
  EXPECT_EQ(SampledRate::window_bytes(11, 1000, 1024), 10240);
  EXPECT_EQ(SampledRate::window_bytes(2, 500, 1000), 500);
}

}  // namespace
}  // namespace kaffa
