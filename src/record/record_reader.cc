#include "record/record_reader.h"

#include "record/wire.h"

namespace kaffa::record::detail {
namespace {

// Reads a varint length and that many bytes; a length of -1 is null when nullable.
bool read_bytes(const uint8_t*& p, const uint8_t* end, bool nullable,
                std::optional<std::string_view>& out) {
  int32_t length = 0;
  if (!wire::read_varint(p, end, length)) return false;
  if (length < 0) {
    if (length != -1 || !nullable) return false;
    out.reset();
    return true;
  }
  if (static_cast<size_t>(length) > static_cast<size_t>(end - p)) return false;
  out.emplace(reinterpret_cast<const char*>(p), static_cast<size_t>(length));
  p += length;
  return true;
}

bool fail(std::string* error, const char* why) {
  if (error) error->assign(why);
  return false;
}

}  // namespace

bool RecordReader::read_header(const uint8_t*& p, const uint8_t* end, std::string_view& key,
                               std::optional<std::string_view>& value) {
  std::optional<std::string_view> k;
  if (!read_bytes(p, end, /*nullable=*/false, k)) return false;
  key = *k;
  return read_bytes(p, end, /*nullable=*/true, value);
}

bool RecordReader::next(RawRecord& out, std::string* error) {
  int32_t length = 0;
  if (!wire::read_varint(p_, end_, length)) return fail(error, "truncated record length");
  if (length < 0 || static_cast<size_t>(length) > remaining()) {
    return fail(error, "record length exceeds the records section");
  }
  const uint8_t* p = p_;
  const uint8_t* end = p_ + length;
  p_ = end;  // the next record starts after this one, whatever happens below
  if (p == end) return fail(error, "record too short");
  out.attributes = static_cast<int8_t>(*p++);
  if (!wire::read_varlong(p, end, out.timestamp_delta)) return fail(error, "bad timestamp delta");
  if (!wire::read_varint(p, end, out.offset_delta)) return fail(error, "bad offset delta");
  if (!read_bytes(p, end, true, out.key)) return fail(error, "bad record key length");
  if (!read_bytes(p, end, true, out.value)) return fail(error, "bad record value length");
  if (!wire::read_varint(p, end, out.header_count) || out.header_count < 0) {
    return fail(error, "bad record header count");
  }
  const uint8_t* headers_start = p;
  for (int32_t i = 0; i < out.header_count; ++i) {
    std::string_view key;
    std::optional<std::string_view> value;
    if (!read_header(p, end, key, value)) return fail(error, "bad record header");
  }
  out.headers = std::string_view(reinterpret_cast<const char*>(headers_start),
                                 static_cast<size_t>(p - headers_start));
  if (p != end) return fail(error, "record length does not match its fields");
  return true;
}

}  // namespace kaffa::record::detail
