// SASL client side, for a broker authenticating to another broker's SASL listener (a follower
// to its leader): PLAIN (RFC 4616) sends `NUL user NUL password` once; SCRAM (RFC 5802) sends
// client-first, answers server-first with the proof, and checks the server's signature in
// server-final, so a server that does not hold the credential is not trusted either.
#include <openssl/crypto.h>

#include <charconv>

#include "base/base64.h"
#include "security/sasl.h"
#include "security/scram.h"
#include "security/scram_internal.h"

namespace kaffa::security {
namespace {

SaslClientStep failed(std::string why) {
  SaslClientStep out;
  out.state = SaslClientStep::State::failed;
  out.error = std::move(why);
  return out;
}

class PlainClient final : public SaslClient {
 public:
  PlainClient(std::string user, std::string password)
      : user_(std::move(user)), password_(std::move(password)) {}
  std::string first() override { return std::string(1, '\0') + user_ + '\0' + password_; }
  SaslClientStep step(std::string_view) override {
    SaslClientStep out;
    out.state = SaslClientStep::State::done;  // the server accepted the single token
    return out;
  }

 private:
  std::string user_;
  std::string password_;
};

// RFC 5802's saslname: ',' and '=' escaped.
std::string escape_name(std::string_view name) {
  std::string out;
  for (const char c : name) {
    if (c == ',') {
      out += "=2C";
    } else if (c == '=') {
      out += "=3D";
    } else {
      out.push_back(c);
    }
  }
  return out;
}

class ScramClient final : public SaslClient {
 public:
  ScramClient(std::string_view mechanism, std::string user, std::string password,
              std::function<std::string()> nonce)
      : mechanism_(mechanism),
        md_(detail::digest_of(mechanism)),
        user_(std::move(user)),
        password_(std::move(password)),
        nonce_(nonce ? std::move(nonce) : detail::random_nonce) {}

  std::string first() override {
    client_nonce_ = nonce_();
    client_first_bare_ = "n=" + escape_name(user_) + ",r=" + client_nonce_;
    stage_ = Stage::server_first;
    return "n,," + client_first_bare_;
  }

  SaslClientStep step(std::string_view token) override {
    switch (stage_) {
      case Stage::server_first:
        return server_first(token);
      case Stage::server_final:
        return server_final(token);
      case Stage::start:
      case Stage::over:
        break;
    }
    return failed("SCRAM exchange not in progress");
  }

 private:
  enum class Stage { start, server_first, server_final, over };

  SaslClientStep server_first(std::string_view token) {
    stage_ = Stage::over;
    const auto attrs = detail::attributes(token);
    if (attrs.size() < 3 || attrs[0].first != 'r' || attrs[1].first != 's' ||
        attrs[2].first != 'i') {
      return failed("malformed SCRAM server-first message");
    }
    const std::string_view nonce = attrs[0].second;
    if (nonce.size() <= client_nonce_.size() || !nonce.starts_with(client_nonce_)) {
      return failed("the SCRAM server nonce does not extend ours");
    }
    const auto salt = base64::decode(attrs[1].second);
    int32_t iterations = 0;
    const auto i = attrs[2].second;
    const auto parsed = std::from_chars(i.data(), i.data() + i.size(), iterations);
    if (!salt || parsed.ec != std::errc() || parsed.ptr != i.data() + i.size()) {
      return failed("malformed SCRAM salt or iteration count");
    }
    // Kafka's bounds: fewer would weaken the proof, more would let a server make us spin.
    if (iterations < kScramMinIterations || iterations > kScramMaxIterations) {
      return failed("the server asks for " + std::to_string(iterations) +
                    " SCRAM iterations, outside [" + std::to_string(kScramMinIterations) + ", " +
                    std::to_string(kScramMaxIterations) + "]");
    }
    const std::string salted = scram_salted_password(mechanism_, password_, *salt, iterations);
    const std::string client_key = detail::hmac(md_, salted, "Client Key");
    const std::string without_proof = "c=biws,r=" + std::string(nonce);
    const std::string auth_message =
        client_first_bare_ + "," + std::string(token) + "," + without_proof;
    const std::string signature = detail::hmac(md_, detail::hash(md_, client_key), auth_message);
    std::string proof(client_key.size(), '\0');
    for (size_t k = 0; k < proof.size(); ++k) proof[k] = client_key[k] ^ signature[k];
    server_signature_ = detail::hmac(md_, detail::hmac(md_, salted, "Server Key"), auth_message);
    stage_ = Stage::server_final;
    SaslClientStep out;
    out.state = SaslClientStep::State::send;
    out.token = without_proof + ",p=" + base64::encode(proof);
    return out;
  }

  SaslClientStep server_final(std::string_view token) {
    stage_ = Stage::over;
    const auto attrs = detail::attributes(token);
    if (!attrs.empty() && attrs[0].first == 'e') {
      return failed("the server refused: " + std::string(attrs[0].second));
    }
    if (attrs.empty() || attrs[0].first != 'v') return failed("malformed SCRAM server-final");
    const auto v = base64::decode(attrs[0].second);
    if (!v || v->size() != server_signature_.size() ||
        CRYPTO_memcmp(v->data(), server_signature_.data(), v->size()) != 0) {
      return failed(
          "the SCRAM server signature is wrong: the server does not hold our "
          "credential");
    }
    SaslClientStep out;
    out.state = SaslClientStep::State::done;
    return out;
  }

  const std::string mechanism_;
  const EVP_MD* md_;
  const std::string user_;
  const std::string password_;
  std::function<std::string()> nonce_;
  Stage stage_ = Stage::start;
  std::string client_nonce_;
  std::string client_first_bare_;
  std::string server_signature_;
};

}  // namespace

std::unique_ptr<SaslClient> make_sasl_client(std::string_view mechanism, std::string user,
                                             std::string password,
                                             std::function<std::string()> nonce) {
  if (mechanism == kPlain)
    return std::make_unique<PlainClient>(std::move(user), std::move(password));
  if (mechanism == kScramSha256 || mechanism == kScramSha512) {
    return std::make_unique<ScramClient>(mechanism, std::move(user), std::move(password),
                                         std::move(nonce));
  }
  return nullptr;
}

}  // namespace kaffa::security
