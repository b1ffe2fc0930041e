// Internal helpers of the record module: big-endian loads/stores and Kafka's zigzag varints.
// Not part of the public interface (no other module includes this header).
//
// Varints follow Kafka's ByteUtils: a varint is a zigzag-encoded int32 in at most 5 bytes, a
// varlong a zigzag-encoded int64 in at most 10 bytes, 7 bits per byte, least significant group
// first, the high bit of a byte set when another byte follows.
#pragma once

#include <cstddef>
#include <cstdint>
#include <limits>
#include <string>

namespace kaffa::record::wire {

inline uint16_t load_be16(const uint8_t* p) {
  return static_cast<uint16_t>((uint32_t{p[0]} << 8) | p[1]);
}
inline uint32_t load_be32(const uint8_t* p) {
  return (uint32_t{p[0]} << 24) | (uint32_t{p[1]} << 16) | (uint32_t{p[2]} << 8) | p[3];
}
inline uint64_t load_be64(const uint8_t* p) {
  return (uint64_t{load_be32(p)} << 32) | load_be32(p + 4);
}
inline void store_be16(uint8_t* p, uint16_t v) {
  p[0] = static_cast<uint8_t>(v >> 8);
  p[1] = static_cast<uint8_t>(v);
}
inline void store_be32(uint8_t* p, uint32_t v) {
  for (int i = 3; i >= 0; --i, v >>= 8) p[i] = static_cast<uint8_t>(v);
}
inline void store_be64(uint8_t* p, uint64_t v) {
  for (int i = 7; i >= 0; --i, v >>= 8) p[i] = static_cast<uint8_t>(v);
}

// Reads a varint from [p, end); advances p. False when it runs past end or is longer than
// 5 bytes. As in Kafka, bits beyond the 32nd in the fifth byte are ignored.
inline bool read_varint(const uint8_t*& p, const uint8_t* end, int32_t& out) {
  uint32_t raw = 0;
  for (int shift = 0; shift <= 28; shift += 7) {
    if (p == end) return false;
    const uint8_t b = *p++;
    raw |= static_cast<uint32_t>(b & 0x7f) << shift;
    if ((b & 0x80) == 0) {
      out = static_cast<int32_t>((raw >> 1) ^ (0u - (raw & 1)));
      return true;
    }
  }
  return false;
}

// Reads a varlong (at most 10 bytes) from [p, end); advances p.
inline bool read_varlong(const uint8_t*& p, const uint8_t* end, int64_t& out) {
  uint64_t raw = 0;
  for (int shift = 0; shift <= 63; shift += 7) {
    if (p == end) return false;
    const uint8_t b = *p++;
    raw |= static_cast<uint64_t>(b & 0x7f) << shift;
    if ((b & 0x80) == 0) {
      out = static_cast<int64_t>((raw >> 1) ^ (0ull - (raw & 1)));
      return true;
    }
  }
  return false;
}

inline void append_varlong(std::string& out, int64_t v) {
  uint64_t z = (static_cast<uint64_t>(v) << 1) ^ static_cast<uint64_t>(v >> 63);
  while (z >= 0x80) {
    out.push_back(static_cast<char>((z & 0x7f) | 0x80));
    z >>= 7;
  }
  out.push_back(static_cast<char>(z));
}
inline void append_varint(std::string& out, int32_t v) {
  append_varlong(out, v);
}

inline size_t varlong_size(int64_t v) {
  uint64_t z = (static_cast<uint64_t>(v) << 1) ^ static_cast<uint64_t>(v >> 63);
  size_t n = 1;
  while (z >= 0x80) {
    z >>= 7;
    ++n;
  }
  return n;
}

// Two's-complement addition without signed-overflow UB (Java's long arithmetic).
inline int64_t wrapping_add(int64_t a, int64_t b) {
  return static_cast<int64_t>(static_cast<uint64_t>(a) + static_cast<uint64_t>(b));
}
inline int64_t wrapping_sub(int64_t a, int64_t b) {
  return static_cast<int64_t>(static_cast<uint64_t>(a) - static_cast<uint64_t>(b));
}

// Addition and subtraction that stop at the int64 limits (time windows and horizons built from
// configured durations, which may be as large as Long.MAX_VALUE).
inline int64_t saturating_add(int64_t a, int64_t b) {
  int64_t r = 0;
  if (!__builtin_add_overflow(a, b, &r)) return r;
  return b > 0 ? std::numeric_limits<int64_t>::max() : std::numeric_limits<int64_t>::min();
}
inline int64_t saturating_sub(int64_t a, int64_t b) {
  int64_t r = 0;
  if (!__builtin_sub_overflow(a, b, &r)) return r;
  return b > 0 ? std::numeric_limits<int64_t>::min() : std::numeric_limits<int64_t>::max();
}

}  // namespace kaffa::record::wire
