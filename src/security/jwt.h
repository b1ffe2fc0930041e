// JSON Web Tokens (RFC 7519) in their compact JWS form (RFC 7515), as the OAUTHBEARER validators
// read them: the header and claims decoded from base64url (base64::decode_url), and
// the signature checked against a JSON Web Key Set (RFC 7517) — RSA keys for RS256/RS384/RS512 and
// EC keys on P-256/P-384 for ES256/ES384 (RFC 7518; an ECDSA signature is r || s, each the curve's
// size). Unsigned tokens (alg "none") are only decoded here: whether to accept one is the caller's
// choice (oauthbearer.h).
//
// Threading: a KeySet is immutable once parsed and can be shared by every loop.
#pragma once

#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "base/json_reader.h"

typedef struct evp_pkey_st EVP_PKEY;

namespace kaffa::security::jwt {

struct Token {
  json::Value header;         // an object
  json::Value claims;         // an object
  std::string signing_input;  // "<header>.<claims>" as sent
  std::string signature;      // decoded; empty for alg "none"
  const std::string& alg() const { return header["alg"].as_string(); }
};

// Splits and decodes `header.claims.signature`; nullopt with *error when it is not three base64url
// parts whose first two are JSON objects.
std::optional<Token> decode(std::string_view compact, std::string* error);

class KeySet {
 public:
  // {"keys": [{"kty": "RSA", "kid": ..., "n": ..., "e": ...}, {"kty": "EC", "crv": "P-256",
  // "x": ..., "y": ...}, ...]}. Keys of other types, or whose "use" is not "sig", are skipped;
  // a malformed key of a known type is an error.
  static std::optional<KeySet> parse(std::string_view text, std::string* error);

  // Whether the signature of `t` verifies with the key its header's "kid" names (the only key
  // when the header names none), for the header's "alg". On false, *error says why.
  bool verify(const Token& t, std::string* error) const;
  size_t size() const { return keys_.size(); }

 private:
  struct Key {
    std::string kid;
    std::string kty;     // "RSA" or "EC"
    std::string alg;     // the key's own "alg", if it names one
    size_t ec_size = 0;  // bytes of r and of s (EC)
    std::shared_ptr<EVP_PKEY> pkey;
  };
  std::vector<Key> keys_;
};

}  // namespace kaffa::security::jwt
