// SASL/OAUTHBEARER server (oauthbearer.h): the client's message, then the token's checks in the
// order of Kafka's validators, so that a client sees the same first failure.
#include "security/oauthbearer.h"

#include <algorithm>
#include <cctype>
#include <chrono>
#include <cmath>
#include <cstdlib>
#include <sstream>

namespace kaffa::security {
namespace {

constexpr char kSep = '\x01';

bool key_char(char c) {
  return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z');
}
bool value_char(char c) {
  return (c >= 0x21 && c <= 0x7e) || c == ' ' || c == '\t' || c == '\r' || c == '\n';
}
bool token_char(char c) {
  return key_char(c) || (c >= '0' && c <= '9') || c == '-' || c == '_' || c == '.';
}

struct ClientResponse {
  std::string authzid;
  std::string token;
};

// RFC 7628's client initial response as Kafka's OAuthBearerClientInitialResponse reads it.
std::optional<ClientResponse> parse_response(std::string_view in, std::string& why) {
  auto fail = [&](std::string w) -> std::optional<ClientResponse> {
    why = std::move(w);
    return std::nullopt;
  };
  if (!in.starts_with("n,")) return fail("no GS2 header 'n,'");
  in.remove_prefix(2);
  ClientResponse out;
  if (in.starts_with("a=")) {
    const auto comma = in.find(',');
    if (comma == std::string_view::npos) return fail("no ',' after the authorization id");
    out.authzid = std::string(in.substr(2, comma - 2));
    if (out.authzid.empty()) return fail("an empty authorization id");
    in.remove_prefix(comma);
  }
  if (!in.starts_with(",") || in.size() < 3 || in[1] != kSep || in.back() != kSep) {
    return fail("not framed by ^A");
  }
  in = in.substr(2, in.size() - 3);  // the pairs, each followed by ^A
  std::optional<std::string> auth;
  while (!in.empty()) {
    const auto end = in.find(kSep);
    if (end == std::string_view::npos) return fail("a pair without its ^A");
    const auto pair = in.substr(0, end);
    in.remove_prefix(end + 1);
    const auto eq = pair.find('=');
    if (eq == 0 || eq == std::string_view::npos || eq + 1 == pair.size()) {
      return fail("a malformed key=value pair");
    }
    const auto key = pair.substr(0, eq), value = pair.substr(eq + 1);
    for (char c : key) {
      if (!key_char(c)) return fail("a malformed key");
    }
    for (char c : value) {
      if (!value_char(c)) return fail("a malformed value");
    }
    if (key == "auth") auth = std::string(value);
  }
  if (!auth) return fail("no auth=Bearer <token>");
  const auto space = auth->find(' ');
  if (space == std::string::npos) return fail("auth is not '<scheme> <token>'");
  std::string scheme = auth->substr(0, space);
  for (char& c : scheme) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  if (scheme != "bearer") return fail("the auth scheme is not Bearer");
  const auto start = auth->find_first_not_of(' ', space);
  if (start == std::string::npos) return fail("an empty token");
  out.token = auth->substr(start);
  for (char c : out.token) {
    if (!token_char(c)) return fail("the token has characters outside [-_.a-zA-Z0-9]");
  }
  return out;
}

// A NumericDate claim (seconds, possibly fractional) in ms; nullopt when absent or not a number.
// Held within ±4e15 s (over 10^8 years), so that adding a clock skew cannot overflow.
std::optional<int64_t> time_claim(const json::Value& claims, std::string_view name) {
  const json::Value* v = claims.find(name);
  if (!v || v->number_text().empty()) return std::nullopt;
  char* end = nullptr;
  const double seconds = std::strtod(v->number_text().c_str(), &end);
  if (std::isnan(seconds)) return std::nullopt;
  return static_cast<int64_t>(std::clamp(seconds, -4e15, 4e15) * 1000);
}

std::vector<std::string> strings_of(const json::Value& v) {
  std::vector<std::string> out;
  if (v.is_string()) {
    std::istringstream words(v.as_string());
    for (std::string w; words >> w;) out.push_back(w);
  }
  for (const auto& item : v.items()) {
    if (item.is_string()) out.push_back(item.as_string());
  }
  return out;
}

struct Failure {
  std::string reason;                // for the broker's log
  std::optional<std::string> scope;  // a missing required scope (insufficient_scope)
};

class OAuthBearer final : public SaslMechanism {
 public:
  explicit OAuthBearer(std::shared_ptr<const OAuthBearerConfig> config)
      : config_(std::move(config)) {}
  std::string_view name() const override { return kOAuthBearer; }

  SaslStep step(std::string_view message) override {
    SaslStep out;
    if (message.size() == 1 && message[0] == kSep) {
      // The client's answer to our error challenge: the exchange fails with that challenge.
      out.error = error_ ? *error_ : "Authentication failed: unexpected ^A";
      out.detail = "OAUTHBEARER token rejected: " + reason_;
      return out;
    }
    if (done_) {
      out.error = "Authentication failed: OAUTHBEARER takes a single message";
      out.detail = "second OAUTHBEARER message";
      return out;
    }
    done_ = true;
    std::string why;
    auto response = parse_response(message, why);
    if (!response) {
      out.error = "Authentication failed: Invalid OAUTHBEARER client response: " + why;
      out.detail = "malformed OAUTHBEARER message: " + why;
      return out;
    }
    std::string principal;
    if (auto failure = validate(response->token, principal)) {
      reason_ = failure->reason;
      std::string json = failure->scope ? "{\"status\":\"insufficient_scope\", \"scope\":\"" +
                                              *failure->scope + "\"}"
                                        : "{\"status\":\"invalid_token\"}";
      error_ = json;
      out.state = SaslStep::State::challenge;
      out.token = std::move(json);
      return out;
    }
    if (!response->authzid.empty() && response->authzid != principal) {
      out.error = "Authentication failed: Client requested an authorization id (" +
                  response->authzid + ") that is different from the token's principal name (" +
                  principal + ")";
      out.detail = "OAUTHBEARER authorization id differs from the token's principal";
      return out;
    }
    out.state = SaslStep::State::done;
    out.principal = "User:" + principal;
    return out;
  }

 private:
  int64_t now() const {
    if (config_->now_ms) return config_->now_ms();
    return std::chrono::duration_cast<std::chrono::milliseconds>(
               std::chrono::system_clock::now().time_since_epoch())
        .count();
  }

  // Nothing when the token is good (principal set), else why not.
  std::optional<Failure> validate(const std::string& compact, std::string& principal) const {
    std::string why;
    auto token = jwt::decode(compact, &why);
    if (!token) return Failure{why};
    const bool signed_tokens = config_->keys != nullptr;
    if (!signed_tokens && (token->alg() != "none" || !token->signature.empty())) {
      return Failure{"an unsecured token must have alg none and no signature"};
    }
    if (signed_tokens && !config_->keys->verify(*token, &why)) return Failure{why};
    const json::Value& claims = token->claims;
    const json::Value* sub = claims.find(config_->principal_claim);
    if (!sub || !sub->is_string() || sub->as_string().empty()) {
      return Failure{"no string claim '" + config_->principal_claim + "'"};
    }
    const int64_t now_ms = now(), skew = config_->clock_skew_ms;
    const auto iat = time_claim(claims, "iat");
    if (signed_tokens && !iat) return Failure{"no iat claim"};
    if (iat && now_ms + skew < *iat) return Failure{"issued in the future"};
    const auto exp = time_claim(claims, "exp");
    if (!exp) return Failure{"no exp claim"};
    if (now_ms >= *exp + skew) return Failure{"expired"};
    if (iat && *exp <= *iat) return Failure{"exp is not after iat"};
    if (const auto nbf = time_claim(claims, "nbf"); signed_tokens && nbf && now_ms + skew < *nbf) {
      return Failure{"not valid yet (nbf)"};
    }
    if (signed_tokens && !config_->expected_audience.empty()) {
      bool found = false;
      for (const auto& a : strings_of(claims["aud"])) {
        for (const auto& want : config_->expected_audience) found = found || a == want;
      }
      if (!found) return Failure{"the audience is not one expected"};
    }
    if (signed_tokens && config_->expected_issuer &&
        claims["iss"].as_string() != *config_->expected_issuer) {
      return Failure{"the issuer is not the one expected"};
    }
    if (!config_->required_scopes.empty()) {
      const auto scopes = strings_of(claims[config_->scope_claim]);
      for (const auto& want : config_->required_scopes) {
        if (std::find(scopes.begin(), scopes.end(), want) == scopes.end()) {
          std::string all;
          for (const auto& s : config_->required_scopes) all += (all.empty() ? "" : " ") + s;
          return Failure{"scope '" + want + "' missing", all};
        }
      }
    }
    principal = sub->as_string();
    return std::nullopt;
  }

  std::shared_ptr<const OAuthBearerConfig> config_;
  bool done_ = false;
  std::optional<std::string> error_;  // the challenge sent for a rejected token
  std::string reason_;
};

}  // namespace

std::optional<OAuthBearerConfig> OAuthBearerConfig::unsecured(
    const std::map<std::string, std::string>& jaas, std::string* error) {
  OAuthBearerConfig c;
  if (auto it = jaas.find("unsecuredValidatorPrincipalClaimName"); it != jaas.end()) {
    c.principal_claim = it->second;
  }
  if (auto it = jaas.find("unsecuredValidatorScopeClaimName"); it != jaas.end()) {
    c.scope_claim = it->second;
  }
  if (auto it = jaas.find("unsecuredValidatorRequiredScope"); it != jaas.end()) {
    c.required_scopes = strings_of(json::Value::make_string(it->second));
  }
  if (auto it = jaas.find("unsecuredValidatorAllowableClockSkewMs"); it != jaas.end()) {
    char* end = nullptr;
    const long long v = std::strtoll(it->second.c_str(), &end, 10);
    if (it->second.empty() || *end != '\0' || v < 0 || v > 2147483647) {
      if (error) *error = "unsecuredValidatorAllowableClockSkewMs must be a count of ms >= 0";
      return std::nullopt;
    }
    c.clock_skew_ms = v;
  }
  return c;
}

std::unique_ptr<SaslMechanism> make_oauthbearer(std::shared_ptr<const OAuthBearerConfig> config) {
  return std::make_unique<OAuthBearer>(std::move(config));
}

}  // namespace kaffa::security
