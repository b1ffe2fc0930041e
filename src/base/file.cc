#include "base/file.h"

#include <sys/statvfs.h>

#include <fstream>
#include <sstream>

namespace kaffa::file {

std::optional<std::string> read_all(const std::filesystem::path& path) {
  std::error_code ec;
  if (std::filesystem::is_directory(path, ec)) return std::nullopt;  // ifstream would open it
  std::ifstream in(path, std::ios::binary);
  if (!in) return std::nullopt;
  std::ostringstream out;
  out << in.rdbuf();  // an empty file sets only out's failbit
  if (in.bad()) return std::nullopt;
  return std::move(out).str();
}

std::optional<Space> space_of(const std::filesystem::path& path) {
  struct statvfs fs {};
  if (::statvfs(path.c_str(), &fs) != 0) return std::nullopt;
  const auto unit = static_cast<int64_t>(fs.f_frsize);
  return Space{static_cast<int64_t>(fs.f_blocks) * unit, static_cast<int64_t>(fs.f_bavail) * unit};
}

}  // namespace kaffa::file
