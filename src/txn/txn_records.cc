#include "protocol/messages/transaction_log_key.h"
#include "protocol/messages/transaction_log_value.h"
#include "protocol/versioned_record.h"
#include "txn/txn_metadata.h"

namespace kaffa::txn {

const char* state_name(TxnState s) {
  switch (s) {
    case TxnState::empty:
      return "Empty";
    case TxnState::ongoing:
      return "Ongoing";
    case TxnState::prepare_commit:
      return "PrepareCommit";
    case TxnState::prepare_abort:
      return "PrepareAbort";
    case TxnState::complete_commit:
      return "CompleteCommit";
    case TxnState::complete_abort:
      return "CompleteAbort";
    case TxnState::dead:
      return "Dead";
    case TxnState::prepare_epoch_fence:
      return "PrepareEpochFence";
  }
  return "Unknown";
}

namespace records {

std::string key(std::string_view transactional_id) {
  protocol::TransactionLogKey k;
  k.transactional_id = transactional_id;
  return protocol::versioned::encode(k, 0);
}

std::string value(const TxnMetadata& m) {
  protocol::TransactionLogValue v;
  v.producer_id = m.producer_id;
  v.producer_epoch = m.producer_epoch;
  v.transaction_timeout_ms = m.timeout_ms;
  v.transaction_status = static_cast<int8_t>(m.state);
  auto& topics = v.transaction_partitions.emplace();
  for (const auto& [topic, partition] : m.partitions) {
    if (topics.empty() || topics.back().topic != topic) topics.emplace_back().topic = topic;
    topics.back().partition_ids.push_back(partition);
  }
  v.transaction_last_update_timestamp_ms = m.last_update_ms;
  v.transaction_start_timestamp_ms = m.start_ms;
  return protocol::versioned::encode(v, 0);
}

bool decode(std::string_view key, std::optional<std::string_view> value, std::string* id,
            TxnMetadata* out, std::string* error) {
  protocol::TransactionLogKey k;
  if (!protocol::versioned::decode(key, k, "transaction log key", error)) return false;
  *id = std::move(k.transactional_id);
  if (!value) return true;
  protocol::TransactionLogValue v;
  if (!protocol::versioned::decode(*value, v, "transaction log value", error)) return false;
  if (v.transaction_status < 0 || v.transaction_status > 7) {
    return protocol::versioned::fail(
        error, "unknown transaction state " + std::to_string(v.transaction_status));
  }
  TxnMetadata m;
  m.producer_id = v.producer_id;
  m.previous_producer_id = v.previous_producer_id;
  m.producer_epoch = v.producer_epoch;
  m.timeout_ms = v.transaction_timeout_ms;
  m.state = static_cast<TxnState>(v.transaction_status);
  if (v.transaction_partitions) {
    for (const auto& t : *v.transaction_partitions) {
      for (const int32_t p : t.partition_ids) m.partitions.emplace(t.topic, p);
    }
  }
  m.last_update_ms = v.transaction_last_update_timestamp_ms;
  m.start_ms = v.transaction_start_timestamp_ms;
  *out = std::move(m);
  return true;
}

}  // namespace records
}  // namespace kaffa::txn
