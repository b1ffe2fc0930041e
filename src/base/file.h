// Whole small files (configuration, checkpoints, key sets) read into memory.
//
// Threading: none; safe from any thread.
#pragma once

#include <filesystem>
#include <optional>
#include <string>

namespace kaffa::file {

// The bytes of `path`; nullopt when it is a directory, cannot be opened or a read fails.
std::optional<std::string> read_all(const std::filesystem::path& path);

}  // namespace kaffa::file
