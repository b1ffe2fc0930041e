// JWS compact tokens and JWK sets on OpenSSL 3's EVP API (keys built from their parameters with
// EVP_PKEY_fromdata, signatures checked with EVP_DigestVerify).
#include "security/jwt.h"

#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/ecdsa.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/param_build.h>

#include <array>

#include "base/base64.h"

namespace kaffa::security::jwt {
namespace {

struct Alg {
  std::string_view name;
  std::string_view kty;
  const EVP_MD* (*digest)();
  std::string_view curve;  // EC: Kafka's (JWA's) curve name
  size_t ec_size;
};

constexpr std::array<Alg, 5> kAlgs = {{
    {"RS256", "RSA", EVP_sha256, "", 0},
    {"RS384", "RSA", EVP_sha384, "", 0},
    {"RS512", "RSA", EVP_sha512, "", 0},
    {"ES256", "EC", EVP_sha256, "P-256", 32},
    {"ES384", "EC", EVP_sha384, "P-384", 48},
}};

const Alg* find_alg(std::string_view name) {
  for (const auto& a : kAlgs) {
    if (a.name == name) return &a;
  }
  return nullptr;
}

template <class T, void (*Free)(T*)>
struct Deleter {
  void operator()(T* p) const { Free(p); }
};
using Bignum = std::unique_ptr<BIGNUM, Deleter<BIGNUM, BN_free>>;
using ParamBuild = std::unique_ptr<OSSL_PARAM_BLD, Deleter<OSSL_PARAM_BLD, OSSL_PARAM_BLD_free>>;
using Params = std::unique_ptr<OSSL_PARAM, Deleter<OSSL_PARAM, OSSL_PARAM_free>>;
using PkeyCtx = std::unique_ptr<EVP_PKEY_CTX, Deleter<EVP_PKEY_CTX, EVP_PKEY_CTX_free>>;
using MdCtx = std::unique_ptr<EVP_MD_CTX, Deleter<EVP_MD_CTX, EVP_MD_CTX_free>>;
using EcSig = std::unique_ptr<ECDSA_SIG, Deleter<ECDSA_SIG, ECDSA_SIG_free>>;

Bignum bignum(std::string_view bytes) {
  return Bignum(BN_bin2bn(reinterpret_cast<const unsigned char*>(bytes.data()),
                          static_cast<int>(bytes.size()), nullptr));
}

// A public key of `type` ("RSA", "EC") from the parameters `bld` holds.
std::shared_ptr<EVP_PKEY> public_key(const char* type, OSSL_PARAM_BLD* bld) {
  Params params(OSSL_PARAM_BLD_to_param(bld));
  PkeyCtx ctx(EVP_PKEY_CTX_new_from_name(nullptr, type, nullptr));
  EVP_PKEY* pkey = nullptr;
  if (!params || !ctx || EVP_PKEY_fromdata_init(ctx.get()) != 1 ||
      EVP_PKEY_fromdata(ctx.get(), &pkey, EVP_PKEY_PUBLIC_KEY, params.get()) != 1) {
    return nullptr;
  }
  return std::shared_ptr<EVP_PKEY>(pkey, EVP_PKEY_free);
}

std::shared_ptr<EVP_PKEY> rsa_key(std::string_view n, std::string_view e) {
  Bignum bn_n = bignum(n), bn_e = bignum(e);
  ParamBuild bld(OSSL_PARAM_BLD_new());
  if (!bn_n || !bn_e || !bld ||
      !OSSL_PARAM_BLD_push_BN(bld.get(), OSSL_PKEY_PARAM_RSA_N, bn_n.get()) ||
      !OSSL_PARAM_BLD_push_BN(bld.get(), OSSL_PKEY_PARAM_RSA_E, bn_e.get())) {
    return nullptr;
  }
  return public_key("RSA", bld.get());
}

std::shared_ptr<EVP_PKEY> ec_key(const char* group, const std::string& point) {
  ParamBuild bld(OSSL_PARAM_BLD_new());
  if (!bld || !OSSL_PARAM_BLD_push_utf8_string(bld.get(), OSSL_PKEY_PARAM_GROUP_NAME, group, 0) ||
      !OSSL_PARAM_BLD_push_octet_string(bld.get(), OSSL_PKEY_PARAM_PUB_KEY, point.data(),
                                        point.size())) {
    return nullptr;
  }
  return public_key("EC", bld.get());
}

// JWA's r || s as the DER ECDSA-Sig-Value OpenSSL verifies; nullopt when the size is wrong.
std::optional<std::string> ecdsa_der(std::string_view raw, size_t half) {
  if (raw.size() != 2 * half) return std::nullopt;
  EcSig sig(ECDSA_SIG_new());
  Bignum r = bignum(raw.substr(0, half)), s = bignum(raw.substr(half));
  if (!sig || !r || !s || ECDSA_SIG_set0(sig.get(), r.get(), s.get()) != 1) return std::nullopt;
  r.release();  // owned by sig now
  s.release();
  const int len = i2d_ECDSA_SIG(sig.get(), nullptr);
  if (len <= 0) return std::nullopt;
  std::string der(static_cast<size_t>(len), '\0');
  auto* p = reinterpret_cast<unsigned char*>(der.data());
  i2d_ECDSA_SIG(sig.get(), &p);
  return der;
}

std::optional<json::Value> decode_object(std::string_view part, const char* what,
                                         std::string* error) {
  auto fail = [&](std::string why) -> std::optional<json::Value> {
    if (error) *error = std::string(what) + " " + why;
    return std::nullopt;
  };
  auto bytes = base64::decode_url(part);
  if (!bytes) return fail("is not base64url");
  std::string why;
  auto v = json::parse(*bytes, &why);
  if (!v) return fail("is not JSON: " + why);
  if (!v->is_object()) return fail("is not a JSON object");
  return v;
}

}  // namespace

std::optional<Token> decode(std::string_view compact, std::string* error) {
  const auto first = compact.find('.');
  const auto second = first == std::string_view::npos ? first : compact.find('.', first + 1);
  if (second == std::string_view::npos || compact.find('.', second + 1) != std::string_view::npos) {
    if (error) *error = "the token is not three dot-separated parts";
    return std::nullopt;
  }
  Token t;
  auto header = decode_object(compact.substr(0, first), "the token's header", error);
  if (!header) return std::nullopt;
  auto claims = decode_object(compact.substr(first + 1, second - first - 1), "its claims", error);
  if (!claims) return std::nullopt;
  auto signature = base64::decode_url(compact.substr(second + 1));
  if (!signature) {
    if (error) *error = "the token's signature is not base64url";
    return std::nullopt;
  }
  t.header = std::move(*header);
  t.claims = std::move(*claims);
  t.signing_input = std::string(compact.substr(0, second));
  t.signature = std::move(*signature);
  return t;
}

std::optional<KeySet> KeySet::parse(std::string_view text, std::string* error) {
  auto fail = [&](std::string why) -> std::optional<KeySet> {
    if (error) *error = std::move(why);
    ERR_clear_error();
    return std::nullopt;
  };
  std::string why;
  auto doc = json::parse(text, &why);
  if (!doc) return fail("the key set is not JSON: " + why);
  const json::Value* keys = doc->find("keys");
  if (!keys || !keys->is_array()) return fail("the key set has no \"keys\" array");
  KeySet out;
  for (const auto& k : keys->items()) {
    Key key;
    key.kty = k["kty"].as_string();
    key.kid = k["kid"].as_string();
    key.alg = k["alg"].as_string();
    const std::string& use = k["use"].as_string();
    if ((key.kty != "RSA" && key.kty != "EC") || (!use.empty() && use != "sig")) continue;
    const std::string name = "key '" + key.kid + "'";
    if (key.kty == "RSA") {
      auto n = base64::decode_url(k["n"].as_string());
      auto e = base64::decode_url(k["e"].as_string());
      if (!n || !e || n->empty() || e->empty()) return fail(name + " has no valid n and e");
      key.pkey = rsa_key(*n, *e);
      // As jose4j, which Kafka's validator uses: RSA keys of fewer than 2048 bits are refused.
      if (key.pkey && EVP_PKEY_get_bits(key.pkey.get()) < 2048) {
        return fail(name + " is an RSA key of fewer than 2048 bits");
      }
    } else {
      const std::string& crv = k["crv"].as_string();
      const Alg* alg = crv == "P-256"   ? find_alg("ES256")
                       : crv == "P-384" ? find_alg("ES384")
                                        : nullptr;
      if (!alg) return fail(name + " is on curve '" + crv + "' (P-256 and P-384 are served)");
      auto x = base64::decode_url(k["x"].as_string());
      auto y = base64::decode_url(k["y"].as_string());
      if (!x || !y || x->size() != alg->ec_size || y->size() != alg->ec_size) {
        return fail(name + " has no valid x and y");
      }
      key.ec_size = alg->ec_size;
      key.pkey = ec_key(crv == "P-256" ? "prime256v1" : "secp384r1", "\x04" + *x + *y);
    }
    if (!key.pkey) return fail(name + " is not a valid " + key.kty + " public key");
    out.keys_.push_back(std::move(key));
  }
  return out;
}

bool KeySet::verify(const Token& t, std::string* error) const {
  auto fail = [&](std::string why) {
    if (error) *error = std::move(why);
    ERR_clear_error();  // the loop's TLS connections read this thread's error queue
    return false;
  };
  const Alg* alg = find_alg(t.alg());
  if (!alg) return fail("the token's alg '" + t.alg() + "' is not accepted");
  const json::Value* kid_value = t.header.find("kid");
  const Key* key = nullptr;
  if (kid_value) {
    for (const auto& k : keys_) {
      if (k.kid == kid_value->as_string()) key = &k;
    }
    if (!key) return fail("no key has the token's kid '" + kid_value->as_string() + "'");
  } else {
    if (keys_.size() != 1) return fail("the token names no kid and the key set has several keys");
    key = &keys_.front();
  }
  if (key->kty != alg->kty || (!key->alg.empty() && key->alg != alg->name) ||
      (alg->ec_size != 0 && alg->ec_size != key->ec_size)) {
    return fail("the token's alg " + t.alg() + " does not fit key '" + key->kid + "'");
  }
  std::string der;
  std::string_view sig = t.signature;
  if (alg->ec_size != 0) {
    auto converted = ecdsa_der(t.signature, alg->ec_size);
    if (!converted) return fail("the token's signature has the wrong size");
    der = std::move(*converted);
    sig = der;
  }
  MdCtx md(EVP_MD_CTX_new());
  if (!md ||
      EVP_DigestVerifyInit(md.get(), nullptr, alg->digest(), nullptr, key->pkey.get()) != 1 ||
      EVP_DigestVerify(md.get(), reinterpret_cast<const unsigned char*>(sig.data()), sig.size(),
                       reinterpret_cast<const unsigned char*>(t.signing_input.data()),
                       t.signing_input.size()) != 1) {
    return fail("the token's signature does not verify");
  }
  return true;
}

}  // namespace kaffa::security::jwt
