// SASL PLAIN (RFC 4616): the client sends `[authzid] NUL authcid NUL passwd` once; the server
// answers with an empty token or fails. Passwords are compared as SHA-256 digests with
// CRYPTO_memcmp, and an unknown user is compared against a dummy digest, so neither the length
// of the password nor the existence of the user shows in the time taken.
#include <openssl/crypto.h>
#include <openssl/evp.h>

#include <array>

#include "security/oauthbearer.h"
#include "security/sasl.h"
#include "security/scram.h"

namespace kaffa::security {
namespace {

using Digest = std::array<unsigned char, 32>;

Digest sha256(std::string_view data) {
  Digest out{};
  unsigned int n = 0;
  EVP_Digest(data.data(), data.size(), out.data(), &n, EVP_sha256(), nullptr);
  return out;
}

constexpr std::string_view kFailed = "Authentication failed: Invalid username or password";

class Plain final : public SaslMechanism {
 public:
  explicit Plain(std::shared_ptr<const PlainUsers> users) : users_(std::move(users)) {}
  std::string_view name() const override { return kPlain; }

  SaslStep step(std::string_view token) override {
    SaslStep out;
    if (used_) {
      out.error = "Authentication failed: PLAIN takes a single token";
      out.detail = "second PLAIN token";
      return out;
    }
    used_ = true;
    const auto first = token.find('\0');
    const auto second = first == std::string_view::npos ? first : token.find('\0', first + 1);
    if (second == std::string_view::npos ||
        token.find('\0', second + 1) != std::string_view::npos) {
      out.error = "Authentication failed: Invalid SASL/PLAIN response: expected 3 tokens";
      out.detail = "malformed PLAIN token";
      return out;
    }
    const auto authzid = token.substr(0, first);
    const auto user = token.substr(first + 1, second - first - 1);
    const auto password = token.substr(second + 1);
    if (user.empty() || password.empty()) {
      out.error = "Authentication failed: username or password is empty";
      out.detail = "empty PLAIN username or password";
      return out;
    }
    if (!authzid.empty() && authzid != user) {
      out.error =
          "Authentication failed: Client requested an authorization id that is different from "
          "username";
      out.detail = "PLAIN authorization id differs from the user name";
      return out;
    }
    const auto it = users_->find(user);
    static const Digest kDummy = sha256("kaffa: no such user");
    const Digest expected = it != users_->end() ? sha256(it->second) : kDummy;
    const Digest given = sha256(password);
    const bool match = CRYPTO_memcmp(expected.data(), given.data(), expected.size()) == 0;
    if (!match || it == users_->end()) {
      out.error = std::string(kFailed);
      out.detail = "PLAIN credentials rejected for user '" + std::string(user) + "'";
      return out;
    }
    out.state = SaslStep::State::done;
    out.principal = "User:" + std::string(user);
    return out;
  }

 private:
  std::shared_ptr<const PlainUsers> users_;
  bool used_ = false;
};

}  // namespace

std::vector<std::string_view> supported_mechanisms() {
  return {kPlain, kScramSha256, kScramSha512, kOAuthBearer};
}

std::unique_ptr<SaslMechanism> make_plain(std::shared_ptr<const PlainUsers> users) {
  return std::make_unique<Plain>(std::move(users));
}

}  // namespace kaffa::security
