// What the transactional APIs' handlers (InitProducerId with a transactional id,
// AddPartitionsToTxn, AddOffsetsToTxn, EndTxn) share.
#pragma once

#include <cstdint>

#include "protocol/error_codes.h"

namespace kaffa::broker {

// PRODUCER_FENCED exists for clients from `fenced_since` on (v2 of AddPartitionsToTxn,
// AddOffsetsToTxn and EndTxn; v4 of InitProducerId); older ones get INVALID_PRODUCER_EPOCH, as
// Kafka answers them.
inline protocol::ErrorCode txn_error_for_version(protocol::ErrorCode e, int16_t version,
                                                 int16_t fenced_since) {
  if (e == protocol::ErrorCode::producer_fenced && version < fenced_since) {
    return protocol::ErrorCode::invalid_producer_epoch;
  }
  return e;
}

}  // namespace kaffa::broker
