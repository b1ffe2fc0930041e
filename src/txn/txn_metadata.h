// What a transaction coordinator knows of one transactional id (Kafka's TransactionMetadata), and
// its durable form: one record of __transaction_state per change, key TransactionLogKey v0
// (the id), value TransactionLogValue (schema/records/), each an INT16 version followed by the
// message. A tombstone (null value) removes an expired id.
//
// Example: id "t" with producer 7 epoch 2, timeout 60000 ms, Ongoing over partition 0 of "a",
// updated at 9, started at 8 (all integers big-endian):
//   key    00 00 | 00 01 't'
//   value  00 00 | 00..07 | 00 02 | 00 00 ea 60 | 01 | 00 00 00 01 | 00 01 'a' | 00 00 00 01 |
//          00 00 00 00 | 00..09 | 00..08
//
// Pure data and functions, any thread.
#pragma once

#include <cstdint>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <utility>

namespace kaffa::txn {

// Kafka's state ids, as stored in transaction_status.
enum class TxnState : int8_t {
  empty = 0,
  ongoing = 1,
  prepare_commit = 2,
  prepare_abort = 3,
  complete_commit = 4,
  complete_abort = 5,
  dead = 6,
  prepare_epoch_fence = 7,
};
const char* state_name(TxnState s);  // Kafka's names, e.g. "Ongoing" (DescribeTransactions)

using TopicPartition = std::pair<std::string, int32_t>;

struct TxnMetadata {
  int64_t producer_id = -1;
  int64_t previous_producer_id = -1;  // the id before the last epoch exhaustion
  int16_t producer_epoch = -1;
  // The epoch before the last bump (not stored: a retried InitProducerId after a restart is
  // answered as Kafka does after a coordinator move, with a new bump).
  int16_t last_producer_epoch = -1;
  int32_t timeout_ms = 60000;
  TxnState state = TxnState::empty;
  std::set<TopicPartition> partitions;
  int64_t start_ms = -1;
  int64_t last_update_ms = -1;

  bool preparing() const {
    return state == TxnState::prepare_commit || state == TxnState::prepare_abort;
  }
  bool operator==(const TxnMetadata&) const = default;
};

namespace records {
std::string key(std::string_view transactional_id);
std::string value(const TxnMetadata& m);  // TransactionLogValue v0
// Decodes a record of __transaction_state (value nullopt: a tombstone, *out untouched). False
// with *error for malformed bytes or unknown versions.
bool decode(std::string_view key, std::optional<std::string_view> value, std::string* id,
            TxnMetadata* out, std::string* error);
}  // namespace records

}  // namespace kaffa::txn
