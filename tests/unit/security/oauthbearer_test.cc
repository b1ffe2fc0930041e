// SASL/OAUTHBEARER and its JWTs: RFC 7628 messages, Kafka's unsecured validator, and signed
// tokens checked against a JWKS (RSA and EC keys made here with OpenSSL, tokens signed with them).
#include "security/oauthbearer.h"

#include <gtest/gtest.h>
#include <openssl/core_names.h>
#include <openssl/ecdsa.h>
#include <openssl/evp.h>
#include <openssl/rsa.h>

#include "base/base64.h"
#include "security/jwt.h"

namespace kaffa::security {
namespace {

using State = SaslStep::State;
constexpr int64_t kNow = 1'800'000'000'000;  // ms

std::string b64(std::string_view s) {
  return base64::encode_url(s);
}

struct Signer {
  std::shared_ptr<EVP_PKEY> key;
  std::string alg;  // RS256 or ES256
  std::string kid;

  static Signer rsa(std::string kid, unsigned bits = 2048) {
    return {std::shared_ptr<EVP_PKEY>(EVP_RSA_gen(bits), EVP_PKEY_free), "RS256", std::move(kid)};
  }
  static Signer ec(std::string kid) {
    return {std::shared_ptr<EVP_PKEY>(EVP_EC_gen("P-256"), EVP_PKEY_free), "ES256", std::move(kid)};
  }
  std::string param(const char* name, size_t pad = 0) const {
    BIGNUM* bn = nullptr;
    EVP_PKEY_get_bn_param(key.get(), name, &bn);
    std::string out(pad ? pad : static_cast<size_t>(BN_num_bytes(bn)), '\0');
    BN_bn2binpad(bn, reinterpret_cast<unsigned char*>(out.data()), static_cast<int>(out.size()));
    BN_free(bn);
    return out;
  }
  // This key as a JWK.
  std::string jwk() const {
    if (alg == "RS256") {
      return R"({"kty":"RSA","use":"sig","kid":")" + kid + R"(","n":")" +
             b64(param(OSSL_PKEY_PARAM_RSA_N)) + R"(","e":")" + b64(param(OSSL_PKEY_PARAM_RSA_E)) +
             R"("})";
    }
    return R"({"kty":"EC","crv":"P-256","kid":")" + kid + R"(","x":")" +
           b64(param(OSSL_PKEY_PARAM_EC_PUB_X, 32)) + R"(","y":")" +
           b64(param(OSSL_PKEY_PARAM_EC_PUB_Y, 32)) + R"("})";
  }
  std::string sign(const std::string& claims, std::string header = "") const {
    if (header.empty()) header = R"({"alg":")" + alg + R"(","kid":")" + kid + R"("})";
    const std::string input = b64(header) + "." + b64(claims);
    EVP_MD_CTX* md = EVP_MD_CTX_new();
    size_t n = 0;
    EVP_DigestSignInit(md, nullptr, EVP_sha256(), nullptr, key.get());
    EVP_DigestSign(md, nullptr, &n, reinterpret_cast<const unsigned char*>(input.data()),
                   input.size());
    std::string sig(n, '\0');
    EVP_DigestSign(md, reinterpret_cast<unsigned char*>(sig.data()), &n,
                   reinterpret_cast<const unsigned char*>(input.data()), input.size());
    EVP_MD_CTX_free(md);
    sig.resize(n);
    if (alg == "ES256") {  // DER to JWA's r || s
      const auto* p = reinterpret_cast<const unsigned char*>(sig.data());
      ECDSA_SIG* es = d2i_ECDSA_SIG(nullptr, &p, static_cast<long>(sig.size()));
      std::string raw(64, '\0');
      BN_bn2binpad(ECDSA_SIG_get0_r(es), reinterpret_cast<unsigned char*>(raw.data()), 32);
      BN_bn2binpad(ECDSA_SIG_get0_s(es), reinterpret_cast<unsigned char*>(raw.data()) + 32, 32);
      ECDSA_SIG_free(es);
      sig = raw;
    }
    return input + "." + b64(sig);
  }
};

std::string unsecured(const std::string& claims) {
  return b64(R"({"alg":"none"})") + "." + b64(claims) + ".";
}

std::string message(const std::string& token, const std::string& authzid = "") {
  return "n," + (authzid.empty() ? "" : "a=" + authzid) + ",\x01" + "auth=Bearer " + token +
         "\x01\x01";
}

std::string claims(std::string sub, int64_t exp_s, std::string more = "") {
  return R"({"sub":")" + sub + R"(","iat":)" + std::to_string(kNow / 1000 - 10) + R"(,"exp":)" +
         std::to_string(exp_s) + more + "}";
}

OAuthBearerConfig base_config() {
  OAuthBearerConfig c;
  c.now_ms = [] { return kNow; };
  return c;
}

SaslStep run(const OAuthBearerConfig& c, const std::string& msg) {
  return make_oauthbearer(std::make_shared<const OAuthBearerConfig>(c))->step(msg);
}

const int64_t kLater = kNow / 1000 + 600;

TEST(JwtDecode, ThreePartsWhoseFirstTwoAreObjects) {
  std::string why;
  EXPECT_FALSE(jwt::decode("a.b", &why));
  EXPECT_FALSE(jwt::decode(b64("{}") + "." + b64("{}") + ".+", &why));
  EXPECT_FALSE(jwt::decode(b64("[]") + "." + b64("{}") + ".", &why));
  EXPECT_NE(why.find("not a JSON object"), std::string::npos);
  auto t = jwt::decode(b64(R"({"alg":"none"})") + "." + b64(R"({"sub":"a"})") + ".", &why);
  ASSERT_TRUE(t) << why;
  EXPECT_EQ(t->alg(), "none");
  EXPECT_EQ(t->claims["sub"].as_string(), "a");
  EXPECT_TRUE(t->signature.empty());
}

TEST(OAuthBearer, UnsecuredTokensAsKafkasDefaultValidator) {
  const auto c = base_config();
  auto ok = run(c, message(unsecured(claims("alice", kLater))));
  EXPECT_EQ(ok.state, State::done);
  EXPECT_EQ(ok.principal, "User:alice");
  EXPECT_TRUE(ok.token.empty());
  EXPECT_EQ(run(c, message(unsecured(claims("alice", kLater)), "alice")).state, State::done);
  // Rejected tokens get the invalid_token challenge.
  for (const auto& bad : {
           unsecured(claims("alice", kNow / 1000 - 1)),                       // expired
           unsecured(R"({"sub":"alice"})"),                                   // no exp
           unsecured(R"({"exp":)" + std::to_string(kLater) + "}"),            // no sub
           unsecured(claims("alice", kLater, R"(,"iat2":1)")).substr(0, 10),  // cut short
           b64(R"({"alg":"RS256"})") + "." + b64(claims("alice", kLater)) + ".",
           unsecured(claims("alice", kLater)) + "c2ln",  // a signature
           unsecured(R"({"sub":"alice","iat":)" + std::to_string(kNow / 1000 + 60) + R"(,"exp":)" +
                     std::to_string(kLater) + "}"),  // issued in the future
       }) {
    auto r = run(c, message(bad));
    EXPECT_EQ(r.state, State::challenge) << bad;
    EXPECT_EQ(r.token, R"({"status":"invalid_token"})") << bad;
  }
  // The clock skew allowed, from the JAAS options.
  auto skewed =
      OAuthBearerConfig::unsecured({{"unsecuredValidatorAllowableClockSkewMs", "5000"}}, nullptr);
  ASSERT_TRUE(skewed);
  skewed->now_ms = c.now_ms;
  EXPECT_EQ(run(*skewed, message(unsecured(claims("alice", kNow / 1000 - 2)))).state, State::done);
  EXPECT_FALSE(
      OAuthBearerConfig::unsecured({{"unsecuredValidatorAllowableClockSkewMs", "x"}}, nullptr));
  // Times beyond any calendar neither overflow nor pass where they should not.
  EXPECT_EQ(run(c, message(unsecured(R"({"sub":"a","exp":1e300})"))).state, State::done);
  EXPECT_EQ(run(c, message(unsecured(R"({"sub":"a","exp":-1e300})"))).state, State::challenge);
  EXPECT_EQ(run(c, message(unsecured(R"({"sub":"a","iat":1e300,"exp":1e301})"))).state,
            State::challenge);
  // An authorization id other than the principal fails at once.
  auto other = run(c, message(unsecured(claims("alice", kLater)), "bob"));
  EXPECT_EQ(other.state, State::failed);
  EXPECT_NE(other.error.find("(bob) that is different from the token's principal name (alice)"),
            std::string::npos);
}

TEST(OAuthBearer, RequiredScopesAndThePrincipalClaim) {
  auto c = OAuthBearerConfig::unsecured({{"unsecuredValidatorRequiredScope", "write read"},
                                         {"unsecuredValidatorPrincipalClaimName", "user"},
                                         {"unsecuredValidatorScopeClaimName", "scp"}},
                                        nullptr);
  ASSERT_TRUE(c);
  c->now_ms = [] { return kNow; };
  const std::string exp = R"(,"exp":)" + std::to_string(kLater);
  auto ok = run(*c, message(unsecured(R"({"user":"carol","scp":["read","write"])" + exp + "}")));
  EXPECT_EQ(ok.state, State::done);
  EXPECT_EQ(ok.principal, "User:carol");
  EXPECT_EQ(
      run(*c, message(unsecured(R"({"user":"carol","scp":"write read x")" + exp + "}"))).state,
      State::done);
  auto m = make_oauthbearer(std::make_shared<const OAuthBearerConfig>(*c));
  auto missing = m->step(message(unsecured(R"({"user":"carol","scp":"read")" + exp + "}")));
  EXPECT_EQ(missing.state, State::challenge);
  EXPECT_EQ(missing.token, R"({"status":"insufficient_scope", "scope":"write read"})");
  // The client's ^A after the challenge ends the exchange with that text.
  auto end = m->step("\x01");
  EXPECT_EQ(end.state, State::failed);
  EXPECT_EQ(end.error, missing.token);
  EXPECT_NE(end.detail.find("scope 'write' missing"), std::string::npos);
}

TEST(OAuthBearer, MalformedMessagesFail) {
  const auto c = base_config();
  const std::string t = unsecured(claims("alice", kLater));
  for (const std::string& bad : {
           std::string("y,,\x01"
                       "auth=Bearer ") +
               t + "\x01\x01",  // GS2 flag other than n
           std::string("n,,\x01"
                       "auth=Basic ") +
               t + "\x01\x01",  // not Bearer
           std::string("n,,\x01"
                       "x=1\x01\x01"),  // no auth
           std::string("n,,\x01"
                       "auth=Bearer ") +
               t + "\x01",  // no final ^A
           std::string("n,,\x01"
                       "auth=Bearer a$b\x01\x01"),  // token characters
           std::string("n,,\x01"
                       "1x=y\x01"
                       "auth=Bearer ") +
               t + "\x01\x01",  // key
           std::string("n,a=,\x01"
                       "auth=Bearer ") +
               t + "\x01\x01",  // empty authzid
           std::string(""),
       }) {
    EXPECT_EQ(run(c, bad).state, State::failed) << bad;
  }
  // Extensions are taken and not used; the scheme's case does not matter.
  EXPECT_EQ(run(c,
                "n,,\x01"
                "traceId=abc 1\x01"
                "auth=bearer " +
                    t + "\x01\x01")
                .state,
            State::done);
  // One message only.
  auto m = make_oauthbearer(std::make_shared<const OAuthBearerConfig>(c));
  EXPECT_EQ(m->step(message(t)).state, State::done);
  EXPECT_EQ(m->step(message(t)).state, State::failed);
}

TEST(OAuthBearer, SignedTokensCheckedAgainstTheKeySet) {
  const Signer rsa = Signer::rsa("r1"), ec = Signer::ec("e1"), stranger = Signer::rsa("r1");
  std::string why;
  auto keys = jwt::KeySet::parse(
      R"({"keys":[)" + rsa.jwk() + "," + ec.jwk() + R"(,{"kty":"oct","k":"c2VjcmV0"}]})", &why);
  ASSERT_TRUE(keys) << why;
  EXPECT_EQ(keys->size(), 2u);  // the symmetric key is skipped
  auto c = base_config();
  c.keys = std::make_shared<const jwt::KeySet>(std::move(*keys));
  c.clock_skew_ms = 30000;
  c.expected_audience = {"kafka", "other"};
  c.expected_issuer = "https://idp";
  const std::string good = claims("svc", kLater, R"(,"aud":["x","kafka"],"iss":"https://idp")");
  auto ok = run(c, message(rsa.sign(good)));
  EXPECT_EQ(ok.state, State::done) << ok.detail;
  EXPECT_EQ(ok.principal, "User:svc");
  EXPECT_EQ(run(c, message(ec.sign(good))).state, State::done);
  auto rejected = [&](const std::string& token, const std::string& reason) {
    auto m = make_oauthbearer(std::make_shared<const OAuthBearerConfig>(c));
    auto r = m->step(message(token));
    EXPECT_EQ(r.state, State::challenge) << reason;
    EXPECT_EQ(r.token, R"({"status":"invalid_token"})") << reason;
    auto end = m->step("\x01");
    EXPECT_NE(end.detail.find(reason), std::string::npos) << end.detail;
  };
  rejected(stranger.sign(good), "does not verify");  // same kid, another key
  const std::string signed_good = rsa.sign(good);
  const auto dot = signed_good.find('.');
  rejected(signed_good.substr(0, dot + 1) +
               b64(claims("root", kLater, R"(,"aud":"kafka","iss":"https://idp")")) +
               signed_good.substr(signed_good.rfind('.')),
           "does not verify");  // claims changed after signing
  rejected(unsecured(good), "alg 'none'");
  rejected(rsa.sign(good, R"({"alg":"RS256","kid":"nobody"})"), "no key has the token's kid");
  rejected(rsa.sign(good, R"({"alg":"RS256"})"), "names no kid");
  rejected(rsa.sign(good, R"({"alg":"ES256","kid":"r1"})"), "does not fit");
  rejected(rsa.sign(claims("svc", kLater, R"(,"aud":"nope","iss":"https://idp")")), "audience");
  rejected(rsa.sign(claims("svc", kLater, R"(,"aud":"kafka","iss":"https://evil")")), "issuer");
  rejected(rsa.sign(R"({"sub":"svc","exp":)" + std::to_string(kLater) +
                    R"(,"aud":"kafka","iss":"https://idp"})"),
           "no iat");
  rejected(rsa.sign(claims("svc", kNow / 1000 - 31, R"(,"aud":"kafka","iss":"https://idp")")),
           "expired");
  rejected(rsa.sign(claims("svc", kLater,
                           R"(,"nbf":)" + std::to_string(kNow / 1000 + 60) +
                               R"(,"aud":"kafka","iss":"https://idp")")),
           "nbf");
  // Within the skew: expired 20 s ago is still good.
  EXPECT_EQ(run(c, message(rsa.sign(R"({"sub":"svc","iat":)" + std::to_string(kNow / 1000 - 100) +
                                    R"(,"exp":)" + std::to_string(kNow / 1000 - 20) +
                                    R"(,"aud":"kafka","iss":"https://idp"})")))
                .state,
            State::done);
}

TEST(JwtKeySet, RefusesWeakOrMalformedKeys) {
  std::string why;
  EXPECT_FALSE(jwt::KeySet::parse(R"({"keys":[)" + Signer::rsa("small", 1024).jwk() + "]}", &why));
  EXPECT_NE(why.find("fewer than 2048 bits"), std::string::npos);
  EXPECT_FALSE(
      jwt::KeySet::parse(R"({"keys":[{"kty":"RSA","kid":"k","n":"!!","e":"AQAB"}]})", &why));
  EXPECT_FALSE(
      jwt::KeySet::parse(R"({"keys":[{"kty":"EC","crv":"P-521","x":"AA","y":"AA"}]})", &why));
  EXPECT_NE(why.find("P-521"), std::string::npos);
  EXPECT_FALSE(
      jwt::KeySet::parse(R"({"keys":[{"kty":"EC","crv":"P-256","x":"AA","y":"AA"}]})", &why));
  EXPECT_FALSE(jwt::KeySet::parse(R"({"nokeys":[]})", &why));
  EXPECT_FALSE(jwt::KeySet::parse("not json", &why));
  // Encryption keys are skipped.
  auto enc =
      jwt::KeySet::parse(R"({"keys":[{"kty":"RSA","use":"enc","n":"AA","e":"AQAB"}]})", &why);
  ASSERT_TRUE(enc);
  EXPECT_EQ(enc->size(), 0u);
}

}  // namespace
}  // namespace kaffa::security
