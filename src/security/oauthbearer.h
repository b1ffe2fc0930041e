// SASL/OAUTHBEARER (RFC 7628) as Kafka's broker serves it (KIP-255, KIP-768).
//
// The client's one message is `n,[a=<authzid>],` ^A `auth=Bearer <token>` ^A [key=value ^A]... ^A
// (^A is 0x01; other keys are SASL extensions, accepted and not used). The token is a JWT
// (jwt.h), checked by one of Kafka's two validators:
//   - unsecured (Kafka's default, for development): the header's alg must be "none" and the
//     signature empty; the principal claim (default "sub") must be a string; "exp" must be present
//     and not past, "iat" (if present) not in the future, both allowing a clock skew (default 0);
//     every required scope must be in the scope claim (a space-separated string or a list).
//     Options from the listener's JAAS text: unsecuredValidatorPrincipalClaimName,
//     unsecuredValidatorScopeClaimName, unsecuredValidatorRequiredScope (space-separated),
//     unsecuredValidatorAllowableClockSkewMs.
//   - signed (OAuthBearerValidatorCallbackHandler, sasl.oauthbearer.* settings): the signature
//     must verify with a key of the JWKS (jwks.endpoint.url, a file: URL), alg "none" refused;
//     "exp" and "iat" required, "nbf" honoured, with sasl.oauthbearer.clock.skew.seconds; the
//     audience must include one of sasl.oauthbearer.expected.audience (when set), the issuer be
//     sasl.oauthbearer.expected.issuer (when set); the principal is the string claim
//     sasl.oauthbearer.sub.claim.name.
// A token that fails is answered, as Kafka does, with the challenge {"status":"invalid_token"}
// ({"status":"insufficient_scope", "scope":"<required>"} for a missing scope); the client then
// sends ^A alone and the exchange fails with that text. A success answers an empty token and the
// principal is User:<claim>; an authzid other than that name fails.
//
// Threading: an OAuthBearerConfig is immutable and shared; a mechanism serves one connection.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "security/jwt.h"
#include "security/sasl.h"

namespace kaffa::security {

inline constexpr std::string_view kOAuthBearer = "OAUTHBEARER";

struct OAuthBearerConfig {
  // Signed tokens checked against these keys; null: Kafka's unsecured validator.
  std::shared_ptr<const jwt::KeySet> keys;
  std::string principal_claim = "sub";
  std::string scope_claim = "scope";
  std::vector<std::string> required_scopes;    // unsecured only
  std::vector<std::string> expected_audience;  // signed only; empty: not checked
  std::optional<std::string> expected_issuer;  // signed only
  int64_t clock_skew_ms = 0;
  std::function<int64_t()> now_ms;  // wall clock in ms; null: the system clock

  // The unsecured validator's options from a JAAS text's options (parse_jaas_options); nullopt
  // with *error for a bad number.
  static std::optional<OAuthBearerConfig> unsecured(const std::map<std::string, std::string>& jaas,
                                                    std::string* error);
};

std::unique_ptr<SaslMechanism> make_oauthbearer(std::shared_ptr<const OAuthBearerConfig> config);

}  // namespace kaffa::security
