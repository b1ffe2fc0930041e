// libFuzzer target over the SASL server side: the input picks a mechanism (PLAIN, SCRAM-SHA-256,
// SCRAM-SHA-512, OAUTHBEARER checking signed tokens, OAUTHBEARER taking unsigned ones) and is cut
// at 0xFF bytes into the tokens a client would send, one per step, as
// raw frames or SaslAuthenticate bodies carry them; the whole input is also parsed as JAAS text.
// Malformed, truncated or hostile tokens must fail cleanly: no out-of-bounds access (ASan), no
// undefined behaviour (UBSan), no authentication without the password (a success aborts, since
// the fuzzer cannot compute a SCRAM proof, know the PLAIN password or sign a token; unsigned
// OAUTHBEARER tokens may pass, by design), and once failed or done a mechanism never succeeds
// again. With the first byte's bit 7 set the tokens go instead to the
// client side (what a follower hears from the leader it logs in to): a SCRAM client must never
// finish, since the fuzzer cannot sign as a server that knows the password, and a failed client
// never recovers.
#include <openssl/evp.h>
#include <openssl/rsa.h>

#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>
#include <vector>

#include "base/base64.h"
#include "security/jwt.h"
#include "security/oauthbearer.h"
#include "security/sasl.h"
#include "security/scram.h"

namespace {

using namespace kaffa::security;

std::optional<ScramCredential> lookup(std::string_view user, std::string_view mechanism) {
  if (user != "u") return std::nullopt;  // one known user, so the proof check is reachable
  static const std::string salt = "0123456789abcdef";
  return scram_credential(mechanism, salt,
                          scram_salted_password(mechanism, "secret-not-in-any-input", salt, 4096),
                          4096);
}

// A key set of one RSA key (kid "k") whose private half nobody keeps.
std::shared_ptr<const OAuthBearerConfig> signed_config() {
  static const auto config = [] {
    EVP_PKEY* key = EVP_RSA_gen(2048);
    BIGNUM *n = nullptr, *e = nullptr;
    EVP_PKEY_get_bn_param(key, "n", &n);
    EVP_PKEY_get_bn_param(key, "e", &e);
    auto bytes = [](const BIGNUM* b) {
      std::string s(static_cast<size_t>(BN_num_bytes(b)), '\0');
      BN_bn2bin(b, reinterpret_cast<unsigned char*>(s.data()));
      return kaffa::base64::encode_url(s);
    };
    const std::string text =
        R"({"keys":[{"kty":"RSA","kid":"k","n":")" + bytes(n) + R"(","e":")" + bytes(e) + R"("}]})";
    BN_free(n);
    BN_free(e);
    EVP_PKEY_free(key);
    OAuthBearerConfig c;
    c.keys = std::make_shared<const jwt::KeySet>(*jwt::KeySet::parse(text, nullptr));
    return std::make_shared<const OAuthBearerConfig>(std::move(c));
  }();
  return config;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view in(reinterpret_cast<const char*>(data), size);
  std::string jaas_error;
  (void)parse_plain_jaas(in, &jaas_error);
  if (in.empty()) return 0;

  std::vector<std::string_view> tokens;
  size_t pos = 1;
  while (pos <= in.size() && tokens.size() < 4) {
    const auto cut = in.find('\xff', pos);
    tokens.push_back(
        in.substr(pos, cut == std::string_view::npos ? std::string_view::npos : cut - pos));
    if (cut == std::string_view::npos) break;
    pos = cut + 1;
  }
  if ((static_cast<uint8_t>(in[0]) & 0x80) != 0) {
    const bool sha512 = (in[0] & 1) != 0;
    auto client = make_sasl_client(sha512 ? kScramSha512 : kScramSha256, "u", "pw",
                                   [] { return std::string("clientnonce"); });
    (void)client->first();
    bool failed = false;
    for (const auto token : tokens) {
      const SaslClientStep step = client->step(token);
      if (step.state == SaslClientStep::State::done) std::abort();  // an unsigned server passed
      if (failed && step.state != SaslClientStep::State::failed) std::abort();
      if (step.state == SaslClientStep::State::failed) failed = true;
    }
    return 0;
  }

  std::unique_ptr<SaslMechanism> m;
  bool may_pass = false;
  switch (static_cast<uint8_t>(in[0]) % 5) {
    case 0:
      m = make_plain(
          std::make_shared<const PlainUsers>(PlainUsers{{"u", "secret-not-in-any-input"}}));
      break;
    case 1:
      m = make_scram(kScramSha256, lookup, [] { return std::string("servernonce"); });
      break;
    case 2:
      m = make_scram(kScramSha512, lookup, [] { return std::string("servernonce"); });
      break;
    case 3:
      m = make_oauthbearer(signed_config());
      break;
    default:
      m = make_oauthbearer(std::make_shared<const OAuthBearerConfig>());
      may_pass = true;
      break;
  }
  bool over = false;
  for (const auto token : tokens) {
    const SaslStep step = m->step(token);
    if (step.state == SaslStep::State::done && !may_pass) std::abort();  // without the secret
    if (over && step.state != SaslStep::State::failed) std::abort();
    if (step.state == SaslStep::State::failed) over = true;
  }
  return 0;
}
