#include "base/file.h"

#include <sys/statvfs.h>
#include <unistd.h>

#include <cerrno>
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

ssize_t read_at(int fd, void* buf, size_t n, int64_t offset) {
  auto* out = static_cast<char*>(buf);
  size_t done = 0;
  while (done < n) {
    const ssize_t r =
        ::pread(fd, out + done, n - done, static_cast<off_t>(offset) + static_cast<off_t>(done));
    if (r < 0) {
      if (errno == EINTR) continue;
      return -1;
    }
    if (r == 0) break;
    done += static_cast<size_t>(r);
  }
  return static_cast<ssize_t>(done);
}

std::optional<Space> space_of(const std::filesystem::path& path) {
  struct statvfs fs {};
  if (::statvfs(path.c_str(), &fs) != 0) return std::nullopt;
  const auto unit = static_cast<int64_t>(fs.f_frsize);
  return Space{static_cast<int64_t>(fs.f_blocks) * unit, static_cast<int64_t>(fs.f_bavail) * unit};
}

}  // namespace kaffa::file
