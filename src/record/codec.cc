#include "record/codec.h"

#include <lz4frame.h>
#include <snappy.h>
#include <zlib.h>
#include <zstd.h>

#include <algorithm>
#include <climits>
#include <cstring>
#include <memory>

#include "record/wire.h"

namespace kaffa::record {
namespace {

constexpr size_t kMinChunk = size_t{64} << 10;
constexpr char kXerialMagic[8] = {'\x82', 'S', 'N', 'A', 'P', 'P', 'Y', '\0'};
constexpr size_t kXerialHeaderSize = 16;  // magic, int32 version, int32 compatible version
constexpr size_t kXerialBlockSize = size_t{32} << 10;

bool fail(std::string* error, std::string_view why) {
  if (error) error->assign(why);
  return false;
}

// The output of a streaming decoder: grows geometrically with the data produced, up to
// max_out + 1 bytes, so that "exactly max_out" is told apart from "more than max_out".
class BoundedOutput {
 public:
  BoundedOutput(std::string& out, size_t max_out, size_t input_size)
      : out_(out), limit_(max_out == SIZE_MAX ? max_out : max_out + 1) {
    out_.clear();
    const size_t hint = input_size > SIZE_MAX / 4 ? SIZE_MAX : input_size * 4;
    out_.resize(std::min(limit_, std::max(hint, kMinChunk)));
  }
  char* cursor() { return out_.data() + used_; }
  size_t avail() const { return out_.size() - used_; }
  void advance(size_t n) { used_ += n; }
  bool over_limit() const { return used_ == limit_ && limit_ != SIZE_MAX; }
  // Makes room for more output; false when the limit is reached.
  bool grow() {
    if (avail() > 0) return true;
    if (out_.size() >= limit_) return false;
    const size_t next = out_.size() > limit_ / 2 ? limit_ : std::max(out_.size() * 2, kMinChunk);
    out_.resize(std::min(next, limit_));
    return true;
  }
  void finish() { out_.resize(used_); }

 private:
  std::string& out_;
  size_t limit_;
  size_t used_ = 0;
};

bool limit_error(std::string* error, size_t max_out) {
  return fail(error,
              "decompressed size exceeds the limit of " + std::to_string(max_out) + " bytes");
}

bool gunzip(std::string_view in, std::string& out, size_t max_out, std::string* error) {
  if (in.size() > UINT_MAX) return fail(error, "gzip input too large");
  z_stream zs{};
  if (inflateInit2(&zs, 16 + MAX_WBITS) != Z_OK) return fail(error, "gzip: inflateInit2 failed");
  std::unique_ptr<z_stream, int (*)(z_stream*)> guard(&zs, inflateEnd);
  zs.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(in.data()));
  zs.avail_in = static_cast<uInt>(in.size());
  BoundedOutput sink(out, max_out, in.size());
  for (;;) {
    if (!sink.grow()) return limit_error(error, max_out);
    zs.next_out = reinterpret_cast<Bytef*>(sink.cursor());
    zs.avail_out = static_cast<uInt>(std::min<size_t>(sink.avail(), UINT_MAX));
    const uInt before = zs.avail_out;
    const int rc = inflate(&zs, Z_NO_FLUSH);
    sink.advance(before - zs.avail_out);
    if (sink.over_limit()) return limit_error(error, max_out);
    if (rc == Z_STREAM_END) {
      if (zs.avail_in == 0) break;
      if (inflateReset(&zs) != Z_OK) return fail(error, "gzip: inflateReset failed");
      continue;  // another gzip member follows
    }
    if (rc == Z_BUF_ERROR) {
      if (zs.avail_in == 0) return fail(error, "gzip: truncated input");
      if (zs.avail_out != 0) return fail(error, "gzip: no progress");
    }
    if (rc != Z_OK && rc != Z_BUF_ERROR) {
      return fail(error, std::string("gzip: ") + (zs.msg ? zs.msg : "corrupt input"));
    }
  }
  sink.finish();
  return true;
}

// Appends one raw snappy block to out, keeping out.size() <= max_out.
bool unsnappy_block(std::string_view block, std::string& out, size_t max_out, std::string* error) {
  size_t length = 0;
  if (!snappy::GetUncompressedLength(block.data(), block.size(), &length)) {
    return fail(error, "snappy: corrupt block header");
  }
  if (length > max_out - out.size()) return limit_error(error, max_out);
  const size_t at = out.size();
  out.resize(at + length);
  if (!snappy::RawUncompress(block.data(), block.size(), out.data() + at)) {
    return fail(error, "snappy: corrupt block");
  }
  return true;
}

bool unsnappy(std::string_view in, std::string& out, size_t max_out, std::string* error) {
  out.clear();
  if (in.size() < kXerialHeaderSize || std::memcmp(in.data(), kXerialMagic, 8) != 0) {
    return unsnappy_block(in, out, max_out, error);
  }
  const auto* p = reinterpret_cast<const uint8_t*>(in.data());
  size_t pos = kXerialHeaderSize;
  while (pos < in.size()) {
    if (in.size() - pos < 4) return fail(error, "snappy: truncated xerial block length");
    const auto length = static_cast<int32_t>(wire::load_be32(p + pos));
    pos += 4;
    if (length < 0 || static_cast<size_t>(length) > in.size() - pos) {
      return fail(error, "snappy: xerial block length out of range");
    }
    if (!unsnappy_block(in.substr(pos, static_cast<size_t>(length)), out, max_out, error)) {
      return false;
    }
    pos += static_cast<size_t>(length);
  }
  return true;
}

bool unlz4(std::string_view in, std::string& out, size_t max_out, std::string* error) {
  LZ4F_dctx* raw = nullptr;
  if (LZ4F_isError(LZ4F_createDecompressionContext(&raw, LZ4F_VERSION))) {
    return fail(error, "lz4: cannot create a context");
  }
  std::unique_ptr<LZ4F_dctx, LZ4F_errorCode_t (*)(LZ4F_dctx*)> ctx(raw,
                                                                   LZ4F_freeDecompressionContext);
  BoundedOutput sink(out, max_out, in.size());
  size_t pos = 0;
  for (;;) {
    if (!sink.grow()) return limit_error(error, max_out);
    size_t dst_size = sink.avail();
    size_t src_size = in.size() - pos;
    const size_t hint =
        LZ4F_decompress(ctx.get(), sink.cursor(), &dst_size, in.data() + pos, &src_size, nullptr);
    if (LZ4F_isError(hint)) return fail(error, std::string("lz4: ") + LZ4F_getErrorName(hint));
    pos += src_size;
    sink.advance(dst_size);
    if (sink.over_limit()) return limit_error(error, max_out);
    if (hint == 0 && pos == in.size()) break;  // frame complete, input consumed
    if (src_size == 0 && dst_size == 0) {      // no progress although both sides had room
      return fail(error, pos == in.size() ? "lz4: truncated frame" : "lz4: no progress");
    }
  }
  sink.finish();
  return true;
}

// Window log the zstd decoder may use: no larger than the output could need, at most 2^27.
unsigned zstd_window_log_max(size_t max_out) {
  unsigned log = 10;
  while (log < 27 && (size_t{1} << log) < max_out) ++log;
  return log;
}

bool unzstd(std::string_view in, std::string& out, size_t max_out, std::string* error) {
  std::unique_ptr<ZSTD_DCtx, size_t (*)(ZSTD_DCtx*)> ctx(ZSTD_createDCtx(), ZSTD_freeDCtx);
  if (!ctx) return fail(error, "zstd: cannot create a context");
  ZSTD_DCtx_setParameter(ctx.get(), ZSTD_d_windowLogMax,
                         static_cast<int>(zstd_window_log_max(max_out)));
  ZSTD_inBuffer src{in.data(), in.size(), 0};
  BoundedOutput sink(out, max_out, in.size());
  for (;;) {
    if (!sink.grow()) return limit_error(error, max_out);
    ZSTD_outBuffer dst{sink.cursor(), sink.avail(), 0};
    const size_t in_before = src.pos;
    const size_t rc = ZSTD_decompressStream(ctx.get(), &dst, &src);
    if (ZSTD_isError(rc)) return fail(error, std::string("zstd: ") + ZSTD_getErrorName(rc));
    sink.advance(dst.pos);
    if (sink.over_limit()) return limit_error(error, max_out);
    if (rc == 0 && src.pos == src.size) break;  // last frame complete
    if (src.pos == src.size && dst.pos < dst.size) return fail(error, "zstd: truncated frame");
    if (src.pos == in_before && dst.pos == 0) return fail(error, "zstd: no progress");
  }
  sink.finish();
  return true;
}

bool gzip(std::string_view in, std::string& out) {
  if (in.size() > UINT_MAX) return false;
  z_stream zs{};
  if (deflateInit2(&zs, Z_DEFAULT_COMPRESSION, Z_DEFLATED, 16 + MAX_WBITS, 8, Z_DEFAULT_STRATEGY) !=
      Z_OK) {
    return false;
  }
  std::unique_ptr<z_stream, int (*)(z_stream*)> guard(&zs, deflateEnd);
  out.resize(deflateBound(&zs, static_cast<uLong>(in.size())));
  zs.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(in.data()));
  zs.avail_in = static_cast<uInt>(in.size());
  zs.next_out = reinterpret_cast<Bytef*>(out.data());
  zs.avail_out = static_cast<uInt>(out.size());
  if (deflate(&zs, Z_FINISH) != Z_STREAM_END) return false;
  out.resize(zs.total_out);
  return true;
}

bool snappy_xerial(std::string_view in, std::string& out) {
  out.assign(kXerialMagic, sizeof kXerialMagic);
  uint8_t versions[8];
  wire::store_be32(versions, 1);      // version
  wire::store_be32(versions + 4, 1);  // minimum compatible version
  out.append(reinterpret_cast<const char*>(versions), sizeof versions);
  for (size_t pos = 0; pos < in.size(); pos += kXerialBlockSize) {
    const size_t n = std::min(kXerialBlockSize, in.size() - pos);
    const size_t at = out.size();
    out.resize(at + 4 + snappy::MaxCompressedLength(n));
    size_t written = 0;
    snappy::RawCompress(in.data() + pos, n, out.data() + at + 4, &written);
    wire::store_be32(reinterpret_cast<uint8_t*>(out.data() + at), static_cast<uint32_t>(written));
    out.resize(at + 4 + written);
  }
  return true;
}

bool lz4(std::string_view in, std::string& out) {
  LZ4F_preferences_t prefs{};
  prefs.frameInfo.blockSizeID = LZ4F_max64KB;
  prefs.frameInfo.blockMode = LZ4F_blockIndependent;
  out.resize(LZ4F_compressFrameBound(in.size(), &prefs));
  const size_t n = LZ4F_compressFrame(out.data(), out.size(), in.data(), in.size(), &prefs);
  if (LZ4F_isError(n)) return false;
  out.resize(n);
  return true;
}

bool zstd(std::string_view in, std::string& out) {
  out.resize(ZSTD_compressBound(in.size()));
  const size_t n = ZSTD_compress(out.data(), out.size(), in.data(), in.size(), 3);
  if (ZSTD_isError(n)) return false;
  out.resize(n);
  return true;
}

}  // namespace

bool decompress(Compression c, std::string_view in, std::string& out, size_t max_out,
                std::string* error) {
  if (c == Compression::none) {
    if (in.size() > max_out) return limit_error(error, max_out);
    out.assign(in);
    return true;
  }
  if (!is_known_compression(c)) return fail(error, "unknown compression codec");
  if (in.empty()) return fail(error, std::string(compression_name(c)) + ": empty input");
  switch (c) {
    case Compression::gzip:
      return gunzip(in, out, max_out, error);
    case Compression::snappy:
      return unsnappy(in, out, max_out, error);
    case Compression::lz4:
      return unlz4(in, out, max_out, error);
    case Compression::zstd:
      return unzstd(in, out, max_out, error);
    case Compression::none:
      break;
  }
  return fail(error, "unknown compression codec");
}

bool compress(Compression c, std::string_view in, std::string& out) {
  switch (c) {
    case Compression::none:
      out.assign(in);
      return true;
    case Compression::gzip:
      return gzip(in, out);
    case Compression::snappy:
      return snappy_xerial(in, out);
    case Compression::lz4:
      return lz4(in, out);
    case Compression::zstd:
      return zstd(in, out);
  }
  return false;
}

}  // namespace kaffa::record
