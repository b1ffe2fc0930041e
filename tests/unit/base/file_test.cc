// file::read_all: a file's exact bytes (binary ones and an empty file included), nothing for a
// file that is not there or a directory.
#include "base/file.h"

#include <gtest/gtest.h>

#include <fstream>

#include "cluster/storage_dir.h"

namespace kaffa::file {
namespace {

TEST(ReadAll, ReturnsTheExactBytesOrNothing) {
  cluster::testing::TempDir dir;
  const std::string bytes("a\0b\r\n\xff", 6);
  std::ofstream(dir.path() / "f", std::ios::binary) << bytes;
  std::ofstream(dir.path() / "empty").flush();
  EXPECT_EQ(read_all(dir.path() / "f"), bytes);
  EXPECT_EQ(read_all(dir.path() / "empty"), "");
  EXPECT_EQ(read_all(dir.path() / "missing"), std::nullopt);
  EXPECT_EQ(read_all(dir.path()), std::nullopt);  // a directory: not an empty file
}

TEST(Space, OfAnExistingPathOnly) {
  cluster::testing::TempDir dir;
  const auto s = space_of(dir.path());
  ASSERT_TRUE(s);
  EXPECT_GT(s->total_bytes, 0);
  EXPECT_GE(s->usable_bytes, 0);
  EXPECT_LE(s->usable_bytes, s->total_bytes);
  EXPECT_FALSE(space_of(dir.path() / "missing"));
}

}  // namespace
}  // namespace kaffa::file
