#include "record/crc32c.h"

#include <isa-l.h>

#include <climits>

namespace kaffa::record {

uint32_t crc32c(const void* data, size_t n, uint32_t crc) {
  // crc32_iscsi takes an int length and a non-const pointer it does not write through.
  auto* p = static_cast<unsigned char*>(const_cast<void*>(data));
  uint32_t state = ~crc;
  constexpr size_t kChunk = size_t{1} << 30;
  while (n > 0) {
    const size_t len = n < kChunk ? n : kChunk;
    state = crc32_iscsi(p, static_cast<int>(len), state);
    p += len;
    n -= len;
  }
  return ~state;
}

}  // namespace kaffa::record
