// GCC 12 reports a false maybe-uninitialized inside std::regex's std::function at -O2 (clang,
// which builds this file for the fuzzers, has no such warning).
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#endif

#include "security/ssl_principal.h"

#include <cctype>
#include <regex>
#include <vector>

namespace kaffa::security {

struct SslPrincipalMapper::Rules {
  struct Rule {
    bool is_default = false;
    std::regex pattern;
    std::string replacement;
    char case_change = 0;  // 0, 'L' or 'U'
  };
  std::vector<Rule> list;
};

namespace {

void skip_space(const std::string& s, size_t& i) {
  while (i < s.size() && std::isspace(static_cast<unsigned char>(s[i]))) ++i;
}

// Reads up to the next unescaped '/', unescaping "\/"; false when there is none.
bool read_part(const std::string& s, size_t& i, std::string& out) {
  out.clear();
  for (; i < s.size(); ++i) {
    if (s[i] == '\\' && i + 1 < s.size() && s[i + 1] == '/') {
      out += '/';
      ++i;
    } else if (s[i] == '/') {
      ++i;
      return true;
    } else {
      out += s[i];
    }
  }
  return false;
}

}  // namespace

std::optional<SslPrincipalMapper> SslPrincipalMapper::parse(const std::string& rules,
                                                            std::string* error) {
  auto fail = [&](std::string why) {
    if (error != nullptr) *error = std::move(why);
    return std::nullopt;
  };
  auto rules_out = std::make_shared<Rules>();
  size_t i = 0;
  skip_space(rules, i);
  if (i == rules.size()) return fail("no rule given");
  while (i < rules.size()) {
    Rules::Rule rule;
    if (rules.compare(i, 7, "DEFAULT") == 0) {
      rule.is_default = true;
      i += 7;
    } else if (rules.compare(i, 5, "RULE:") == 0) {
      i += 5;
      std::string pattern;
      if (!read_part(rules, i, pattern) || !read_part(rules, i, rule.replacement)) {
        return fail("'" + rules.substr(i) + "' is not RULE:pattern/replacement/[LU]");
      }
      try {
        rule.pattern = std::regex(pattern, std::regex::ECMAScript);
      } catch (const std::regex_error& e) {
        return fail("invalid pattern '" + pattern + "': " + e.what());
      }
      if (i < rules.size() && (rules[i] == 'L' || rules[i] == 'U')) rule.case_change = rules[i++];
    } else {
      return fail("'" + rules.substr(i) + "' is neither DEFAULT nor RULE:pattern/replacement/[LU]");
    }
    rules_out->list.push_back(std::move(rule));
    skip_space(rules, i);
    if (i == rules.size()) break;
    if (rules[i] != ',') return fail("expected ',' before '" + rules.substr(i) + "'");
    ++i;
    skip_space(rules, i);
    if (i == rules.size()) return fail("a rule list may not end with ','");
  }
  SslPrincipalMapper out;
  out.rules_ = std::move(rules_out);
  return out;
}

std::optional<std::string> SslPrincipalMapper::apply(const std::string& subject) const {
  for (const Rules::Rule& rule : rules_->list) {
    if (rule.is_default) return subject;
    if (!std::regex_match(subject, rule.pattern)) continue;
    std::string name = std::regex_replace(subject, rule.pattern, rule.replacement);
    for (auto& ch : name) {
      const auto c = static_cast<unsigned char>(ch);
      if (rule.case_change == 'L') ch = static_cast<char>(std::tolower(c));
      if (rule.case_change == 'U') ch = static_cast<char>(std::toupper(c));
    }
    return name;
  }
  return std::nullopt;
}

}  // namespace kaffa::security
