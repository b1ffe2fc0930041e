// SCRAM server exchange (RFC 5802 section 5): client-first -> server-first (nonce, salt,
// iterations) -> client-final (channel binding "biws"/"eSws", nonce, proof) -> server-final
// (server signature). The proof is checked as H(ClientProof XOR ClientSignature) == StoredKey with
// CRYPTO_memcmp.
#include "security/scram.h"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/rand.h>

#include "base/base64.h"
#include "security/scram_internal.h"

namespace kaffa::security {
namespace detail {

const EVP_MD* digest_of(std::string_view mechanism) {
  return mechanism == kScramSha512 ? EVP_sha512() : EVP_sha256();
}

std::string hmac(const EVP_MD* md, std::string_view key, std::string_view data) {
  unsigned char out[EVP_MAX_MD_SIZE];
  unsigned int n = 0;
  HMAC(md, key.data(), static_cast<int>(key.size()),
       reinterpret_cast<const unsigned char*>(data.data()), data.size(), out, &n);
  return std::string(reinterpret_cast<char*>(out), n);
}

std::string hash(const EVP_MD* md, std::string_view data) {
  unsigned char out[EVP_MAX_MD_SIZE];
  unsigned int n = 0;
  EVP_Digest(data.data(), data.size(), out, &n, md, nullptr);
  return std::string(reinterpret_cast<char*>(out), n);
}

std::string random_nonce() {
  unsigned char raw[24];
  RAND_bytes(raw, sizeof raw);
  return base64::encode(std::string_view(reinterpret_cast<char*>(raw), sizeof raw));
}

}  // namespace detail

namespace {

using detail::attributes;
using detail::digest_of;
using detail::hash;
using detail::hmac;
using detail::random_nonce;

// "n=alice" -> "alice" with RFC 5802's =2C / =3D escapes; nullopt when malformed.
std::optional<std::string> sasl_name(std::string_view v) {
  std::string out;
  for (size_t i = 0; i < v.size(); ++i) {
    if (v[i] == ',') return std::nullopt;
    if (v[i] != '=') {
      out.push_back(v[i]);
      continue;
    }
    if (v.substr(i, 3) == "=2C") {
      out.push_back(',');
    } else if (v.substr(i, 3) == "=3D") {
      out.push_back('=');
    } else {
      return std::nullopt;
    }
    i += 2;
  }
  return out;
}

}  // namespace

namespace detail {

std::vector<std::pair<char, std::string_view>> attributes(std::string_view s) {
  std::vector<std::pair<char, std::string_view>> out;
  size_t pos = 0;
  while (pos <= s.size()) {
    const auto comma = s.find(',', pos);
    const auto item = s.substr(pos, comma == std::string_view::npos ? s.npos : comma - pos);
    if (item.size() < 2 || item[1] != '=') return {};
    out.emplace_back(item[0], item.substr(2));
    if (comma == std::string_view::npos) break;
    pos = comma + 1;
  }
  return out;
}

}  // namespace detail

namespace {

class Scram final : public SaslMechanism {
 public:
  Scram(std::string_view mechanism, ScramLookup lookup, std::function<std::string()> nonce)
      : mechanism_(mechanism),
        md_(digest_of(mechanism)),
        lookup_(std::move(lookup)),
        nonce_(nonce ? std::move(nonce) : random_nonce) {}

  std::string_view name() const override { return mechanism_; }

  SaslStep step(std::string_view token) override {
    switch (stage_) {
      case Stage::first:
        return client_first(token);
      case Stage::final:
        return client_final(token);
      case Stage::over:
        break;
    }
    return fail("SCRAM exchange already finished");
  }

 private:
  enum class Stage { first, final, over };

  SaslStep fail(std::string detail) {
    stage_ = Stage::over;
    SaslStep out;
    out.error =
        "Authentication failed during authentication due to invalid credentials with SASL "
        "mechanism " +
        mechanism_;
    out.detail = std::move(detail);
    return out;
  }

  SaslStep client_first(std::string_view token) {
    // gs2-header: "n,," or "y,," (no channel binding), optionally "n,a=<authzid>,".
    const auto c1 = token.find(',');
    const auto c2 = c1 == token.npos ? token.npos : token.find(',', c1 + 1);
    if (c2 == token.npos) return fail("malformed SCRAM client-first message");
    const auto cbind = token.substr(0, c1);
    const auto authzid = token.substr(c1 + 1, c2 - c1 - 1);
    if (cbind != "n" && cbind != "y") return fail("SCRAM channel binding is not supported");
    gs2_header_ = std::string(token.substr(0, c2 + 1));
    client_first_bare_ = std::string(token.substr(c2 + 1));
    const auto attrs = attributes(client_first_bare_);
    if (attrs.size() < 2 || attrs[0].first != 'n' || attrs[1].first != 'r' ||
        attrs[1].second.empty()) {
      return fail("malformed SCRAM client-first message");
    }
    auto user = sasl_name(attrs[0].second);
    if (!user || user->empty()) return fail("malformed SCRAM user name");
    if (!authzid.empty() &&
        (authzid.substr(0, 2) != "a=" || sasl_name(authzid.substr(2)) != user)) {
      return fail("SCRAM authorization id differs from the user name");
    }
    user_ = *user;
    if (auto cred = lookup_(user_, mechanism_)) {
      credential_ = std::move(*cred);
      known_ = true;
    } else {
      // Same shape and cost as a real user: a stable made-up salt, the minimum iterations.
      credential_.salt = hmac(md_, "kaffa-scram-unknown-user", user_).substr(0, 16);
      credential_.iterations = kScramMinIterations;
      credential_.stored_key = hash(md_, nonce_());
      credential_.server_key = credential_.stored_key;
    }
    nonce_full_ = std::string(attrs[1].second) + nonce_();
    server_first_ = "r=" + nonce_full_ + ",s=" + base64::encode(credential_.salt) +
                    ",i=" + std::to_string(credential_.iterations);
    stage_ = Stage::final;
    SaslStep out;
    out.state = SaslStep::State::challenge;
    out.token = server_first_;
    return out;
  }

  SaslStep client_final(std::string_view token) {
    const auto proof_at = token.rfind(",p=");
    if (proof_at == token.npos) return fail("SCRAM client-final message without proof");
    const auto without_proof = token.substr(0, proof_at);
    const auto attrs = attributes(without_proof);
    if (attrs.size() < 2 || attrs[0].first != 'c' || attrs[1].first != 'r') {
      return fail("malformed SCRAM client-final message");
    }
    if (attrs[0].second != base64::encode(gs2_header_)) {
      return fail("SCRAM channel binding does not match the gs2 header");
    }
    // Kafka accepts a final nonce that ends with the server-first nonce: librdkafka 2.0 sends its
    // own nonce in front of the full one again.
    if (!attrs[1].second.ends_with(nonce_full_)) return fail("SCRAM nonce does not match");
    const auto proof = base64::decode(token.substr(proof_at + 3));
    const std::string auth_message =
        client_first_bare_ + "," + server_first_ + "," + std::string(without_proof);
    const std::string client_signature = hmac(md_, credential_.stored_key, auth_message);
    if (!proof || proof->size() != client_signature.size()) {
      return fail("malformed SCRAM proof for user '" + user_ + "'");
    }
    std::string client_key(proof->size(), '\0');
    for (size_t i = 0; i < client_key.size(); ++i)
      client_key[i] = (*proof)[i] ^ client_signature[i];
    const std::string computed = hash(md_, client_key);
    const bool match =
        computed.size() == credential_.stored_key.size() &&
        CRYPTO_memcmp(computed.data(), credential_.stored_key.data(), computed.size()) == 0;
    if (!match || !known_) {
      return fail(known_ ? "SCRAM proof rejected for user '" + user_ + "'"
                         : "SCRAM user '" + user_ + "' has no " + mechanism_ + " credential");
    }
    stage_ = Stage::over;
    SaslStep out;
    out.state = SaslStep::State::done;
    out.principal = "User:" + user_;
    out.token = "v=" + base64::encode(hmac(md_, credential_.server_key, auth_message));
    return out;
  }

  const std::string mechanism_;
  const EVP_MD* md_;
  ScramLookup lookup_;
  std::function<std::string()> nonce_;
  Stage stage_ = Stage::first;
  std::string user_;
  bool known_ = false;
  ScramCredential credential_;
  std::string gs2_header_;
  std::string client_first_bare_;
  std::string server_first_;
  std::string nonce_full_;
};

}  // namespace

std::string_view scram_mechanism_name(int8_t type) {
  return type == 1 ? kScramSha256 : type == 2 ? kScramSha512 : std::string_view();
}

int8_t scram_mechanism_type(std::string_view name) {
  return name == kScramSha256 ? 1 : name == kScramSha512 ? 2 : 0;
}

ScramCredential scram_credential(std::string_view mechanism, std::string salt,
                                 std::string_view salted_password, int32_t iterations) {
  const EVP_MD* md = digest_of(mechanism);
  ScramCredential c;
  c.salt = std::move(salt);
  c.iterations = iterations;
  c.stored_key = hash(md, hmac(md, salted_password, "Client Key"));
  c.server_key = hmac(md, salted_password, "Server Key");
  return c;
}

std::string scram_salted_password(std::string_view mechanism, std::string_view password,
                                  std::string_view salt, int32_t iterations) {
  const EVP_MD* md = digest_of(mechanism);
  std::string out(static_cast<size_t>(EVP_MD_get_size(md)), '\0');
  PKCS5_PBKDF2_HMAC(password.data(), static_cast<int>(password.size()),
                    reinterpret_cast<const unsigned char*>(salt.data()),
                    static_cast<int>(salt.size()), iterations, md, static_cast<int>(out.size()),
                    reinterpret_cast<unsigned char*>(out.data()));
  return out;
}

std::unique_ptr<SaslMechanism> make_scram(std::string_view mechanism, ScramLookup lookup,
                                          std::function<std::string()> nonce) {
  return std::make_unique<Scram>(mechanism, std::move(lookup), std::move(nonce));
}

}  // namespace kaffa::security
