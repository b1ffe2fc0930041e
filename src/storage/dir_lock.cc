#include "storage/dir_lock.h"

#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

namespace kaffa::storage {

std::optional<DirectoryLock> DirectoryLock::take(const std::filesystem::path& dir,
                                                 std::string* error) {
  const auto file = dir / ".lock";
  const int fd = ::open(file.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
  if (fd < 0) {
    if (error) *error = "cannot open " + file.string() + ": " + std::strerror(errno);
    return std::nullopt;
  }
  if (::flock(fd, LOCK_EX | LOCK_NB) != 0) {
    const int err = errno;
    ::close(fd);
    if (error) {
      *error = err == EWOULDBLOCK
                   ? dir.string() + " is in use by another broker process (it holds " +
                         file.string() + ")"
                   : "cannot lock " + file.string() + ": " + std::strerror(err);
    }
    return std::nullopt;
  }
  return DirectoryLock(fd);
}

DirectoryLock::~DirectoryLock() {
  if (fd_ >= 0) ::close(fd_);
}

}  // namespace kaffa::storage
