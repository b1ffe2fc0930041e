// Re-encoding of the records section of batches with another codec: what a topic's (or the
// broker's) compression.type other than `producer` asks of every produced batch, as Kafka's
// LogValidator does. Every other field of a batch (producer id, epoch and sequence, timestamps,
// offsets, attributes other than the codec bits) is kept; batchLength and the CRC are rewritten.
//
// Threading: pure functions; safe from any thread.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>

#include "record/batch.h"

namespace kaffa::record {

// Whether some batch of data[0, n) (whole batches) is not compressed with `to`.
bool needs_recompression(const uint8_t* data, size_t n, Compression to);

// Replaces out with the batches of data[0, n), each with its records section compressed with
// `to` (batches already so are copied). The input must have passed validate_batches. False, with
// a reason in *error, when a section does not decompress within max_out bytes.
bool recompress_batches(const uint8_t* data, size_t n, Compression to, size_t max_out,
                        std::string& out, std::string* error);

}  // namespace kaffa::record
