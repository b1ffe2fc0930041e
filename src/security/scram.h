// SCRAM-SHA-256 and SCRAM-SHA-512 (RFC 5802, RFC 7677) as Kafka uses them (KIP-84, KIP-554):
// credentials are stored as (salt, iterations, StoredKey, ServerKey), never the password, and
// managed through AlterUserScramCredentials / DescribeUserScramCredentials.
//
// ScramCredentialStore: on a single node the file `<log.dirs>/__kaffa_metadata/scram-credentials`
// (text, replaced atomically on every change; a damaged file is an error at start-up); in a
// cluster the same text is one record of the metadata store (cluster/metadata_records.h), and
// every broker's store is given each new set with replace():
//   kaffa-scram 1
//   <count>
//   <base64 user> <mechanism> <iterations> <base64 salt> <base64 StoredKey> <base64 ServerKey>
//
// Threading: the store is safe from any thread (a mutex; the file is written under it, rarely).
// A SCRAM mechanism object belongs to one connection.
#pragma once

#include <cstdint>
#include <filesystem>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "security/sasl.h"

namespace kaffa::security {

inline constexpr std::string_view kScramSha256 = "SCRAM-SHA-256";
inline constexpr std::string_view kScramSha512 = "SCRAM-SHA-512";
inline constexpr int32_t kScramMinIterations = 4096;  // Kafka's bounds
inline constexpr int32_t kScramMaxIterations = 16384;

// Kafka's mechanism numbers in the KIP-554 APIs: 1 SCRAM-SHA-256, 2 SCRAM-SHA-512; "" if unknown.
std::string_view scram_mechanism_name(int8_t type);
int8_t scram_mechanism_type(std::string_view name);  // 0 if unknown

struct ScramCredential {
  std::string salt;
  std::string stored_key;
  std::string server_key;
  int32_t iterations = 0;
};

// The stored form of a salted password (RFC 5802: ClientKey, StoredKey = H(ClientKey), ServerKey).
ScramCredential scram_credential(std::string_view mechanism, std::string salt,
                                 std::string_view salted_password, int32_t iterations);
// Hi(password, salt, i) = PBKDF2-HMAC; for tests and tools.
std::string scram_salted_password(std::string_view mechanism, std::string_view password,
                                  std::string_view salt, int32_t iterations);

// Every user's credentials: user -> mechanism -> credential.
using ScramUsers = std::map<std::string, std::map<std::string, ScramCredential>, std::less<>>;

// The store's text (format above) and its parser (nullopt with *error when damaged).
std::string encode_scram_users(const ScramUsers& users);
std::optional<ScramUsers> decode_scram_users(std::string_view text, std::string* error);

class ScramCredentialStore {
 public:
  explicit ScramCredentialStore(std::filesystem::path file) : file_(std::move(file)) {}
  static std::filesystem::path default_path(const std::filesystem::path& log_dir);

  bool load(std::string* error);  // missing file: no users
  std::optional<ScramCredential> find(std::string_view user, std::string_view mechanism) const;
  // user -> [(mechanism, iterations)], for DescribeUserScramCredentials.
  std::map<std::string, std::vector<std::pair<std::string, int32_t>>> describe() const;

  struct Change {
    std::string user;
    std::string mechanism;
    std::optional<ScramCredential> credential;  // nullopt: delete
  };
  // Applies the changes and persists them (all or nothing). False with *error on a disk error.
  bool apply(const std::vector<Change>& changes, std::string* error);
  // Runs `change` on the users under the store's lock; when it returns true (changed), persists
  // the result (all or nothing). False with *error on a disk error.
  bool update(const std::function<bool(ScramUsers&)>& change, std::string* error);
  // The whole set, as the cluster's metadata store holds it (no file is written).
  void replace(ScramUsers users);

 private:
  const std::filesystem::path file_;
  mutable std::mutex mu_;
  ScramUsers users_;
};

// Applies the changes to `users` (a credential set or deleted; a user without any left goes).
void apply_scram_changes(ScramUsers& users,
                         const std::vector<ScramCredentialStore::Change>& changes);

// Where a SCRAM exchange finds a user's credential (e.g. ScramCredentialStore::find); called on
// the connection's thread.
using ScramLookup = std::function<std::optional<ScramCredential>(std::string_view user,
                                                                 std::string_view mechanism)>;

// A server-side SCRAM exchange for `mechanism`. `nonce` makes the server nonce (tests inject a
// fixed one); by default 24 random bytes in base64. An unknown user gets a made-up salt and fails
// only at the proof, as a known user with a wrong password does.
std::unique_ptr<SaslMechanism> make_scram(std::string_view mechanism, ScramLookup lookup,
                                          std::function<std::string()> nonce = {});

}  // namespace kaffa::security
