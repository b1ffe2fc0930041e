#include "record/control.h"

#include "record/batch.h"
#include "record/builder.h"
#include "record/records.h"
#include "record/wire.h"

namespace kaffa::record {
namespace {

constexpr int16_t kMarkerVersion = 0;
constexpr size_t kKeySize = 4;    // version, type
constexpr size_t kValueSize = 6;  // version, coordinator epoch

std::string be16(int16_t v) {
  std::string s(2, '\0');
  wire::store_be16(reinterpret_cast<uint8_t*>(s.data()), static_cast<uint16_t>(v));
  return s;
}

}  // namespace

std::optional<EndTxnMarker> parse_end_txn_marker(const uint8_t* batch, size_t n) {
  BatchHeader h;
  if (!parse_header(batch, n, h) || !h.is_control() || h.records_count < 1) return std::nullopt;
  std::optional<EndTxnMarker> out;
  bool first = true;
  std::string scratch;
  for_each_record(batch, n, scratch, [&](const Record& r) {
    if (!first) return;
    first = false;
    if (!r.key || r.key->size() < kKeySize || !r.value || r.value->size() < kValueSize) return;
    const auto* k = reinterpret_cast<const uint8_t*>(r.key->data());
    const auto* v = reinterpret_cast<const uint8_t*>(r.value->data());
    const auto key_version = static_cast<int16_t>(wire::load_be16(k));
    const auto type = static_cast<int16_t>(wire::load_be16(k + 2));
    const auto value_version = static_cast<int16_t>(wire::load_be16(v));
    if (key_version < 0 || value_version < 0) return;
    if (type != static_cast<int16_t>(ControlType::abort) &&
        type != static_cast<int16_t>(ControlType::commit)) {
      return;
    }
    out =
        EndTxnMarker{static_cast<ControlType>(type), static_cast<int32_t>(wire::load_be32(v + 2))};
  });
  return out;
}

std::string build_end_txn_marker(int64_t producer_id, int16_t producer_epoch,
                                 const EndTxnMarker& marker, int64_t now_ms) {
  std::string key = be16(kMarkerVersion) + be16(static_cast<int16_t>(marker.type));
  std::string value = be16(kMarkerVersion) + std::string(4, '\0');
  wire::store_be32(reinterpret_cast<uint8_t*>(value.data()) + 2,
                   static_cast<uint32_t>(marker.coordinator_epoch));
  BuildOptions opts;
  opts.producer_id = producer_id;
  opts.producer_epoch = producer_epoch;
  opts.base_sequence = -1;
  opts.transactional = true;
  opts.control = true;
  return build_batch({{std::move(key), std::move(value), {}, now_ms}}, opts);
}

}  // namespace kaffa::record
