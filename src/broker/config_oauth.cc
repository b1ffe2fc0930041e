// SASL/OAUTHBEARER's settings (security/oauthbearer.h), Kafka's names: the validator of signed
// tokens (sasl.oauthbearer.jwks.endpoint.url and its checks) and, per listener, the server
// callback handler naming it and the JAAS options of the unsecured validator.
//
// As in Kafka, a listener serving OAUTHBEARER checks signed tokens when its
// listener.name.<l>.oauthbearer.sasl.server.callback.handler.class names Kafka's
// OAuthBearerValidatorCallbackHandler, else it takes unsigned ones (Kafka's default validator;
// with sasl.oauthbearer.jwks.endpoint.url set this is noticed at start, as a likely mistake).
// Each sasl.oauthbearer.* setting may also be given for one listener, as
// listener.name.<l>.oauthbearer.sasl.oauthbearer.<name> (Kafka's listener and mechanism prefix),
// which wins over the broker-wide value there. Each key set is read once, at start-up, from a
// file: URL; Kaffa fetches nothing over HTTP.

#include "base/file.h"
#include "broker/config_settings.h"

namespace kaffa::broker::config_detail {
namespace {

constexpr std::string_view kHandler = "sasl.server.callback.handler.class";
constexpr std::string_view kMechanismPrefix = ".oauthbearer.";

bool validator_class(const std::string& v) {
  return v == "org.apache.kafka.common.security.oauthbearer.OAuthBearerValidatorCallbackHandler" ||
         v == "org.apache.kafka.common.security.oauthbearer.secured."
              "OAuthBearerValidatorCallbackHandler";
}

auto text_setting(std::string BrokerConfig::OAuthBearerSettings::*m) {
  return [m](const std::string& v, BrokerConfig& c, std::string&) {
    c.oauthbearer_settings.*m = trim(v);
    return true;
  };
}

// The key set of `url` (file:///path or file:/path; the setting checked the scheme); null with
// `why`.
std::shared_ptr<const security::jwt::KeySet> load_keys(const std::string& url, std::string& why) {
  std::string path = url.substr(5);
  if (path.starts_with("//")) path = path.substr(2);  // file:///path: an empty authority
  auto text = file::read_all(path);
  if (!text) {
    why = "cannot read the key set " + path;
    return nullptr;
  }
  auto keys = security::jwt::KeySet::parse(*text, &why);
  if (!keys) {
    why = "the key set " + path + ": " + why;
    return nullptr;
  }
  if (keys->size() == 0) {
    why = "the key set " + path + " has no RSA or EC signing key";
    return nullptr;
  }
  return std::make_shared<const security::jwt::KeySet>(std::move(*keys));
}

}  // namespace

const std::vector<Setting>& oauth_settings() {
  using S = BrokerConfig::OAuthBearerSettings;
  static const std::vector<Setting> kSettings = {
      {"sasl.oauthbearer.jwks.endpoint.url", "",
       "OAUTHBEARER: a file: URL of the JSON Web Key Set whose keys sign the tokens, read at "
       "start-up by the listeners that check signed tokens.",
       [](const std::string& v, BrokerConfig& c, std::string& why) {
         c.oauthbearer_settings.jwks_url = trim(v);
         if (v.empty() || c.oauthbearer_settings.jwks_url.starts_with("file:")) return true;
         why = "must be a file: URL (Kaffa fetches no keys over the network)";
         return false;
       }},
      {"sasl.oauthbearer.expected.audience", "",
       "OAUTHBEARER, signed tokens: comma-separated audiences, one of which the token's aud "
       "must name (empty: not checked).",
       [](const std::string& v, BrokerConfig& c, std::string&) {
         c.oauthbearer_settings.expected_audience = split_list(v);
         return true;
       }},
      {"sasl.oauthbearer.expected.issuer", "",
       "OAUTHBEARER, signed tokens: the iss the token must have (empty: not checked).",
       text_setting(&S::expected_issuer)},
      {"sasl.oauthbearer.sub.claim.name", "sub",
       "OAUTHBEARER, signed tokens: the claim naming the principal.", text_setting(&S::sub_claim)},
      {"sasl.oauthbearer.scope.claim.name", "scope",
       "OAUTHBEARER, signed tokens: the claim holding the scopes.", text_setting(&S::scope_claim)},
      {"sasl.oauthbearer.clock.skew.seconds", "30",
       "OAUTHBEARER, signed tokens: the clock difference allowed with the token's issuer.",
       [](const std::string& v, BrokerConfig& c, std::string& why) {
         if (parse_int(v, c.oauthbearer_settings.clock_skew_seconds, 0, 86400 * 365)) return true;
         why = "expected a count of seconds >= 0";
         return false;
       }},
  };
  return kSettings;
}

namespace {

const Setting* find_oauth_setting(const std::string& name) {
  for (const auto& st : oauth_settings()) {
    if (name == st.name) return &st;
  }
  return nullptr;
}

}  // namespace

std::optional<bool> oauth_listener_setting(const std::string& key, const std::string& value,
                                           BrokerConfig& c, std::string& why) {
  if (!key.starts_with("listener.name.")) return std::nullopt;
  const auto prefix_end = key.find(kMechanismPrefix, 14);
  if (prefix_end == std::string::npos || prefix_end == 14) return std::nullopt;
  const std::string name = upper(key.substr(14, prefix_end - 14));
  const std::string setting = key.substr(prefix_end + kMechanismPrefix.size());
  if (name.find('.') != std::string::npos) return std::nullopt;
  if (setting == kHandler) {
    if (!validator_class(trim(value))) {
      why =
          "the only server callback handler served is Kafka's "
          "org.apache.kafka.common.security.oauthbearer.OAuthBearerValidatorCallbackHandler";
      return false;
    }
    c.oauthbearer_settings.signed_listeners.insert(name);
    return true;
  }
  if (const Setting* st = find_oauth_setting(setting)) {
    BrokerConfig scratch;  // checked now; applied over the broker-wide values by resolve
    if (!st->apply(value, scratch, why)) return false;
    c.oauthbearer_settings.per_listener[name][setting] = value;
    return true;
  }
  if (setting.starts_with("sasl.") && kafka_only(setting) != nullptr) {
    c.kafka_only[setting] = value;  // the broker-wide notice
    return true;
  }
  return std::nullopt;
}

std::optional<ConfigError> resolve_oauthbearer(BrokerConfig& c) {
  std::map<std::string, std::shared_ptr<const security::jwt::KeySet>> key_sets;  // by URL
  for (const auto& l : c.listeners) {
    const auto& m = c.sasl_mechanisms_of(l.name);
    const bool sasl = l.security_protocol == "SASL_PLAINTEXT" || l.security_protocol == "SASL_SSL";
    if (!sasl || std::find(m.begin(), m.end(), security::kOAuthBearer) == m.end()) continue;
    // The broker-wide settings, with this listener's own values over them.
    BrokerConfig scratch;
    scratch.oauthbearer_settings = c.oauthbearer_settings;
    if (auto own = c.oauthbearer_settings.per_listener.find(l.name);
        own != c.oauthbearer_settings.per_listener.end()) {
      for (const auto& [name, value] : own->second) {
        std::string why;
        find_oauth_setting(name)->apply(value, scratch, why);  // known and checked when read
      }
    }
    const auto& s = scratch.oauthbearer_settings;
    security::OAuthBearerConfig config;
    if (s.signed_listeners.contains(l.name)) {
      if (s.jwks_url.empty()) {
        return ConfigError{"listener " + l.name +
                           " checks signed OAUTHBEARER tokens but "
                           "sasl.oauthbearer.jwks.endpoint.url is not set"};
      }
      std::string why;
      auto& keys = key_sets[s.jwks_url];
      if (!keys && !(keys = load_keys(s.jwks_url, why))) return ConfigError{why};
      config.keys = keys;
      config.principal_claim = s.sub_claim;
      config.scope_claim = s.scope_claim;
      config.expected_audience = s.expected_audience;
      if (!s.expected_issuer.empty()) config.expected_issuer = s.expected_issuer;
      config.clock_skew_ms = s.clock_skew_seconds * 1000;
    } else {
      if (!s.jwks_url.empty()) {
        c.notices.push_back("listener " + l.name +
                            " takes unsigned OAUTHBEARER tokens: its "
                            "sasl.server.callback.handler.class does not name Kafka's "
                            "OAuthBearerValidatorCallbackHandler");
      }
      const auto it = s.jaas.find(l.name);
      std::string why;
      auto unsecured = security::OAuthBearerConfig::unsecured(
          it == s.jaas.end() ? std::map<std::string, std::string>{} : it->second, &why);
      if (!unsecured) return ConfigError{"listener " + l.name + ": " + why};
      config = std::move(*unsecured);
    }
    c.oauthbearer[l.name] = std::make_shared<const security::OAuthBearerConfig>(std::move(config));
  }
  return std::nullopt;
}

}  // namespace kaffa::broker::config_detail
