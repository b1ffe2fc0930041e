// Primitive encodings of the Kafka protocol, used by the generated messages.
//
// Reader never reads outside its input: every read checks the remaining length first, and the
// first failure makes the reader (and every sub-reader cut from it) fail for good, returning zero
// values from then on. Decoders check ok() at the end; nothing throws.
//
// Writer appends big-endian encodings to a std::string, or only counts bytes (Writer::counter()),
// which is how generated size() and the length prefix of tagged fields are computed.
//
// Both are single-threaded value types.
#pragma once

#include <algorithm>
#include <array>
#include <compare>
#include <cstdint>
#include <cstring>
#include <limits>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace kaffa::protocol {

struct Uuid {
  std::array<uint8_t, 16> bytes{};
  bool is_zero() const { return bytes == std::array<uint8_t, 16>{}; }
  bool operator==(const Uuid&) const = default;
  auto operator<=>(const Uuid&) const = default;
  static Uuid random();
  std::string to_base64() const;  // Kafka's URL-safe base64 without padding (22 chars)
};

// A tagged field that this version of Kaffa does not know: kept so it can be written back.
struct TaggedField {
  uint32_t tag = 0;
  std::string data;
  bool operator==(const TaggedField&) const = default;
};

// A range of an open file, sent as part of a message (fetch responses: record batches go from the
// segment file to the socket with sendfile()). `keepalive` keeps the file open while in flight.
struct FileRange {
  int fd = -1;
  int64_t offset = 0;
  size_t length = 0;
  std::shared_ptr<const void> keepalive;
  bool operator==(const FileRange& o) const {
    return fd == o.fd && offset == o.offset && length == o.length;
  }
};

// The value of a `records` field: bytes in memory (on decode, a view into the request frame,
// never copied) followed by file ranges (on encode only). On the wire it is one length-prefixed
// byte string.
struct Records {
  std::string_view bytes;
  std::vector<FileRange> files;
  size_t size() const {
    size_t n = bytes.size();
    for (const auto& f : files) n += f.length;
    return n;
  }
  bool operator==(const Records& o) const { return bytes == o.bytes && files == o.files; }
};

// Where a FileRange lands in an encoded message: its bytes belong right after out[0, at).
struct Splice {
  size_t at = 0;
  FileRange range;
};

class Reader {
 public:
  explicit Reader(std::string_view in) : p_(in.data()), end_(in.data() + in.size()) {}

  bool ok() const { return error_->empty(); }
  const std::string& error() const { return *error_; }
  // Records the first failure; always returns false so decoders can `return r.fail(...)`.
  bool fail(std::string_view why) {
    if (error_->empty()) *error_ = why.empty() ? std::string("malformed") : std::string(why);
    p_ = end_;
    return false;
  }
  size_t remaining() const { return static_cast<size_t>(end_ - p_); }
  size_t consumed_from(const char* start) const { return static_cast<size_t>(p_ - start); }
  const char* position() const { return p_; }
  std::string_view rest() const { return {p_, remaining()}; }

  bool boolean() { return int8() != 0; }
  int8_t int8() { return static_cast<int8_t>(fixed<uint8_t>()); }
  int16_t int16() { return static_cast<int16_t>(fixed<uint16_t>()); }
  uint16_t uint16() { return fixed<uint16_t>(); }
  int32_t int32() { return static_cast<int32_t>(fixed<uint32_t>()); }
  uint32_t uint32() { return fixed<uint32_t>(); }
  int64_t int64() { return static_cast<int64_t>(fixed<uint64_t>()); }
  double float64() {
    uint64_t bits = fixed<uint64_t>();
    double d;
    std::memcpy(&d, &bits, sizeof d);
    return d;
  }
  Uuid uuid() {
    Uuid u;
    if (take(16)) std::memcpy(u.bytes.data(), p_ - 16, 16);
    return u;
  }
  // Used by generated code for the `bool` type.
  bool bool_() { return boolean(); }

  // Unsigned LEB128 of at most 5 bytes (32 bits).
  uint32_t uvarint() {
    uint32_t v = 0;
    for (int shift = 0; shift <= 28; shift += 7) {
      if (p_ == end_) {
        fail("truncated varint");
        return 0;
      }
      auto b = static_cast<uint8_t>(*p_++);
      if (shift == 28 && (b & 0xf0) != 0) {
        fail("varint too long");
        return 0;
      }
      v |= static_cast<uint32_t>(b & 0x7f) << shift;
      if ((b & 0x80) == 0) return v;
    }
    fail("varint too long");
    return 0;
  }

  // The length of a string/bytes/records field: compact = UNSIGNED_VARINT length+1, otherwise
  // INT16 (strings) or INT32 (bytes). Both forms are accepted by callers through the helpers below.
  // Returns nullopt for null; fails on a negative length other than -1 or one past the input.
  std::optional<std::string_view> nullable_bytes_field(bool compact, bool int16_length) {
    int64_t n;
    if (compact) {
      n = static_cast<int64_t>(uvarint()) - 1;
    } else {
      n = int16_length ? int16() : int32();
    }
    if (!ok()) return std::string_view{};
    if (n == -1) return std::nullopt;
    if (n < 0) {
      fail("negative length");
      return std::string_view{};
    }
    if (static_cast<uint64_t>(n) > remaining()) {
      fail("length past the end of the frame");
      return std::string_view{};
    }
    std::string_view v(p_, static_cast<size_t>(n));
    p_ += n;
    return v;
  }
  std::string_view bytes_field(bool compact, bool int16_length) {
    auto v = nullable_bytes_field(compact, int16_length);
    if (!v) {
      fail("null where a value is required");
      return {};
    }
    return *v;
  }

  // Array count: -1 for null. Fails on other negative counts.
  int32_t array_length(bool compact) {
    int64_t n = compact ? static_cast<int64_t>(uvarint()) - 1 : int32();
    if (!ok()) return 0;
    if (n < -1) {
      fail("negative array length");
      return 0;
    }
    return static_cast<int32_t>(n);
  }

  // A reader over the next n bytes, sharing this reader's error state; this reader skips them.
  Reader sub(uint32_t n) {
    Reader r(*this);
    if (n > remaining()) {
      fail("length past the end of the frame");
      r.end_ = r.p_ = end_;
      return r;
    }
    r.end_ = p_ + n;
    p_ += n;
    return r;
  }

 private:
  bool take(size_t n) {
    if (remaining() < n) {
      fail("truncated");
      return false;
    }
    p_ += n;
    return true;
  }
  template <class T>
  T fixed() {
    if (!take(sizeof(T))) return 0;
    T v = 0;
    const auto* b = reinterpret_cast<const uint8_t*>(p_ - sizeof(T));
    for (size_t i = 0; i < sizeof(T); ++i) v = static_cast<T>((v << 8) | b[i]);
    return v;
  }

  const char* p_;
  const char* end_;
  std::shared_ptr<std::string> error_ = std::make_shared<std::string>();
};

class Writer {
 public:
  explicit Writer(std::string& out) : out_(&out) {}
  // File ranges of `records` fields are not copied but recorded in `splices`.
  Writer(std::string& out, std::vector<Splice>& splices) : out_(&out), splices_(&splices) {}
  static Writer counter() { return Writer(); }

  // Encoded size so far, spliced file ranges included.
  size_t size() const { return out_ ? out_->size() + spliced_ : count_; }

  void bool_(bool v) { int8(v ? 1 : 0); }
  void int8(int8_t v) { fixed(static_cast<uint8_t>(v)); }
  void int16(int16_t v) { fixed(static_cast<uint16_t>(v)); }
  void uint16(uint16_t v) { fixed(v); }
  void int32(int32_t v) { fixed(static_cast<uint32_t>(v)); }
  void uint32(uint32_t v) { fixed(v); }
  void int64(int64_t v) { fixed(static_cast<uint64_t>(v)); }
  void float64(double d) {
    uint64_t bits;
    std::memcpy(&bits, &d, sizeof bits);
    fixed(bits);
  }
  void uuid(const Uuid& u) { raw(u.bytes.data(), 16); }

  void uvarint(uint32_t v) {
    uint8_t buf[5];
    size_t n = 0;
    while (v >= 0x80) {
      buf[n++] = static_cast<uint8_t>(v | 0x80);
      v >>= 7;
    }
    buf[n++] = static_cast<uint8_t>(v);
    raw(buf, n);
  }

  void bytes_field(std::string_view v, bool compact, bool int16_length) {
    if (compact) {
      uvarint(static_cast<uint32_t>(v.size() + 1));
    } else if (int16_length) {
      int16(static_cast<int16_t>(v.size()));
    } else {
      int32(static_cast<int32_t>(v.size()));
    }
    raw(v.data(), v.size());
  }
  void null_bytes(bool compact, bool int16_length) {
    if (compact) {
      uvarint(0);
    } else if (int16_length) {
      int16(-1);
    } else {
      int32(-1);
    }
  }
  void array_length(int32_t n, bool compact) {
    if (compact) {
      uvarint(static_cast<uint32_t>(n + 1));
    } else {
      int32(n);
    }
  }
  void null_array(bool compact) { compact ? uvarint(0) : int32(-1); }
  void records(const Records& r, bool compact) {
    const size_t n = r.size();
    compact ? uvarint(static_cast<uint32_t>(n + 1)) : int32(static_cast<int32_t>(n));
    raw(r.bytes.data(), r.bytes.size());
    for (const auto& f : r.files) file_range(f);
  }
  void tagged(const TaggedField& t) {
    uvarint(t.tag);
    uvarint(static_cast<uint32_t>(t.data.size()));
    raw(t.data.data(), t.data.size());
  }
  void raw(const void* p, size_t n) {
    if (out_) {
      out_->append(static_cast<const char*>(p), n);
    } else {
      count_ += n;
    }
  }

 private:
  Writer() = default;
  template <class T>
  void fixed(T v) {
    uint8_t b[sizeof(T)];
    for (size_t i = 0; i < sizeof(T); ++i)
      b[i] = static_cast<uint8_t>(v >> (8 * (sizeof(T) - 1 - i)));
    raw(b, sizeof b);
  }

  // Records the range as a splice, or (without a splice list) copies the file's bytes.
  void file_range(const FileRange& f);

  std::string* out_ = nullptr;
  std::vector<Splice>* splices_ = nullptr;
  size_t count_ = 0;
  size_t spliced_ = 0;
};

}  // namespace kaffa::protocol
