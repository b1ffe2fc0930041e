// Standard base64 (RFC 4648 section 4, with '=' padding): SCRAM's salts and proofs, the SCRAM
// credentials file, and etcd's JSON gateway (keys and values are base64 there); and base64url for
// OAUTHBEARER's tokens.
#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace kaffa::base64 {

std::string encode(std::string_view in);

// nullopt unless `in` is padded base64 of the standard alphabet (length a multiple of 4).
std::optional<std::string> decode(std::string_view in);

// base64url (RFC 4648 section 5: '-' and '_' for '+' and '/') without padding, as JWTs and JWKs
// write it; decode_url also takes the padded form, and refuses the standard alphabet's '+' '/'.
std::string encode_url(std::string_view in);
std::optional<std::string> decode_url(std::string_view in);

}  // namespace kaffa::base64
