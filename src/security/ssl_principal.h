// Kafka's ssl.principal.mapping.rules: how the subject of a client certificate (RFC 2253,
// "CN=alice,OU=Eng,O=Acme") becomes a user name.
//
//   rules   := rule ("," rule)*
//   rule    := "DEFAULT" | "RULE:" pattern "/" replacement "/" ["L" | "U"]
//
// Rules are tried in order; the first whose pattern matches the whole subject gives the name:
// the subject with the pattern replaced by `replacement` ($1.. name groups), then lower- or
// upper-cased with L/U. DEFAULT gives the subject unchanged. "/" inside a pattern or replacement
// is written "\/". No rule matching is an error (Kafka then fails the authentication).
//
// Immutable once parsed; apply() may be called from any thread.
#pragma once

#include <memory>
#include <optional>
#include <string>

namespace kaffa::security {

class SslPrincipalMapper {
 public:
  // Null on a malformed rule list (`error` says which part).
  static std::optional<SslPrincipalMapper> parse(const std::string& rules, std::string* error);
  // The user name for a subject; nullopt when no rule applies.
  std::optional<std::string> apply(const std::string& subject) const;

 private:
  struct Rules;  // ssl_principal.cc (keeps <regex> out of this header)
  std::shared_ptr<const Rules> rules_;
};

}  // namespace kaffa::security
