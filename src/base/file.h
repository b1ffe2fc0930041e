// Whole small files (configuration, checkpoints, key sets) read into memory.
//
// Threading: none; safe from any thread.
#pragma once

#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>

namespace kaffa::file {

// The bytes of `path`; nullopt when it is a directory, cannot be opened or a read fails.
std::optional<std::string> read_all(const std::filesystem::path& path);

// The size of the file system holding `path` and the bytes still usable there by an unprivileged
// writer (statvfs); nullopt when it cannot be asked.
struct Space {
  int64_t total_bytes;
  int64_t usable_bytes;
};
std::optional<Space> space_of(const std::filesystem::path& path);

}  // namespace kaffa::file
