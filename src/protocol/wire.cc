#include "protocol/wire.h"

#include <random>

#include "base/file.h"

namespace kaffa::protocol {

Uuid Uuid::random() {
  // Version-4 UUID from a per-thread generator seeded by the OS. Kafka reserves the all-zero id and
  // the one with only the last bit set (metadata topic); a random v4 id is never either.
  thread_local std::mt19937_64 gen{std::random_device{}()};
  Uuid u;
  for (size_t i = 0; i < 16; i += 8) {
    uint64_t x = gen();
    std::memcpy(u.bytes.data() + i, &x, 8);
  }
  u.bytes[6] = static_cast<uint8_t>((u.bytes[6] & 0x0f) | 0x40);
  u.bytes[8] = static_cast<uint8_t>((u.bytes[8] & 0x3f) | 0x80);
  return u;
}

std::string Uuid::to_base64() const {
  static constexpr char kAlphabet[] =
      "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
  std::string out;
  uint32_t acc = 0;
  int bits = 0;
  for (uint8_t b : bytes) {
    acc = (acc << 8) | b;
    bits += 8;
    while (bits >= 6) {
      bits -= 6;
      out.push_back(kAlphabet[(acc >> bits) & 0x3f]);
    }
  }
  if (bits > 0) out.push_back(kAlphabet[(acc << (6 - bits)) & 0x3f]);
  return out;
}

void Writer::file_range(const FileRange& f) {
  if (out_ == nullptr) {
    count_ += f.length;
  } else if (splices_ != nullptr) {
    splices_->push_back({out_->size(), f});
    spliced_ += f.length;
  } else {
    // No splice support at the destination (tests, TLS later): copy the bytes. A short read
    // leaves zeros, which the batch CRC exposes to the reader; the length stays as promised.
    const size_t start = out_->size();
    out_->resize(start + f.length);
    file::read_at(f.fd, out_->data() + start, f.length, f.offset);
  }
}

}  // namespace kaffa::protocol
