// Request/response header handling: which header version goes with which API version, parsing a
// request frame's header, and framing a response (size prefix + header + body).
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "protocol/messages/headers.h"
#include "protocol/wire.h"

namespace kaffa::protocol {

// Request header v2 for flexible API versions, v1 otherwise. Returns -1 for an API key that has
// no schema (the caller cannot parse past the correlation id then).
int16_t request_header_version(int16_t api_key, int16_t api_version);
// Response header v1 for flexible API versions, v0 otherwise, and always v0 for ApiVersions.
int16_t response_header_version(int16_t api_key, int16_t api_version);

struct ParsedRequest {
  RequestHeader header;
  int16_t header_version = -1;
  std::string_view body;  // view into the frame
};

enum class HeaderStatus {
  ok,
  truncated,    // fewer than 8 bytes: not even a correlation id
  unknown_api,  // api key without a schema; header.correlation_id is set
  malformed,    // the header of a known API does not decode
};

// Parses the header of a request frame (the bytes after the size prefix). For an API version
// outside the schema's range the header is parsed as for the nearest version, so that the caller
// can answer UNSUPPORTED_VERSION where the protocol allows it.
HeaderStatus parse_request_header(std::string_view frame, ParsedRequest& out);

// Appends a complete response frame to `out`: 4-byte size, header, body. File ranges of records
// fields go to `splices` (positions relative to the start of `out`); the size counts them.
template <class M>
void append_response_frame(std::string& out, std::vector<Splice>& splices, int32_t correlation_id,
                           int16_t header_version, const M& body, int16_t version) {
  const size_t start = out.size();
  out.append(4, '\0');
  Writer w(out, splices);
  ResponseHeader h;
  h.correlation_id = correlation_id;
  h.encode(w, header_version);
  body.encode(w, version);
  const auto n = static_cast<uint32_t>(w.size() - start - 4);
  for (int i = 0; i < 4; ++i)
    out[start + static_cast<size_t>(i)] = static_cast<char>(n >> (24 - 8 * i));
}

}  // namespace kaffa::protocol
