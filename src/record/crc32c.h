// CRC32C (Castagnoli), the checksum of RecordBatch v2.
//
// Threading: a pure function, safe from any thread.
#pragma once

#include <cstddef>
#include <cstdint>

namespace kaffa::record {

// CRC32C of n bytes at data, continuing from crc (the result of a previous call, 0 to start),
// with Kafka's conventions (initial and final inversion): crc32c("123456789") == 0xE3069283, and
// crc32c(b, nb, crc32c(a, na)) equals the CRC of a followed by b. Backed by ISA-L.
uint32_t crc32c(const void* data, size_t n, uint32_t crc = 0);

}  // namespace kaffa::record
