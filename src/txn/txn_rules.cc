#include "txn/txn_rules.h"

namespace kaffa::txn::rules {
namespace {

using protocol::ErrorCode;
using Action = Decision::Action;

Decision answer(ErrorCode e) {
  Decision d;
  d.error = e;
  return d;
}

// The checks AddPartitions and EndTxn share; NONE when the producer owns the transaction.
ErrorCode check_producer(const TxnMetadata* current, int64_t producer_id, int16_t epoch) {
  if (current == nullptr || current->producer_id != producer_id) {
    return ErrorCode::invalid_producer_id_mapping;
  }
  if (current->producer_epoch != epoch) return ErrorCode::producer_fenced;
  return ErrorCode::none;
}

}  // namespace

TxnMetadata new_producer(const TxnMetadata* current, int64_t producer_id, int32_t timeout_ms,
                         int64_t now_ms) {
  TxnMetadata m;
  m.producer_id = producer_id;
  m.previous_producer_id = current ? current->producer_id : -1;
  m.producer_epoch = 0;
  m.timeout_ms = timeout_ms;
  m.state = TxnState::empty;
  m.last_update_ms = now_ms;
  return m;
}

Decision init_producer_id(const TxnMetadata* current, int32_t timeout_ms, int64_t producer_id,
                          int16_t producer_epoch, int64_t now_ms) {
  Decision d;
  if (current == nullptr) {
    d.action = Action::new_producer;
    return d;
  }
  if (current->preparing() || current->state == TxnState::prepare_epoch_fence ||
      current->state == TxnState::dead) {
    return answer(ErrorCode::concurrent_transactions);
  }
  if (producer_id >= 0) {
    // KIP-360: a producer recovering from an error names itself; only the current producer (or a
    // retry of the bump it already got) may go on.
    if (producer_id != current->producer_id || (producer_epoch != current->producer_epoch &&
                                                producer_epoch != current->last_producer_epoch)) {
      return answer(ErrorCode::producer_fenced);
    }
    if (producer_epoch == current->last_producer_epoch && current->state == TxnState::empty) {
      return answer(ErrorCode::none);  // the bump was done; answer it again
    }
  }
  if (current->state == TxnState::ongoing) {
    d.action = Action::fence;
    d.next = fence(*current, now_ms);
    return d;
  }
  if (current->producer_epoch >= kMaxEpoch - 1) {
    d.action = Action::new_producer;
    return d;
  }
  d.action = Action::write;
  d.next = *current;
  d.next.last_producer_epoch = current->producer_epoch;
  d.next.producer_epoch = static_cast<int16_t>(current->producer_epoch + 1);
  d.next.timeout_ms = timeout_ms;
  d.next.state = TxnState::empty;
  d.next.partitions.clear();
  d.next.start_ms = -1;
  d.next.last_update_ms = now_ms;
  return d;
}

Decision add_partitions(const TxnMetadata* current, int64_t producer_id, int16_t producer_epoch,
                        const std::vector<TopicPartition>& partitions, int64_t now_ms) {
  if (const auto e = check_producer(current, producer_id, producer_epoch); e != ErrorCode::none) {
    return answer(e);
  }
  if (current->preparing()) return answer(ErrorCode::concurrent_transactions);
  if (current->state == TxnState::dead || current->state == TxnState::prepare_epoch_fence) {
    return answer(ErrorCode::invalid_txn_state);
  }
  Decision d;
  d.next = *current;
  bool added = false;
  for (const auto& tp : partitions) added = d.next.partitions.insert(tp).second || added;
  if (current->state == TxnState::ongoing && !added) return answer(ErrorCode::none);
  if (current->state != TxnState::ongoing) {
    // A new transaction: the partitions of the last one are done with.
    d.next.partitions.clear();
    d.next.partitions.insert(partitions.begin(), partitions.end());
    d.next.start_ms = now_ms;
  }
  d.action = Action::write;
  d.next.state = TxnState::ongoing;
  d.next.last_update_ms = now_ms;
  return d;
}

std::vector<ErrorCode> verify_partitions(const TxnMetadata* current, int64_t producer_id,
                                         int16_t producer_epoch,
                                         const std::vector<TopicPartition>& partitions) {
  ErrorCode e = check_producer(current, producer_id, producer_epoch);
  if (e == ErrorCode::none && current->preparing()) e = ErrorCode::concurrent_transactions;
  std::vector<ErrorCode> out(partitions.size(), e);
  if (e != ErrorCode::none) return out;
  for (size_t i = 0; i < partitions.size(); ++i) {
    const bool in = current->state == TxnState::ongoing && current->partitions.count(partitions[i]);
    out[i] = in ? ErrorCode::none : ErrorCode::transaction_abortable;
  }
  return out;
}

Decision end_txn(const TxnMetadata* current, int64_t producer_id, int16_t producer_epoch,
                 bool commit, int64_t now_ms) {
  if (const auto e = check_producer(current, producer_id, producer_epoch); e != ErrorCode::none) {
    return answer(e);
  }
  switch (current->state) {
    case TxnState::ongoing: {
      Decision d;
      d.action = Action::prepare;
      d.next = *current;
      d.next.state = commit ? TxnState::prepare_commit : TxnState::prepare_abort;
      d.next.last_update_ms = now_ms;
      return d;
    }
    case TxnState::complete_commit:
      return answer(commit ? ErrorCode::none : ErrorCode::invalid_txn_state);
    case TxnState::complete_abort:
      return answer(commit ? ErrorCode::invalid_txn_state : ErrorCode::none);
    case TxnState::prepare_commit:
      return answer(commit ? ErrorCode::concurrent_transactions : ErrorCode::invalid_txn_state);
    case TxnState::prepare_abort:
      return answer(commit ? ErrorCode::invalid_txn_state : ErrorCode::concurrent_transactions);
    default:
      return answer(ErrorCode::invalid_txn_state);
  }
}

TxnMetadata complete(const TxnMetadata& prepared, int64_t now_ms) {
  TxnMetadata m = prepared;
  m.state = prepared.state == TxnState::prepare_commit ? TxnState::complete_commit
                                                       : TxnState::complete_abort;
  m.partitions.clear();
  m.last_update_ms = now_ms;
  return m;
}

TxnMetadata fence(const TxnMetadata& ongoing, int64_t now_ms) {
  TxnMetadata m = ongoing;
  if (m.producer_epoch < kMaxEpoch - 1) {
    m.last_producer_epoch = m.producer_epoch;
    m.producer_epoch = static_cast<int16_t>(m.producer_epoch + 1);
  }
  m.state = TxnState::prepare_abort;
  m.last_update_ms = now_ms;
  return m;
}

bool timed_out(const TxnMetadata& m, int64_t now_ms) {
  return m.state == TxnState::ongoing && m.start_ms >= 0 && now_ms > m.start_ms + m.timeout_ms;
}

bool expired(const TxnMetadata& m, int64_t now_ms, int64_t expiration_ms) {
  const bool idle = m.state == TxnState::empty || m.state == TxnState::complete_commit ||
                    m.state == TxnState::complete_abort;
  return idle && m.last_update_ms >= 0 && now_ms - m.last_update_ms > expiration_ms;
}

}  // namespace kaffa::txn::rules
