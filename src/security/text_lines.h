// Line and field splitting shared by security's text stores (SCRAM credentials, ACLs).
#pragma once

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

}  // namespace kaffa::security
