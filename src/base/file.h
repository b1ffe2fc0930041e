// Whole small files (configuration, checkpoints, key sets) read into memory; positioned reads.
//
// Threading: none; safe from any thread.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>

namespace kaffa::file {

// The bytes of `path`; nullopt when it is a directory, cannot be opened or a read fails.
std::optional<std::string> read_all(const std::filesystem::path& path);

// pread of `n` bytes at `offset` into `buf`, repeated until all are read or the file ends
// (EINTR retried). The bytes read (fewer at the end of the file), or -1 on an error (errno kept).
ssize_t read_at(int fd, void* buf, size_t n, int64_t offset);

// The size of the file system holding `path` and the bytes still usable there by an unprivileged
// writer (statvfs); nullopt when it cannot be asked.
struct Space {
  int64_t total_bytes;
  int64_t usable_bytes;
};
std::optional<Space> space_of(const std::filesystem::path& path);

}  // namespace kaffa::file
