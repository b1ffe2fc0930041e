// libFuzzer target over the request path of the protocol layer: header parsing, then the
// generated decoder of whichever API and version the header names. Any input must be rejected or
// accepted without reading out of bounds (ASan) or undefined behaviour (UBSan); an accepted body
// must re-encode to bytes that decode and re-encode to themselves.
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>

#include "protocol/api_table.h"
#include "protocol/headers.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace kaffa::protocol;
  std::string_view frame(reinterpret_cast<const char*>(data), size);
  ParsedRequest req;
  if (parse_request_header(frame, req) != HeaderStatus::ok) return 0;
  const int16_t key = req.header.request_api_key;
  const int16_t version = req.header.request_api_version;
  std::string once, error;
  if (!roundtrip_body(key, false, version, req.body, once, error)) return 0;
  std::string twice;
  if (!roundtrip_body(key, false, version, once, twice, error) || twice != once) std::abort();
  return 0;
}
