// Kafka's JAAS configuration text for PLAIN: `<LoginModule> <flag> key="value" ... ;`.
#include <cctype>

#include "security/sasl.h"

namespace kaffa::security {
namespace {

bool is_space(char c) {
  return std::isspace(static_cast<unsigned char>(c)) != 0;
}

}  // namespace

std::optional<PlainUsers> parse_plain_jaas(std::string_view text, std::string* error) {
  auto fail = [&](std::string why) -> std::optional<PlainUsers> {
    if (error) *error = "sasl.jaas.config: " + std::move(why);
    return std::nullopt;
  };
  size_t pos = 0;
  auto skip = [&] {
    while (pos < text.size() && is_space(text[pos])) ++pos;
  };
  auto word = [&] {
    skip();
    const size_t start = pos;
    while (pos < text.size() && !is_space(text[pos]) && text[pos] != '=' && text[pos] != ';') ++pos;
    return text.substr(start, pos - start);
  };
  if (word().empty()) return fail("expected a login module class name");
  const auto flag = word();
  if (flag != "required" && flag != "optional" && flag != "requisite" && flag != "sufficient") {
    return fail("expected required, optional, requisite or sufficient after the module name");
  }
  PlainUsers users;
  while (true) {
    skip();
    if (pos < text.size() && text[pos] == ';') {
      ++pos;
      skip();
      if (pos != text.size()) return fail("text after the closing ';'");
      return users;
    }
    const auto key = word();
    if (key.empty() || pos >= text.size() || text[pos] != '=') {
      return fail("expected key=\"value\" or ';'");
    }
    ++pos;
    if (pos >= text.size() || text[pos] != '"')
      return fail("value of " + std::string(key) + " must be quoted");
    ++pos;
    std::string value;
    while (pos < text.size() && text[pos] != '"') {
      if (text[pos] == '\\' && pos + 1 < text.size()) ++pos;
      value.push_back(text[pos++]);
    }
    if (pos >= text.size()) return fail("unterminated value of " + std::string(key));
    ++pos;
    if (key.starts_with("user_")) {
      const auto name = key.substr(5);
      if (name.empty()) return fail("user_ entry without a user name");
      users[std::string(name)] = std::move(value);
    }
  }
}

}  // namespace kaffa::security
