#include "coordinator/group_coordinator.h"

#include <gtest/gtest.h>

namespace kaffa::coordinator {
namespace {

TEST(GroupCoordinator, JavaStringHashMatchesJava) {
  // Values of java.lang.String#hashCode.
  EXPECT_EQ(java_string_hash("test"), 3556498);
  EXPECT_EQ(java_string_hash("my-group"), -1906497762);
  EXPECT_EQ(java_string_hash("console-consumer-12345"), 158455506);
  EXPECT_EQ(java_string_hash("gr\xc3\xbcppe"), -1233264812);   // two-byte UTF-8
  EXPECT_EQ(java_string_hash("\xf0\x9f\x98\x80x"), 54959989);  // a surrogate pair
  EXPECT_EQ(java_string_hash(""), 0);
}

}  // namespace
}  // namespace kaffa::coordinator
