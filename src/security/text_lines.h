// Line and field splitting and the framing shared by the text stores (SCRAM credentials, ACLs,
// the broker's dynamic TLS settings): "<header>\n<count>\n" then exactly <count> record lines.
#pragma once

#include <charconv>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace kaffa::security {

// Splits `s` at every `sep`; n separators give n + 1 parts (empty ones included).
inline std::vector<std::string_view> split(std::string_view s, char sep) {
  std::vector<std::string_view> out;
  size_t pos = 0;
  while (true) {
    const auto at = s.find(sep, pos);
    out.push_back(s.substr(pos, at == s.npos ? s.npos : at - pos));
    if (at == s.npos) return out;
    pos = at + 1;
  }
}

// The text of a store: header, record count, then the records (each ending in '\n').
inline std::string counted_text(std::string_view header, size_t count, std::string_view records) {
  return std::string(header) + "\n" + std::to_string(count) + "\n" + std::string(records);
}

// The lines of a store's text once its framing is checked (records start at index 2): nullopt
// with *why "not a complete file", "bad header" or "bad count".
inline std::optional<std::vector<std::string_view>> counted_lines(std::string_view text,
                                                                  std::string_view header,
                                                                  std::string* why) {
  auto fail = [&](const char* what) -> std::optional<std::vector<std::string_view>> {
    if (why != nullptr) *why = what;
    return std::nullopt;
  };
  if (text.empty() || text.back() != '\n') return fail("not a complete file");
  auto lines = split(text.substr(0, text.size() - 1), '\n');
  if (lines.size() < 2 || lines[0] != header) return fail("bad header");
  size_t count = 0;
  const auto r = std::from_chars(lines[1].data(), lines[1].data() + lines[1].size(), count);
  if (r.ec != std::errc() || r.ptr != lines[1].data() + lines[1].size() ||
      count != lines.size() - 2) {
    return fail("bad count");
  }
  return lines;
}

}  // namespace kaffa::security
