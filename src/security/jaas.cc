// Kafka's JAAS configuration text: `<LoginModule> <flag> key="value" ... ;`.
#include <cctype>

#include "security/sasl.h"

namespace kaffa::security {
namespace {

bool is_space(char c) {
  return std::isspace(static_cast<unsigned char>(c)) != 0;
}

}  // namespace

std::optional<std::map<std::string, std::string>> parse_jaas_options(std::string_view text,
                                                                     std::string* error) {
  auto fail = [&](std::string why) -> std::optional<std::map<std::string, std::string>> {
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
  std::map<std::string, std::string> options;
  while (true) {
    skip();
    if (pos < text.size() && text[pos] == ';') {
      ++pos;
      skip();
      if (pos != text.size()) return fail("text after the closing ';'");
      return options;
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
    options[std::string(key)] = std::move(value);
  }
}

std::optional<PlainUsers> parse_plain_jaas(std::string_view text, std::string* error) {
  auto options = parse_jaas_options(text, error);
  if (!options) return std::nullopt;
  PlainUsers users;
  for (auto& [key, value] : *options) {
    if (!key.starts_with("user_")) continue;
    if (key.size() == 5) {
      if (error) *error = "sasl.jaas.config: user_ entry without a user name";
      return std::nullopt;
    }
    users[key.substr(5)] = std::move(value);
  }
  return users;
}

}  // namespace kaffa::security
