#include "storage/checkpoint_file.h"

#include <gtest/gtest.h>

#include <fstream>

#include "storage_testing.h"

namespace kaffa::storage {
namespace {

namespace fs = std::filesystem;
using testing::TempDir;

void write_text(const fs::path& p, const std::string& text) {
  std::ofstream(p, std::ios::binary) << text;
}

std::string read_text(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), {});
}

TEST(OffsetCheckpointFile, RoundTripInKafkaFormat) {
  TempDir tmp;
  OffsetCheckpointFile file(tmp.path() / "recovery-point-offset-checkpoint");
  OffsetCheckpointFile::Offsets offsets{
      {{"orders", 0}, 42}, {{"orders", 1}, 0}, {{"__consumer_offsets", 17}, 123456789012}};
  std::string error;
  ASSERT_TRUE(file.write(offsets, &error)) << error;
  EXPECT_EQ(read_text(file.path()),
            "0\n3\n__consumer_offsets 17 123456789012\norders 0 42\norders 1 0\n");
  EXPECT_FALSE(fs::exists(tmp.path() / "recovery-point-offset-checkpoint.tmp"));
  const auto back = file.read(&error);
  ASSERT_TRUE(back.has_value()) << error;
  EXPECT_EQ(*back, offsets);
  // Overwrite with fewer entries; still atomic, no tmp left.
  ASSERT_TRUE(file.write({}, &error));
  EXPECT_EQ(read_text(file.path()), "0\n0\n");
  EXPECT_TRUE(file.read(&error)->empty());
  EXPECT_EQ(std::distance(fs::directory_iterator(tmp.path()), fs::directory_iterator()), 1);
}

TEST(OffsetCheckpointFile, MalformedFilesAreErrors) {
  TempDir tmp;
  const auto path = tmp.path() / "cp";
  OffsetCheckpointFile file(path);
  std::string error;
  EXPECT_FALSE(file.read(&error).has_value());  // missing
  for (const std::string bad :
       {"", "1\n0\n", "0\n2\nt 0 1\n", "0\n1\nt 0 1\nt 1 2\n", "0\n1\nt 0 1", "0\n1\nt 0\n",
        "0\n1\nt x 1\n", "0\n1\nt 0 1x\n", "0\n1\nt -1 5\n", "0\n2\nt 0 1\nt 0 2\n",
        "0\n1\nt  0 1\n", "0\n-1\n"}) {
    write_text(path, bad);
    error.clear();
    EXPECT_FALSE(file.read(&error).has_value()) << bad;
    EXPECT_FALSE(error.empty());
  }
  EXPECT_FALSE(file.write({{{"bad topic", 0}, 1}}, &error));
}

TEST(OffsetCheckpointFile, FailedWriteLeavesOldFileAndNoTmp) {
  TempDir tmp;
  const auto path = tmp.path() / "cp";
  OffsetCheckpointFile file(path);
  std::string error;
  ASSERT_TRUE(file.write({{{"t", 0}, 5}}, &error));
  // The rename target is a non-empty directory: the write must fail cleanly.
  fs::remove(path);
  fs::create_directory(path);
  write_text(path / "x", "x");
  EXPECT_FALSE(file.write({{{"t", 0}, 6}}, &error));
  EXPECT_FALSE(error.empty());
  EXPECT_FALSE(fs::exists(tmp.path() / "cp.tmp"));
}

TEST(LeaderEpochCheckpoint, RoundTrip) {
  TempDir tmp;
  LeaderEpochCheckpoint file(tmp.path() / "leader-epoch-checkpoint");
  const LeaderEpochCheckpoint::Entries entries{{0, 0}, {3, 120}, {7, 5000000000}};
  std::string error;
  ASSERT_TRUE(file.write(entries, &error)) << error;
  EXPECT_EQ(read_text(file.path()), "0\n3\n0 0\n3 120\n7 5000000000\n");
  EXPECT_FALSE(fs::exists(tmp.path() / "leader-epoch-checkpoint.tmp"));
  EXPECT_EQ(file.read(&error), entries);
  write_text(file.path(), "0\n1\n3 x\n");
  EXPECT_FALSE(file.read(&error).has_value());
}

}  // namespace
}  // namespace kaffa::storage
