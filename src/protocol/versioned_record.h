// Kafka's internal-topic record encoding (__consumer_offsets, __transaction_state): a key or value
// is an INT16 version followed by a generated message encoded at that version. These helpers
// write and read that form for any generated message type.
//
// Pure functions, any thread.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "protocol/wire.h"

namespace kaffa::protocol::versioned {

// INT16 version followed by the message at that version.
template <class M>
std::string encode(const M& msg, int16_t version) {
  std::string out;
  out.reserve(2 + msg.size(version));
  Writer w(out);
  w.int16(version);
  msg.encode(w, version);
  return out;
}

inline bool fail(std::string* error, std::string why) {
  if (error) *error = std::move(why);
  return false;
}

// Splits off the INT16 version.
inline bool read_version(std::string_view& bytes, int16_t& version, const char* what,
                         std::string* error) {
  if (bytes.size() < 2) return fail(error, std::string(what) + ": no version");
  Reader r(bytes.substr(0, 2));
  version = r.int16();
  bytes.remove_prefix(2);
  return true;
}

// Decodes `bytes` entirely as M at `version`; trailing bytes are an error.
template <class M>
bool decode_exact(std::string_view bytes, int16_t version, M& msg, const char* what,
                  std::string* error) {
  Reader r(bytes);
  if (!msg.decode(r, version)) {
    return fail(error, std::string(what) + " v" + std::to_string(version) + ": " + r.error());
  }
  if (r.remaining() != 0) {
    return fail(error, std::string(what) + " v" + std::to_string(version) + ": " +
                           std::to_string(r.remaining()) + " trailing bytes");
  }
  return true;
}

// Reads the version and decodes the rest as M, refusing versions outside M's range.
template <class M>
bool decode(std::string_view bytes, M& msg, const char* what, std::string* error) {
  int16_t version = 0;
  if (!read_version(bytes, version, what, error)) return false;
  if (version < M::kMinVersion || version > M::kMaxVersion) {
    return fail(error, std::string("unknown ") + what + " version " + std::to_string(version));
  }
  return decode_exact(bytes, version, msg, what, error);
}

}  // namespace kaffa::protocol::versioned
