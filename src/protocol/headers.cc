#include "protocol/headers.h"

#include <algorithm>

#include "protocol/api_table.h"

namespace kaffa::protocol {
namespace {

constexpr int16_t kApiVersionsKey = 18;

bool is_flexible(const ApiSchemaInfo& api, int16_t version) {
  return api.first_flexible_version >= 0 && version >= api.first_flexible_version;
}

}  // namespace

int16_t request_header_version(int16_t api_key, int16_t api_version) {
  const ApiSchemaInfo* api = find_api_schema(api_key);
  if (api == nullptr) return -1;
  return is_flexible(*api, api_version) ? 2 : 1;
}

int16_t response_header_version(int16_t api_key, int16_t api_version) {
  if (api_key == kApiVersionsKey) return 0;
  const ApiSchemaInfo* api = find_api_schema(api_key);
  return api != nullptr && is_flexible(*api, api_version) ? 1 : 0;
}

HeaderStatus parse_request_header(std::string_view frame, ParsedRequest& out) {
  Reader peek(frame);
  out.header.request_api_key = peek.int16();
  out.header.request_api_version = peek.int16();
  out.header.correlation_id = peek.int32();
  if (!peek.ok()) return HeaderStatus::truncated;
  const ApiSchemaInfo* api = find_api_schema(out.header.request_api_key);
  if (api == nullptr) return HeaderStatus::unknown_api;
  // An unsupported version still has a header we can read: use the closest known one.
  const int16_t v = std::clamp(out.header.request_api_version, api->min_version, api->max_version);
  out.header_version = is_flexible(*api, v) ? 2 : 1;
  // ApiVersions requests above our range may be flexible in a way we do not know; its header is
  // parsed as v2 only if the version is one we know to be flexible (KIP-511 rules).
  if (out.header.request_api_key == kApiVersionsKey && out.header.request_api_version > v) {
    out.header_version = 2;
  }
  Reader r(frame);
  if (!out.header.decode(r, out.header_version)) return HeaderStatus::malformed;
  out.body = r.rest();
  return HeaderStatus::ok;
}

}  // namespace kaffa::protocol
