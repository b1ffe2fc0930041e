#include "broker/tls_config.h"

#include <algorithm>
#include <cctype>
#include <set>

#include "base/file.h"
#include "base/log.h"
#include "broker/config.h"
#include "broker/config_settings.h"

namespace kaffa::broker::tls_config {
namespace {

// Every ssl.<x> setting Kaffa knows: suffix, default, documentation, and whether a dynamic
// update may change it (Kafka's reconfigurable keystore/truststore settings). The last three are
// accepted for configs shared with Kafka and have no effect.
struct SslSetting {
  const char* suffix;
  const char* default_value;
  const char* doc;
  bool dynamic;
};

constexpr SslSetting kSettings[] = {
    {"keystore.type", "PEM", "Keystore format; PEM only (JKS and PKCS12 are refused).", true},
    {"keystore.location", "", "PEM file with the private key and the certificate chain.", true},
    {"keystore.key", "", "The private key as PEM text (with ssl.keystore.certificate.chain).",
     true},
    {"keystore.certificate.chain", "", "The certificate chain as PEM text.", true},
    {"key.password", "", "Password of an encrypted private key.", true},
    {"truststore.type", "PEM", "Truststore format; PEM only.", true},
    {"truststore.location", "", "PEM file with the CA certificates for client certificates.", true},
    {"truststore.certificates", "", "The CA certificates as PEM text.", true},
    {"client.auth", "none", "Client certificates: none, requested or required.", false},
    {"enabled.protocols", "TLSv1.2,TLSv1.3", "TLS versions offered.", false},
    {"protocol", "TLSv1.3", "Checked (TLS, TLSv1.2, TLSv1.3, ...); no further effect.", false},
    {"cipher.suites", "", "Cipher suites (IANA or OpenSSL names); empty = OpenSSL's defaults.",
     false},
    {"principal.mapping.rules", "DEFAULT",
     "RULE:pattern/replacement/[LU],... mapping a client certificate subject to a user.", false},
    {"keystore.password", "", "Accepted for Kafka configs; unused with PEM.", true},
    {"truststore.password", "", "Accepted for Kafka configs; unused with PEM.", true},
    {"endpoint.identification.algorithm", "https",
     "https: a broker connecting to another broker's TLS listener (a follower to its leader) "
     "checks that the certificate names the host it connects to; empty: it does not.",
     false}};

const SslSetting* find_ssl_setting(const std::string& suffix) {
  for (const auto& s : kSettings) {
    if (suffix == s.suffix) return &s;
  }
  return nullptr;
}

std::string lower(std::string s) {
  for (auto& ch : s) ch = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
  return s;
}

// Splits listener.name.<l>.ssl.<x> into (<l>, <x>); false for other names.
bool split_prefixed(const std::string& key, std::string& listener, std::string& suffix) {
  static const std::string kPrefix = "listener.name.";
  if (!key.starts_with(kPrefix)) return false;
  const auto dot = key.find(".ssl.", kPrefix.size());
  if (dot == std::string::npos || dot == kPrefix.size()) return false;
  listener = key.substr(kPrefix.size(), dot - kPrefix.size());
  suffix = key.substr(dot + 5);
  return true;
}

// One listener's effective settings: (the name that set it, value) by suffix.
using config_detail::split_list;
using Effective = std::map<std::string, std::pair<std::string, std::string>>;

Effective effective(const std::map<std::string, std::string>& settings,
                    const std::string& listener_lower) {
  Effective out;
  for (const auto& [key, value] : settings) {
    if (key.starts_with("ssl.")) out.emplace(key.substr(4), std::make_pair(key, value));
  }
  const std::string prefix = "listener.name." + listener_lower + ".ssl.";
  std::set<std::string> mine;
  for (const auto& [key, value] : settings) {
    if (!key.starts_with(prefix)) continue;
    out[key.substr(prefix.size())] = {key, value};
    mine.insert(key.substr(prefix.size()));
  }
  // A store given for the listener replaces a broker-wide one given the other way.
  auto drop_broker_wide = [&](const char* suffix) {
    if (mine.count(suffix) == 0) out.erase(suffix);
  };
  if (mine.count("keystore.location") != 0) {
    drop_broker_wide("keystore.key");
    drop_broker_wide("keystore.certificate.chain");
  } else if (mine.count("keystore.key") != 0) {
    drop_broker_wide("keystore.location");
  }
  if (mine.count("truststore.location") != 0) {
    drop_broker_wide("truststore.certificates");
  } else if (mine.count("truststore.certificates") != 0) {
    drop_broker_wide("truststore.location");
  }
  return out;
}

bool read_file(const std::string& path, std::string& out, std::string& why) {
  auto text = file::read_all(path);
  if (!text) {
    why = "cannot read '" + path + "'";
    return false;
  }
  out = std::move(*text);
  return true;
}

struct Built {
  std::shared_ptr<const net::TlsContext> context;
  std::shared_ptr<const net::TlsContext> client;  // the same settings, for the client side
  std::shared_ptr<const security::SslPrincipalMapper> mapper;
};

// Builds a listener's context from its effective settings; on failure the message starts with
// the name of the setting at fault.
std::optional<Built> build(const Effective& e, const std::string& listener_lower,
                           std::string& error) {
  auto name_of = [&](const std::string& suffix) {
    const auto it = e.find(suffix);
    return it != e.end() ? it->second.first : "listener.name." + listener_lower + ".ssl." + suffix;
  };
  auto get = [&](const std::string& suffix) -> std::optional<std::string> {
    const auto it = e.find(suffix);
    if (it == e.end()) return std::nullopt;
    return it->second.second;
  };
  auto fail = [&](const std::string& suffix, const std::string& why) {
    error = name_of(suffix) + ": " + why;
    return std::nullopt;
  };
  for (const char* store : {"keystore.type", "truststore.type"}) {
    const std::string type = get(store).value_or("PEM");
    if (type != "PEM") {
      return fail(store, "type '" + type +
                             "' is not supported: Kaffa reads PEM stores only (set PEM and "
                             "convert the store to PEM, e.g. with openssl pkcs12 or keytool)");
    }
  }
  net::TlsOptions o;
  std::string key_source = "keystore.location";
  std::string chain_source = "keystore.location";
  const auto location = get("keystore.location");
  const auto key = get("keystore.key");
  const auto chain = get("keystore.certificate.chain");
  if (location && (key || chain)) {
    return fail("keystore.location",
                "give either a keystore file or ssl.keystore.key with "
                "ssl.keystore.certificate.chain, not both");
  }
  if (location) {
    std::string why;
    if (!read_file(*location, o.key_pem, why)) return fail("keystore.location", why);
    o.cert_chain_pem = o.key_pem;
  } else if (key && chain) {
    o.key_pem = *key;
    o.cert_chain_pem = *chain;
    key_source = "keystore.key";
    chain_source = "keystore.certificate.chain";
  } else if (key || chain) {
    return fail(key ? "keystore.certificate.chain" : "keystore.key",
                "must be set together with " +
                    name_of(key ? "keystore.key" : "keystore.certificate.chain"));
  } else {
    return fail("keystore.location",
                "a TLS listener needs a key and certificate (set it, or "
                "ssl.keystore.key and ssl.keystore.certificate.chain)");
  }
  o.key_password = get("key.password").value_or("");
  std::string trust_source = "truststore.location";
  if (const auto t = get("truststore.location")) {
    std::string why;
    if (!read_file(*t, o.trust_pem, why)) return fail("truststore.location", why);
  } else if (const auto c = get("truststore.certificates")) {
    o.trust_pem = *c;
    trust_source = "truststore.certificates";
  }
  const std::string auth = lower(get("client.auth").value_or("none"));
  if (auth == "required") {
    o.client_auth = net::ClientAuth::required;
  } else if (auth == "requested") {
    o.client_auth = net::ClientAuth::requested;
  } else if (auth != "none") {
    return fail("client.auth", "'" + auth + "' is not none, requested or required");
  }
  if (const auto p = get("enabled.protocols")) o.protocols = split_list(*p);
  const std::string protocol = get("protocol").value_or("TLSv1.3");
  static const std::set<std::string> kProtocols = {"TLS", "TLSv1", "TLSv1.1", "TLSv1.2", "TLSv1.3"};
  if (kProtocols.count(protocol) == 0)
    return fail("protocol", "unknown protocol '" + protocol + "'");
  if (const auto c = get("cipher.suites")) o.cipher_suites = split_list(*c);

  Built out;
  std::string why;
  auto mapper =
      security::SslPrincipalMapper::parse(get("principal.mapping.rules").value_or("DEFAULT"), &why);
  if (!mapper) return fail("principal.mapping.rules", why);
  out.mapper = std::make_shared<const security::SslPrincipalMapper>(std::move(*mapper));

  net::TlsError te;
  out.context = net::TlsContext::create(o, &te);
  if (!out.context) {
    const std::map<std::string, std::string> field_setting = {{"key", key_source},
                                                              {"key_password", "key.password"},
                                                              {"cert_chain", chain_source},
                                                              {"trust", trust_source},
                                                              {"protocols", "enabled.protocols"},
                                                              {"cipher_suites", "cipher.suites"}};
    const auto it = field_setting.find(te.field);
    return fail(it != field_setting.end() ? it->second : key_source, te.message);
  }
  const std::string identification =
      lower(get("endpoint.identification.algorithm").value_or("https"));
  if (identification != "https" && !identification.empty()) {
    return fail("endpoint.identification.algorithm",
                "'" + identification + "' is not https (check the host name) or empty (do not)");
  }
  out.client = net::TlsContext::create_client(o, identification == "https", &te);
  if (!out.client) return fail(key_source, "as a client: " + te.message);
  return out;
}

// The static settings with listener `l`'s dynamic values on top; those values go to *mine. A
// store given dynamically replaces a static one given the other way (file vs PEM text).
std::map<std::string, std::string> with_dynamic(const std::map<std::string, std::string>& settings,
                                                const std::string& l,
                                                const std::map<std::string, std::string>& dynamic,
                                                std::map<std::string, std::string>& mine) {
  const std::string prefix = "listener.name." + l + ".ssl.";
  auto out = settings;
  for (const auto& [k, v] : dynamic) {
    if (!k.starts_with(prefix)) continue;
    out[k] = v;
    mine[k] = v;
  }
  if (mine.count(prefix + "keystore.location") != 0) {
    out.erase(prefix + "keystore.key");
    out.erase(prefix + "keystore.certificate.chain");
  } else if (mine.count(prefix + "keystore.key") != 0) {
    out.erase(prefix + "keystore.location");
  }
  if (mine.count(prefix + "truststore.location") != 0) {
    out.erase(prefix + "truststore.certificates");
  } else if (mine.count(prefix + "truststore.certificates") != 0) {
    out.erase(prefix + "truststore.location");
  }
  return out;
}

bool is_tls_protocol(const std::string& p) {
  return p == "SSL" || p == "SASL_SSL";
}

}  // namespace

std::string describe() {
  std::string s;
  for (const auto& d : kSettings) {
    s += std::string("ssl.") + d.suffix + " (default: " + d.default_value + ")\n    " + d.doc +
         " Per listener: listener.name.<listener>.ssl." + d.suffix +
         (d.dynamic ? " (dynamic: AlterConfigs on the broker)" : "") + ".\n";
  }
  return s;
}

bool accepts(const std::string& key) {
  std::string listener, suffix;
  if (split_prefixed(key, listener, suffix)) return true;  // checked in resolve()
  return key.starts_with("ssl.");
}

std::optional<ConfigError> resolve(BrokerConfig& c) {
  for (const auto& [key, value] : c.ssl_settings) {
    std::string listener, suffix = key.substr(4);
    if (split_prefixed(key, listener, suffix)) {
      const bool named = std::any_of(c.listeners.begin(), c.listeners.end(),
                                     [&](const Listener& l) { return lower(l.name) == listener; });
      if (!named) return ConfigError{"setting '" + key + "' names no listener in listeners"};
    }
    if (find_ssl_setting(suffix) == nullptr) return ConfigError{"unknown setting '" + key + "'"};
  }
  // Values set dynamically before a restart apply over the static ones.
  const auto file = dynamic_path(c.log_dir);
  std::string load_error;
  const auto dynamic = load_dynamic(file, &load_error);
  if (!dynamic) return ConfigError{load_error};
  for (const auto& l : c.listeners) {
    if (!is_tls_protocol(l.security_protocol)) continue;
    std::map<std::string, std::string> mine;
    const auto settings = with_dynamic(c.ssl_settings, lower(l.name), *dynamic, mine);
    std::string error;
    auto built = build(effective(settings, lower(l.name)), lower(l.name), error);
    if (!built) {
      return ConfigError{
          "listener " + l.name + ": " + error +
          (mine.empty() ? "" : " (with the dynamic values of " + file.string() + ")")};
    }
    if (!mine.empty()) {
      log::info("listener {}: dynamic TLS settings from {}: {}", l.name, file.string(), [&] {
        std::string names;
        for (const auto& [k, v] : mine) names += (names.empty() ? "" : ", ") + k;
        return names;
      }());
    }
    auto tls = std::make_shared<ListenerTls>();
    tls->dynamic = std::move(mine);
    tls->listener = l.name;
    tls->slot = std::make_shared<net::TlsContextSlot>(built->context);
    tls->client = std::make_shared<net::TlsContextSlot>(built->client);
    tls->mapper = built->mapper;
    log::info("listener {}: TLS with certificate {} (serial {})", l.name, built->context->subject(),
              built->context->serial());
    c.tls[l.name] = std::move(tls);
  }
  return std::nullopt;
}

bool all_dynamic(const BrokerConfig& c, const std::vector<std::string>& names) {
  if (names.empty()) return false;
  for (const auto& n : names) {
    std::string listener, suffix;
    if (!split_prefixed(n, listener, suffix)) return false;
    const SslSetting* setting = find_ssl_setting(suffix);
    if (setting == nullptr || !setting->dynamic) return false;
    const bool tls = std::any_of(c.tls.begin(), c.tls.end(),
                                 [&](const auto& kv) { return lower(kv.first) == listener; });
    if (!tls) return false;
  }
  return true;
}

std::optional<std::string> update(
    const BrokerConfig& c, const std::vector<std::string>& names,
    const std::function<std::optional<std::string>(std::map<std::string, std::string>&)>& change,
    bool validate_only) {
  static std::mutex serial;
  std::lock_guard lock(serial);
  std::map<std::string, std::string> dynamic;
  for (const auto& [name, tls] : c.tls) {
    std::lock_guard l(tls->mu);
    dynamic.insert(tls->dynamic.begin(), tls->dynamic.end());
  }
  if (auto why = change(dynamic)) return why;
  std::set<std::string> touched;
  for (const auto& n : names) {
    std::string listener, suffix;
    if (split_prefixed(n, listener, suffix)) touched.insert(listener);
  }
  std::vector<std::pair<ListenerTls*, Built>> rebuilt;
  std::map<ListenerTls*, std::map<std::string, std::string>> new_dynamic;
  for (const auto& [name, tls] : c.tls) {
    const std::string l = lower(name);
    if (touched.count(l) == 0) continue;
    auto& mine = new_dynamic[tls.get()];
    const auto settings = with_dynamic(c.ssl_settings, l, dynamic, mine);
    std::string error;
    auto built = build(effective(settings, l), l, error);
    if (!built) return "Validation of dynamic config update of SSL settings failed: " + error;
    rebuilt.emplace_back(tls.get(), std::move(*built));
  }
  if (validate_only) return std::nullopt;
  std::map<std::string, std::string> keep;  // every listener's dynamic values after this change
  for (const auto& [name, tls] : c.tls) {
    if (auto it = new_dynamic.find(tls.get()); it != new_dynamic.end()) {
      keep.insert(it->second.begin(), it->second.end());
    } else {
      std::lock_guard l(tls->mu);
      keep.insert(tls->dynamic.begin(), tls->dynamic.end());
    }
  }
  const auto replace_tls = [&keep](std::map<std::string, std::string>& all) {
    std::erase_if(all, [](const auto& kv) { return accepts(kv.first); });
    all.insert(keep.begin(), keep.end());
  };
  if (std::string error; !edit_dynamic(dynamic_path(c.log_dir), replace_tls, &error)) {
    log::error("cannot persist the dynamic TLS settings: {}", error);
    return "Cannot persist the dynamic config update of SSL settings: " + error;
  }
  for (auto& [tls, built] : rebuilt) {
    tls->slot->replace(built.context);
    tls->client->replace(built.client);
    {
      std::lock_guard l(tls->mu);
      tls->dynamic = new_dynamic[tls];
    }
    log::info(
        "listener {}: TLS context reloaded: certificate {} (serial {}); new connections use it",
        tls->listener, built.context->subject(), built.context->serial());
  }
  return std::nullopt;
}

}  // namespace kaffa::broker::tls_config
