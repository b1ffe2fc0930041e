#include "storage/cleaner_map.h"

#include <algorithm>
#include <bit>

namespace kaffa::storage {
namespace {

// A 64-bit hash of the bytes: 8-byte words mixed with the murmur3 finalizer, seeded. Two seeds
// give the two halves of the 128-bit key hash.
uint64_t mix(uint64_t x) {
  x ^= x >> 33;
  x *= 0xff51afd7ed558ccdULL;
  x ^= x >> 33;
  x *= 0xc4ceb9fe1a85ec53ULL;
  x ^= x >> 33;
  return x;
}

uint64_t hash_bytes(std::string_view s, uint64_t seed) {
  uint64_t h = seed ^ (s.size() * 0x9e3779b97f4a7c15ULL);
  size_t i = 0;
  for (; i + 8 <= s.size(); i += 8) {
    uint64_t w = 0;
    for (size_t k = 0; k < 8; ++k)
      w |= static_cast<uint64_t>(static_cast<uint8_t>(s[i + k])) << (8 * k);
    h = mix(h ^ w) * 0x9e3779b97f4a7c15ULL;
  }
  uint64_t tail = 0;
  for (size_t k = 0; i + k < s.size(); ++k) {
    tail |= static_cast<uint64_t>(static_cast<uint8_t>(s[i + k])) << (8 * k);
  }
  return mix(h ^ tail ^ 0x2545f4914f6cdd1dULL);
}

}  // namespace

OffsetMap::OffsetMap(size_t memory_bytes, size_t expected_keys, double load_factor) {
  const size_t max_slots = std::max<size_t>(memory_bytes / kSlotBytes, 2);
  const auto wanted = static_cast<size_t>(static_cast<double>(expected_keys) / load_factor) + 2;
  // A power of two no larger than the memory allows (linear probing with a mask).
  size_t slots = std::bit_floor(max_slots);
  if (wanted < slots) slots = std::max<size_t>(std::bit_ceil(wanted), 2);
  slots_.resize(slots);
  mask_ = slots - 1;
  max_entries_ = std::max<size_t>(1, static_cast<size_t>(static_cast<double>(slots) * load_factor));
  max_entries_ = std::min(max_entries_, slots - 1);  // one slot always stays empty
}

size_t OffsetMap::find(uint64_t h1, uint64_t h2) const {
  size_t i = static_cast<size_t>(h1) & mask_;
  while (slots_[i].h2 != 0 && (slots_[i].h1 != h1 || slots_[i].h2 != h2)) i = (i + 1) & mask_;
  return i;
}

bool OffsetMap::put(std::string_view key, int64_t offset) {
  const uint64_t h1 = hash_bytes(key, 0x6b61666661);
  uint64_t h2 = hash_bytes(key, 0x636c65616e6572);
  if (h2 == 0) h2 = 1;
  Slot& s = slots_[find(h1, h2)];
  if (s.h2 == 0) {
    if (entries_ >= max_entries_) return false;
    s.h1 = h1;
    s.h2 = h2;
    ++entries_;
  }
  s.offset = std::max(s.offset, offset);
  return true;
}

int64_t OffsetMap::get(std::string_view key) const {
  const uint64_t h1 = hash_bytes(key, 0x6b61666661);
  uint64_t h2 = hash_bytes(key, 0x636c65616e6572);
  if (h2 == 0) h2 = 1;
  const Slot& s = slots_[find(h1, h2)];
  return s.h2 == 0 ? -1 : s.offset;
}

void OffsetMap::clear() {
  std::fill(slots_.begin(), slots_.end(), Slot{});
  entries_ = 0;
}

}  // namespace kaffa::storage
