// Broker: the ssl.* settings of TLS listeners (SSL, SASL_SSL), with Kafka's names.
//
// Every ssl.<x> setting may be given broker-wide or per listener as
// listener.name.<listener lower-case>.ssl.<x>; the per-listener value wins. Keystores and
// truststores are PEM only (files or PEM text in the config). Each TLS listener gets a context
// slot (net::TlsContextSlot) at start-up; a dynamic broker config update of the listener's
// keystore/truststore settings (AlterConfigs / IncrementalAlterConfigs, see
// handlers/config_admin.h) builds and validates a new context from the files as they are now and
// swaps it in for new connections. Dynamic values are written to
// <log.dirs>/__kaffa_metadata/dynamic-broker-configs before they are used (tls_dynamic.cc) and
// applied again over the static settings at start-up, as Kafka keeps dynamic broker configs.
//
// Threading: load at start-up; ListenerTls is shared by the config copies and read from any
// thread (its mutable parts are under its mutex); reloads are serialized.
#pragma once

#include <filesystem>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "net/tls.h"
#include "security/ssl_principal.h"

namespace kaffa::broker {

struct BrokerConfig;
struct ConfigError;

struct ListenerTls {
  std::string listener;  // upper case, as Listener::name
  std::shared_ptr<net::TlsContextSlot> slot;
  // The same settings on the client side: what this broker uses to reach another broker's
  // listener of this name (a follower fetching from its leader), reloaded with `slot`.
  std::shared_ptr<net::TlsContextSlot> client;
  std::shared_ptr<const security::SslPrincipalMapper> mapper;  // ssl.principal.mapping.rules

  // Dynamic overrides (full names, listener.name.<l>.ssl.*) set by config updates.
  std::mutex mu;
  std::map<std::string, std::string> dynamic;
};

namespace tls_config {

// The ssl.* settings with defaults and documentation, in describe_settings()' layout.
std::string describe();

// Whether `key` is an ssl.* setting, broker-wide or listener-prefixed (stored in
// BrokerConfig::ssl_settings, not in `raw`: some are secrets).
bool accepts(const std::string& key);

// After the listeners are resolved: checks every ssl.* name and builds a context for each SSL
// and SASL_SSL listener. The error names the setting at fault.
std::optional<ConfigError> resolve(BrokerConfig& config);

// Whether every name is a dynamically updatable TLS setting of a TLS listener
// (listener.name.<l>.ssl.keystore.* / key.password / truststore.*).
bool all_dynamic(const BrokerConfig& config, const std::vector<std::string>& names);

// A dynamic update: `change` edits the map of dynamic TLS values (full names); the listeners whose
// values are named are rebuilt from their files now and, unless validate_only, persisted and
// swapped in. Returns the refusal's message on failure (nothing swapped then).
std::optional<std::string> update(
    const BrokerConfig& config, const std::vector<std::string>& names,
    const std::function<std::optional<std::string>(std::map<std::string, std::string>&)>& change,
    bool validate_only);

// The persisted dynamic values (tls_dynamic.cc): full setting name -> value. A missing file is
// no values; a damaged one nullopt with *error.
std::filesystem::path dynamic_path(const std::string& log_dir);
// A single node's cluster-wide defaults (dynamic_configs.h), in the same format.
std::filesystem::path dynamic_default_path(const std::string& log_dir);
std::optional<std::map<std::string, std::string>> load_dynamic(const std::filesystem::path& file,
                                                               std::string* error);
bool save_dynamic(const std::filesystem::path& file,
                  const std::map<std::string, std::string>& values, std::string* error);
// The text of the files (also the cluster-wide defaults' record in the metadata store).
std::string encode_dynamic(const std::map<std::string, std::string>& values);
std::optional<std::map<std::string, std::string>> decode_dynamic(const std::string& text,
                                                                 std::string* why);
// Loads the values of `file`, lets `edit` change them and saves them, one caller at a time: the
// TLS values and the other dynamic broker configs share dynamic_path's file.
bool edit_dynamic(const std::filesystem::path& file,
                  const std::function<void(std::map<std::string, std::string>&)>& edit,
                  std::string* error);

}  // namespace tls_config
}  // namespace kaffa::broker
