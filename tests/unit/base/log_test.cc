// log::RepeatedWarning: a repeating warning is logged once per interval with its count.
#include "base/log.h"

#include <gtest/gtest.h>

namespace kaffa::log {
namespace {

// The lines logged while fn runs (stderr).
template <class F>
std::vector<std::string> logged(F fn) {
  testing::internal::CaptureStderr();
  fn();
  const std::string text = testing::internal::GetCapturedStderr();
  std::vector<std::string> lines;
  size_t start = 0;
  for (size_t end; (end = text.find('\n', start)) != std::string::npos; start = end + 1) {
    lines.push_back(text.substr(start, end - start));
  }
  return lines;
}

bool ends_with(const std::string& s, std::string_view tail) {
  return s.size() >= tail.size() && s.compare(s.size() - tail.size(), tail.size(), tail) == 0;
}

TEST(RepeatedWarning, SameTextIsLoggedOncePerIntervalWithItsCount) {
  RepeatedWarning w(1000);
  const auto lines = logged([&w] {
    w.warn("leader 2: refused", 0);
    w.warn("leader 2: refused", 200);
    w.warn("leader 2: refused", 999);
    w.warn("leader 2: refused", 1000);    // the interval is over
    w.warn("leader 2: timed out", 1100);  // another text: at once
    w.clear("connected to leader 2");
    w.clear("connected to leader 2");     // nothing was logged since
    w.warn("leader 2: timed out", 1200);  // a new episode: at once
  });
  ASSERT_EQ(lines.size(), 5u);
  EXPECT_NE(lines[0].find(" warning ["), std::string::npos) << lines[0];
  EXPECT_TRUE(ends_with(lines[0], "] leader 2: refused")) << lines[0];
  EXPECT_TRUE(ends_with(lines[1], "] leader 2: refused (again 2 times in the last 1 s)"))
      << lines[1];
  EXPECT_TRUE(ends_with(lines[2], "] leader 2: timed out")) << lines[2];
  EXPECT_NE(lines[3].find(" info ["), std::string::npos) << lines[3];
  EXPECT_TRUE(ends_with(lines[3], "] connected to leader 2")) << lines[3];
  EXPECT_TRUE(ends_with(lines[4], "] leader 2: timed out")) << lines[4];
}

}  // namespace
}  // namespace kaffa::log
