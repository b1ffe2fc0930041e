// DirectoryLock: the exclusive claim of one broker process on a log directory, Kafka's `.lock`
// file (an advisory flock(2) on <dir>/.lock, held for the life of the object). A second broker
// started on the same directory fails to take it and must not start: two writers would interleave
// their appends in the same segment files.
//
// Threading: none; take() at start-up, the lock is released when the object is destroyed or the
// process exits (the kernel drops the flock with the last descriptor, also after kill -9).
#pragma once

#include <filesystem>
#include <optional>
#include <string>

namespace kaffa::storage {

class DirectoryLock {
 public:
  // Creates <dir>/.lock if needed and locks it without waiting. nullopt with *error when another
  // process holds it or the file cannot be opened.
  static std::optional<DirectoryLock> take(const std::filesystem::path& dir, std::string* error);

  DirectoryLock(DirectoryLock&& other) noexcept : fd_(other.fd_) { other.fd_ = -1; }
  DirectoryLock& operator=(DirectoryLock&&) = delete;
  DirectoryLock(const DirectoryLock&) = delete;
  ~DirectoryLock();

 private:
  explicit DirectoryLock(int fd) : fd_(fd) {}
  int fd_;
};

}  // namespace kaffa::storage
