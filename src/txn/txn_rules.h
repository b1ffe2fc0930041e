// The transaction coordinator's decisions (Kafka's TransactionCoordinator before KIP-890's
// per-transaction epoch bumps), as pure functions of a transactional id's current metadata and a
// request: which error to answer, or which new metadata to write to __transaction_state first.
//
// Client-visible rules:
//   InitProducerId  no metadata yet → a new producer id, epoch 0, Empty. Empty/Complete* → the
//                   epoch + 1 (a new producer id once the epoch would reach INT16_MAX - 1), Empty.
//                   Ongoing → the old producer is fenced: its transaction is aborted with epoch + 1
//                   and the caller answers CONCURRENT_TRANSACTIONS (the client retries).
//                   Prepare* → CONCURRENT_TRANSACTIONS. A v3+ caller's (producer_id, epoch) must be
//                   the current one or the epoch just bumped from, else PRODUCER_FENCED.
//   AddPartitions   unknown id or another producer id → INVALID_PRODUCER_ID_MAPPING; another
//                   epoch → PRODUCER_FENCED; Prepare* → CONCURRENT_TRANSACTIONS; otherwise
//                   Ongoing with the partitions added (nothing written if none is new).
//   EndTxn          as AddPartitions for the ids; Ongoing → PrepareCommit/PrepareAbort (the markers
//                   follow); a retry of a completed or preparing end with the same result →
//                   NONE / CONCURRENT_TRANSACTIONS; any other state → INVALID_TXN_STATE.
//   Verify          (KIP-890, a partition leader asking before a transactional batch of a producer
//                   with no transaction open there is appended) ids and Prepare* as AddPartitions;
//                   then each partition: NONE if it is in the Ongoing transaction, else
//                   TRANSACTION_ABORTABLE. Writes nothing.
//   Timeout         Ongoing past start + timeout → aborted with epoch + 1 (the producer is fenced).
//
// Pure, any thread.
#pragma once

#include <cstdint>
#include <optional>
#include <vector>

#include "protocol/error_codes.h"
#include "txn/txn_metadata.h"

namespace kaffa::txn::rules {

inline constexpr int16_t kMaxEpoch = 32767;

struct Decision {
  enum class Action {
    answer,        // answer `error` (with the current producer id/epoch if NONE), write nothing
    write,         // write `next`, then answer NONE (with next's producer id/epoch)
    new_producer,  // allocate a producer id, then write new_producer(...)
    fence,         // write `next` (PrepareAbort), start its markers, answer CONCURRENT_TRANSACTIONS
    prepare,       // write `next` (Prepare*), answer NONE, then write the markers
  };
  Action action = Action::answer;
  protocol::ErrorCode error = protocol::ErrorCode::none;
  TxnMetadata next;
};

Decision init_producer_id(const TxnMetadata* current, int32_t timeout_ms, int64_t producer_id,
                          int16_t producer_epoch, int64_t now_ms);
// The metadata written once a new producer id was allocated for InitProducerId.
TxnMetadata new_producer(const TxnMetadata* current, int64_t producer_id, int32_t timeout_ms,
                         int64_t now_ms);
Decision add_partitions(const TxnMetadata* current, int64_t producer_id, int16_t producer_epoch,
                        const std::vector<TopicPartition>& partitions, int64_t now_ms);
// One error per partition, in order (Verify above).
std::vector<protocol::ErrorCode> verify_partitions(const TxnMetadata* current, int64_t producer_id,
                                                   int16_t producer_epoch,
                                                   const std::vector<TopicPartition>& partitions);
Decision end_txn(const TxnMetadata* current, int64_t producer_id, int16_t producer_epoch,
                 bool commit, int64_t now_ms);
// Prepare* → Complete*: the markers are written.
TxnMetadata complete(const TxnMetadata& prepared, int64_t now_ms);
// The abort of an Ongoing transaction by the coordinator (fencing or timeout): epoch + 1 unless
// exhausted, PrepareAbort.
TxnMetadata fence(const TxnMetadata& ongoing, int64_t now_ms);
bool timed_out(const TxnMetadata& m, int64_t now_ms);
// Empty or Complete* and unused for expiration_ms: the id may be forgotten (Kafka's
// transactional.id.expiration.ms).
bool expired(const TxnMetadata& m, int64_t now_ms, int64_t expiration_ms);

}  // namespace kaffa::txn::rules
