// Checkpoint files: small text files Kafka keeps beside the logs, in Kafka's own formats.
//
// OffsetCheckpointFile — `<log.dir>/recovery-point-offset-checkpoint`,
// `replication-offset-checkpoint`, `log-start-offset-checkpoint`:
//
//   0                            version, always 0
//   <count>                      number of entry lines that follow
//   <topic> <partition> <offset> one line per partition, single spaces, '\n' after every line
//
// LeaderEpochCheckpoint — `<partition dir>/leader-epoch-checkpoint`:
//
//   0
//   <count>
//   <epoch> <start offset>       one line per leader epoch, ascending
//
// Writes are atomic: the text goes to `<file>.tmp`, which is fdatasync'ed, renamed over the file,
// and the directory is fsync'ed; a crash leaves either the old or the new file, never a torn one.
// On any failure the .tmp file is removed. Reading is strict: a wrong version, a count that does
// not match the lines, a malformed number or trailing garbage is an error (the caller then falls
// back to what it would do without the file, e.g. a full recovery scan).
//
// Threading: no shared state; one writer per file at a time (the caller's contract).
#pragma once

#include <cstdint>
#include <filesystem>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace kaffa::storage {

// Atomically replaces `path` with `content` (tmp, fdatasync, rename, fsync of the directory).
// Without `sync` only the rename is atomic: after a crash the file may be old, new, or torn (the
// caller must detect a torn one, e.g. by a checksum).
bool write_file_atomically(const std::filesystem::path& path, std::string_view content,
                           std::string* error, bool sync = true);

class OffsetCheckpointFile {
 public:
  using Offsets = std::map<std::pair<std::string, int32_t>, int64_t>;

  explicit OffsetCheckpointFile(std::filesystem::path path) : path_(std::move(path)) {}

  bool write(const Offsets& offsets, std::string* error) const;
  // nullopt with *error when the file is missing, unreadable or malformed.
  std::optional<Offsets> read(std::string* error) const;
  const std::filesystem::path& path() const { return path_; }

 private:
  std::filesystem::path path_;
};

class LeaderEpochCheckpoint {
 public:
  using Entries = std::vector<std::pair<int32_t, int64_t>>;  // (epoch, start offset)

  explicit LeaderEpochCheckpoint(std::filesystem::path path) : path_(std::move(path)) {}

  // `sync` as for write_file_atomically.
  bool write(const Entries& entries, std::string* error, bool sync = true) const;
  std::optional<Entries> read(std::string* error) const;
  const std::filesystem::path& path() const { return path_; }

 private:
  std::filesystem::path path_;
};

}  // namespace kaffa::storage
