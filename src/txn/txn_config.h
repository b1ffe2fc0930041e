// The transaction coordinator's settings (Kafka's names and defaults).
#pragma once

#include <cstdint>

namespace kaffa::txn {

inline constexpr const char* kTransactionTopic = "__transaction_state";

struct TxnConfig {
  int32_t num_partitions = 50;           // transaction.state.log.num.partitions
  int16_t replication_factor = 3;        // transaction.state.log.replication.factor
  int32_t min_isr = 2;                   // transaction.state.log.min.isr
  int32_t segment_bytes = 104857600;     // transaction.state.log.segment.bytes
  int32_t max_timeout_ms = 900000;       // transaction.max.timeout.ms
  int64_t id_expiration_ms = 604800000;  // transactional.id.expiration.ms
  int64_t abort_interval_ms = 10000;  // transaction.abort.timed.out.transaction.cleanup.interval.ms
  int64_t expiry_interval_ms =
      3600000;                    // transaction.remove.expired.transaction.cleanup.interval.ms
  bool verify_partitions = true;  // transaction.partition.verification.enable (KIP-890)
};

}  // namespace kaffa::txn
