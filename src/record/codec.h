// Compression codecs of RecordBatch v2: the records section of a batch is one stream of the
// codec named by the batch attributes.
//
//   gzip    RFC 1952 gzip members (not raw deflate, not zlib); concatenated members are accepted.
//   snappy  either raw snappy (one block, as librdkafka writes it) or the Java
//           client's "xerial" framing: magic 82 'S' 'N' 'A' 'P' 'P' 'Y' 00, int32 version,
//           int32 compatible version, then blocks of [int32 big-endian length][raw snappy block].
//           Both decode; compress writes xerial (as the Java client does), blocks of 32 KiB.
//   lz4     LZ4 frame format (lz4frame.h), not the raw block format; concatenated frames accepted.
//   zstd    zstd frames; the decoder's window is limited to what max_out could need (at most
//           2^27), so a hostile frame cannot make it allocate a large window.
//
// Decompression is bounded: output beyond max_out bytes is an error, and the output buffer grows
// with the data actually produced (a bomb fails once it passes max_out, having allocated about
// max_out, never its claimed size).
//
// Threading: pure functions; safe from any thread.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

#include "record/batch.h"

namespace kaffa::record {

// Replaces out with the decompressed bytes of in. False (and a reason in *error when error is not
// null) on malformed, truncated or trailing-garbage input, an unknown codec, or output larger than
// max_out. Compression::none copies (subject to max_out as well).
bool decompress(Compression c, std::string_view in, std::string& out, size_t max_out,
                std::string* error);

// Replaces out with in compressed by c (gzip, snappy in xerial framing, lz4 frame, zstd level 3;
// none copies). False only for an unknown codec or an input the codec cannot take (> 4 GiB).
bool compress(Compression c, std::string_view in, std::string& out);

}  // namespace kaffa::record
