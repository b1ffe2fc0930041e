// SASL server mechanisms (RFC 4422 framing as Kafka uses it: one token in, one token out per
// step): PLAIN (RFC 4616) here, SCRAM-SHA-256/512 (RFC 5802, RFC 7677) in scram.h; and the client
// side of both (sasl_client.cc), for a broker authenticating to another broker.
//
// Threading: a SaslMechanism is used by one connection at a time (its loop thread). The user
// tables are immutable after start-up and shared read-only.
#pragma once

#include <functional>
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
// Every key="value" option of such a text (any login module), e.g. username and password.
std::optional<std::map<std::string, std::string>> parse_jaas_options(std::string_view text,
                                                                     std::string* error);

// The client side of an exchange: first() is the first token; each answer of the server to the
// last token sent goes to step(), which gives the next token to send, or says done or failed.
struct SaslClientStep {
  enum class State { send, done, failed };
  State state = State::failed;
  std::string token;  // send: the next token
  std::string error;  // failed: why
};

class SaslClient {
 public:
  virtual ~SaslClient() = default;
  virtual std::string first() = 0;
  virtual SaslClientStep step(std::string_view server_token) = 0;
};

// PLAIN, SCRAM-SHA-256 or SCRAM-SHA-512 as `user` with `password` (SCRAM's nonce from `nonce`, by
// default 24 random bytes in base64); nullptr for any other mechanism.
std::unique_ptr<SaslClient> make_sasl_client(std::string_view mechanism, std::string user,
                                             std::string password,
                                             std::function<std::string()> nonce = {});

}  // namespace kaffa::security
