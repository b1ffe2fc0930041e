// Partition: producers' checks, transaction markers and the last stable offset (rules in
// partition.h and storage/producer_state.h).
#include "base/log.h"
#include "cluster/partition.h"
#include "record/control.h"

namespace kaffa::cluster {

using protocol::ErrorCode;

Partition::AppendOutcome Partition::append_marker(int64_t producer_id, int16_t producer_epoch,
                                                  int32_t coordinator_epoch, bool commit,
                                                  int64_t now_ms) {
  AppendOutcome out;
  if (!writable(&out)) return out;
  const record::EndTxnMarker marker{
      commit ? record::ControlType::commit : record::ControlType::abort, coordinator_epoch};
  std::string batch = record::build_end_txn_marker(producer_id, producer_epoch, marker, now_ms);
  auto* data = reinterpret_cast<uint8_t*>(batch.data());
  if (!check_producer(data, batch.size(), &out, &marker)) return out;
  stamp_log_append_time(data, batch.size(), now_ms, &out);
  return write_checked(data, batch.size(), now_ms, &marker, std::move(out));
}

Partition::TxnVerification Partition::begin_txn_verification(const uint8_t* data, size_t n,
                                                             int64_t now_ms) {
  record::BatchHeader h;
  if (!record::parse_header(data, n, h) || !h.is_transactional() || h.is_control()) return {};
  return begin_txn_verification(h.producer_id, h.producer_epoch, now_ms, h.base_sequence);
}

Partition::TxnVerification Partition::begin_txn_verification(int64_t producer_id,
                                                             int16_t producer_epoch, int64_t now_ms,
                                                             int32_t sequence) {
  AppendOutcome unused;
  if (!writable(&unused) || producer_id < 0 || producers_.in_transaction(producer_id)) return {};
  return {producer_id, producer_epoch,
          producers_.begin_verification(producer_id, producer_epoch, sequence, now_ms)};
}

bool Partition::txn_verified(const uint8_t* data, size_t n, uint64_t guard,
                             AppendOutcome* out) const {
  record::BatchHeader h;  // validated: one batch when it has a producer id (check_producer)
  record::parse_header(data, n, h);
  if (h.producer_id < 0 || !h.is_transactional() || producers_.in_transaction(h.producer_id)) {
    return true;
  }
  if (!producers_.verified(h.producer_id, guard)) {
    out->error = ErrorCode::invalid_txn_state;
    out->message = "Record was not part of an ongoing transaction";
  } else if (const auto lowest = producers_.verifying_sequence(h.producer_id);
             h.base_sequence >= 0 && lowest && h.base_sequence > *lowest) {
    out->error = ErrorCode::out_of_order_sequence_number;
    out->message = "Sequence " + std::to_string(h.base_sequence) + " while sequence " +
                   std::to_string(*lowest) + " is being verified";
  } else {
    return true;
  }
  log::debug("rejected produce to {}-{}: {}", topic_, index_, out->message);
  return false;
}

void Partition::update_last_stable_offset() {
  producers_.on_high_watermark(high_watermark_);
  const auto unstable = producers_.first_unstable_offset();
  last_stable_offset_ = unstable ? std::min(*unstable, high_watermark_) : high_watermark_;
  lso_.store(last_stable_offset_, std::memory_order_release);
}

bool Partition::check_producer(const uint8_t* data, size_t n, AppendOutcome* out,
                               const record::EndTxnMarker* marker) const {
  record::BatchHeader first;
  record::parse_header(data, n, first);
  size_t batches = 0;
  bool idempotent = false;
  for (size_t pos = 0; pos < n;) {
    record::BatchHeader h;
    record::parse_header(data + pos, n - pos, h);
    idempotent = idempotent || h.producer_id >= 0;
    ++batches;
    pos += h.total_size();
  }
  if (!idempotent) return true;
  if (batches != 1) {  // Kafka accepts exactly one batch per partition from magic 2 on
    out->error = ErrorCode::invalid_record;
    out->message = "An idempotent produce request must carry one batch per partition";
    return false;
  }
  const auto c = producers_.check(first, marker);
  using V = storage::ProducerStateManager::Verdict;
  switch (c.verdict) {
    case V::append:
      return true;
    case V::duplicate:
      out->duplicate = true;
      out->base_offset = c.duplicate.first_offset;
      out->last_offset = c.duplicate.last_offset;
      if (config_.timestamp_type == record::TimestampType::log_append_time) {
        out->log_append_time = c.duplicate.max_timestamp;
      }
      out->log_start_offset = log_->log_start_offset();
      log::debug("{}-{}: duplicate batch of producer {} (sequence {}) answered with offset {}",
                 topic_, index_, first.producer_id, first.base_sequence, out->base_offset);
      return false;
    case V::out_of_order:
      out->error = ErrorCode::out_of_order_sequence_number;
      break;
    case V::stale_epoch:
      out->error = ErrorCode::invalid_producer_epoch;
      break;
    case V::invalid_txn_state:
      out->error = ErrorCode::invalid_txn_state;
      break;
    case V::coordinator_fenced:
      out->error = ErrorCode::transaction_coordinator_fenced;
      break;
  }
  out->message = c.message;
  log::debug("rejected produce to {}-{}: {}", topic_, index_, c.message);
  return false;
}

}  // namespace kaffa::cluster
