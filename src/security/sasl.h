// SASL server mechanisms (RFC 4422 framing as Kafka uses it: one token in, one token out per
// step). PLAIN (RFC 4616) so far; SCRAM-SHA-256/512 (RFC 5802, RFC 7677) come next.
//
// Threading: a SaslMechanism is used by one connection at a time (its loop thread). The user
// tables are immutable after start-up and shared read-only.
#pragma once

#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace kaffa::security {

// Mechanism names as Kafka spells them.
inline constexpr std::string_view kPlain = "PLAIN";

// Mechanisms this build can serve (for validating sasl.enabled.mechanisms).
std::vector<std::string_view> supported_mechanisms();

struct SaslStep {
  enum class State { challenge, done, failed };
  State state = State::failed;
  std::string token;      // sent to the client (challenge, or final data when done)
  std::string principal;  // when done: "User:<name>"
  std::string error;      // when failed: what the client is told (no secret, no user hint)
  std::string detail;     // when failed: for the broker's log only
};

class SaslMechanism {
 public:
  virtual ~SaslMechanism() = default;
  virtual std::string_view name() const = 0;
  // Consumes the client's next token.
  virtual SaslStep step(std::string_view token) = 0;
};

// PLAIN users from the JAAS configuration: name -> password.
using PlainUsers = std::map<std::string, std::string, std::less<>>;

std::unique_ptr<SaslMechanism> make_plain(std::shared_ptr<const PlainUsers> users);

// Parses Kafka's broker JAAS text for PLAIN, e.g.
//   org.apache.kafka.common.security.plain.PlainLoginModule required
//     username="admin" password="admin-secret" user_admin="admin-secret" user_alice="pw";
// into the user_<name>="<password>" entries (username/password, the broker's own client
// credentials for inter-broker use, are accepted and ignored). nullopt with *error when the text
// is not `<LoginModule> required|optional|requisite|sufficient <key>="<value>"... ;`.
std::optional<PlainUsers> parse_plain_jaas(std::string_view text, std::string* error);

}  // namespace kaffa::security
