// Internal to the SCRAM server (scram.cc) and client (scram_client.cc): the digest functions and
// the attribute syntax of RFC 5802 messages.
#pragma once

#include <openssl/evp.h>

#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace kaffa::security::detail {

const EVP_MD* digest_of(std::string_view mechanism);  // SHA-512 for SCRAM-SHA-512, else SHA-256
std::string hmac(const EVP_MD* md, std::string_view key, std::string_view data);
std::string hash(const EVP_MD* md, std::string_view data);
std::string random_nonce();  // 24 random bytes in base64
// Splits "a=x,b=y" into attributes in order; empty when malformed.
std::vector<std::pair<char, std::string_view>> attributes(std::string_view s);

}  // namespace kaffa::security::detail
