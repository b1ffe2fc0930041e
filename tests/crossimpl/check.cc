// kaffa_crossimpl_check: decodes message bodies that other Kafka client libraries encoded and
// requires Kaffa's generated code to re-encode them to identical bytes.
//
// Usage: kaffa_crossimpl_check [--min N] DIR...
//
// Every regular file named <key>_<version>_<request|response>_<n>.bin below each DIR (searched
// recursively) is a vector. A file whose name does not fit that pattern is an error too, so a
// generator that writes something unexpected cannot go unnoticed. Prints one line per failure,
// then `crossimpl: N vectors, M failed`; exits non-zero if any failed or fewer than N vectors
// were found.

#include <algorithm>
#include <charconv>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <optional>
#include <sstream>
#include <string>
#include <string_view>
#include <vector>

#include "protocol/api_table.h"

namespace {

namespace fs = std::filesystem;

struct VectorName {
  int16_t key = 0;
  int16_t version = 0;
  bool response = false;
};

std::optional<int16_t> parse_int16(std::string_view s) {
  int v = 0;
  auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (ec != std::errc() || p != s.data() + s.size() || s.empty() || v < 0 || v > INT16_MAX) {
    return std::nullopt;
  }
  return static_cast<int16_t>(v);
}

// "<key>_<version>_<request|response>_<n>.bin"
std::optional<VectorName> parse_name(std::string_view name) {
  constexpr std::string_view kExt = ".bin";
  if (name.size() <= kExt.size() || !name.ends_with(kExt)) return std::nullopt;
  name.remove_suffix(kExt.size());
  std::vector<std::string_view> parts;
  while (true) {
    size_t pos = name.find('_');
    parts.push_back(name.substr(0, pos));
    if (pos == std::string_view::npos) break;
    name.remove_prefix(pos + 1);
  }
  if (parts.size() != 4) return std::nullopt;
  auto key = parse_int16(parts[0]);
  auto version = parse_int16(parts[1]);
  auto n = parse_int16(parts[3]);
  if (!key || !version || !n) return std::nullopt;
  if (parts[2] != "request" && parts[2] != "response") return std::nullopt;
  return VectorName{*key, *version, parts[2] == "response"};
}

bool read_file(const fs::path& path, std::string& out) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return false;
  out.assign(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
  return !in.bad();
}

int usage() {
  std::fprintf(stderr, "usage: kaffa_crossimpl_check [--min N] DIR...\n");
  return 2;
}

}  // namespace

int main(int argc, char** argv) {
  long min_vectors = 0;
  std::vector<fs::path> dirs;
  for (int i = 1; i < argc; ++i) {
    std::string_view arg = argv[i];
    if (arg == "--min") {
      if (i + 1 >= argc) return usage();
      char* end = nullptr;
      min_vectors = std::strtol(argv[++i], &end, 10);
      if (end == argv[i] || *end != '\0' || min_vectors < 0) return usage();
    } else if (arg.starts_with("-")) {
      return usage();
    } else {
      dirs.emplace_back(arg);
    }
  }
  if (dirs.empty()) return usage();

  std::vector<fs::path> files;
  long failed = 0;
  for (const auto& dir : dirs) {
    std::error_code ec;
    if (!fs::is_directory(dir, ec)) {
      std::printf("%s: not a directory\n", dir.c_str());
      ++failed;
      continue;
    }
    for (auto it = fs::recursive_directory_iterator(dir, ec); !ec && it != fs::end(it);
         it.increment(ec)) {
      if (it->is_regular_file()) files.push_back(it->path());
    }
    if (ec) {
      std::printf("%s: %s\n", dir.c_str(), ec.message().c_str());
      ++failed;
    }
  }
  std::sort(files.begin(), files.end());

  long vectors = 0;
  std::string in, out, error;
  for (const auto& path : files) {
    auto name = parse_name(path.filename().string());
    if (!name) {
      std::printf("%s: file name is not <key>_<version>_<request|response>_<n>.bin\n",
                  path.c_str());
      ++failed;
      continue;
    }
    ++vectors;
    if (!read_file(path, in)) {
      std::printf("%s: cannot read\n", path.c_str());
      ++failed;
      continue;
    }
    out.clear();
    error.clear();
    if (!kaffa::protocol::roundtrip_body(name->key, name->response, name->version, in, out,
                                         error)) {
      std::printf("%s: decode failed: %s\n", path.c_str(), error.c_str());
      ++failed;
      continue;
    }
    if (out != in) {
      size_t i = 0;
      while (i < in.size() && i < out.size() && in[i] == out[i]) ++i;
      std::printf("%s: re-encoded bytes differ at offset %zu (input %zu bytes, output %zu bytes)\n",
                  path.c_str(), i, in.size(), out.size());
      ++failed;
    }
  }

  std::printf("crossimpl: %ld vectors, %ld failed\n", vectors, failed);
  if (vectors < min_vectors) {
    std::printf("crossimpl: expected at least %ld vectors, found %ld\n", min_vectors, vectors);
    return 1;
  }
  return failed == 0 ? 0 : 1;
}
