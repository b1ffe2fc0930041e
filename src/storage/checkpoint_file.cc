#include "storage/checkpoint_file.h"

#include <charconv>
#include <cstdio>
#include <system_error>

#include "base/file.h"
#include "storage/segment_file.h"

namespace kaffa::storage {

namespace {

void set(std::string* error, std::string message) {
  if (error != nullptr) *error = std::move(message);
}

template <class T>
bool parse_number(std::string_view s, T* out) {
  if (s.empty()) return false;
  const auto r = std::from_chars(s.data(), s.data() + s.size(), *out);
  return r.ec == std::errc() && r.ptr == s.data() + s.size();
}

// Splits the file into lines, each terminated by '\n'. False if the last line is unterminated.
bool split_lines(std::string_view text, std::vector<std::string_view>* lines) {
  while (!text.empty()) {
    const size_t nl = text.find('\n');
    if (nl == std::string_view::npos) return false;
    lines->push_back(text.substr(0, nl));
    text.remove_prefix(nl + 1);
  }
  return true;
}

std::vector<std::string_view> split_fields(std::string_view line) {
  std::vector<std::string_view> fields;
  size_t start = 0;
  while (true) {
    const size_t sp = line.find(' ', start);
    fields.push_back(line.substr(start, sp == std::string_view::npos ? sp : sp - start));
    if (sp == std::string_view::npos) break;
    start = sp + 1;
  }
  return fields;
}

// Reads the whole file and checks the "0\n<count>\n" header; returns the entry lines.
std::optional<std::vector<std::string_view>> read_entries(const std::filesystem::path& path,
                                                          std::string* storage,
                                                          std::string* error) {
  auto text = file::read_all(path);
  if (!text) {
    set(error, "cannot read " + path.string());
    return std::nullopt;
  }
  *storage = std::move(*text);
  std::vector<std::string_view> lines;
  int64_t count = -1;
  if (!split_lines(*storage, &lines) || lines.size() < 2 || lines[0] != "0" ||
      !parse_number(lines[1], &count) || count < 0 ||
      static_cast<size_t>(count) != lines.size() - 2) {
    set(error, "malformed checkpoint file " + path.string());
    return std::nullopt;
  }
  lines.erase(lines.begin(), lines.begin() + 2);
  return lines;
}

}  // namespace

bool write_file_atomically(const std::filesystem::path& path, std::string_view content,
                           std::string* error, bool sync) {
  std::filesystem::path tmp = path;
  tmp += ".tmp";
  std::error_code ec;
  bool ok = false;
  {
    auto file = SegmentFile::open(tmp, SegmentFile::Mode::create, error);
    ok = file && file->truncate(0, error) &&
         file->write_at(content.data(), content.size(), 0, error);
    if (ok && sync && !file->sync()) {
      set(error, "fdatasync failed on " + tmp.string());
      ok = false;
    }
  }
  if (ok) {
    std::filesystem::rename(tmp, path, ec);
    if (ec) {
      set(error, "cannot rename " + tmp.string() + ": " + ec.message());
      ok = false;
    }
  }
  if (!ok) {
    std::filesystem::remove(tmp, ec);
    return false;
  }
  if (!sync) return true;
  const auto dir = path.has_parent_path() ? path.parent_path() : std::filesystem::path(".");
  return sync_directory(dir, error);
}

bool OffsetCheckpointFile::write(const Offsets& offsets, std::string* error) const {
  std::string text = "0\n" + std::to_string(offsets.size()) + "\n";
  for (const auto& [tp, offset] : offsets) {
    if (tp.first.empty() || tp.first.find_first_of(" \n") != std::string::npos) {
      set(error, "invalid topic name in checkpoint: '" + tp.first + "'");
      return false;
    }
    text += tp.first + " " + std::to_string(tp.second) + " " + std::to_string(offset) + "\n";
  }
  return write_file_atomically(path_, text, error);
}

std::optional<OffsetCheckpointFile::Offsets> OffsetCheckpointFile::read(std::string* error) const {
  std::string storage;
  auto lines = read_entries(path_, &storage, error);
  if (!lines) return std::nullopt;
  Offsets out;
  for (const auto line : *lines) {
    const auto f = split_fields(line);
    int32_t partition;
    int64_t offset;
    if (f.size() != 3 || f[0].empty() || !parse_number(f[1], &partition) || partition < 0 ||
        !parse_number(f[2], &offset) ||
        !out.emplace(std::make_pair(std::string(f[0]), partition), offset).second) {
      set(error, "malformed line in " + path_.string() + ": '" + std::string(line) + "'");
      return std::nullopt;
    }
  }
  return out;
}

bool LeaderEpochCheckpoint::write(const Entries& entries, std::string* error, bool sync) const {
  std::string text = "0\n" + std::to_string(entries.size()) + "\n";
  for (const auto& [epoch, start] : entries) {
    text += std::to_string(epoch) + " " + std::to_string(start) + "\n";
  }
  return write_file_atomically(path_, text, error, sync);
}

std::optional<LeaderEpochCheckpoint::Entries> LeaderEpochCheckpoint::read(
    std::string* error) const {
  std::string storage;
  auto lines = read_entries(path_, &storage, error);
  if (!lines) return std::nullopt;
  Entries out;
  for (const auto line : *lines) {
    const auto f = split_fields(line);
    int32_t epoch;
    int64_t start;
    if (f.size() != 2 || !parse_number(f[0], &epoch) || !parse_number(f[1], &start)) {
      set(error, "malformed line in " + path_.string() + ": '" + std::string(line) + "'");
      return std::nullopt;
    }
    out.emplace_back(epoch, start);
  }
  return out;
}

}  // namespace kaffa::storage
