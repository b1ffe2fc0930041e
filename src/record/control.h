// Transaction markers: the control records a partition leader writes when a transaction ends
// (Kafka's EndTransactionMarker). A marker is a batch of its own with the transactional and
// control attribute bits, the producer's id and epoch, base sequence -1 (no sequence) and one
// record:
//
//   key    version int16 (0), type int16 (0 = ABORT, 1 = COMMIT)
//   value  version int16 (0), coordinator_epoch int32
//
// big-endian. A value of a later version is read as version 0 (its first 6 bytes), as Kafka
// does. Other control record types (e.g. KRaft's) are not markers.
//
// Threading: pure functions; safe from any thread.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>

namespace kaffa::record {

enum class ControlType : int16_t { abort = 0, commit = 1 };

struct EndTxnMarker {
  ControlType type = ControlType::abort;
  int32_t coordinator_epoch = 0;
  bool commit() const { return type == ControlType::commit; }
};

// The marker in a whole control batch (n >= its total size, CRC checked); nullopt when the batch
// is not a control batch, holds no record (a cleaned one) or its first record is not a marker.
std::optional<EndTxnMarker> parse_end_txn_marker(const uint8_t* batch, size_t n);

// One control batch holding `marker`, base offset 0 (the log assigns it), timestamp now_ms.
std::string build_end_txn_marker(int64_t producer_id, int16_t producer_epoch,
                                 const EndTxnMarker& marker, int64_t now_ms);

}  // namespace kaffa::record
