// ProducerStateManager: what one partition knows of each idempotent or transactional producer —
// its epoch, the sequence numbers and offsets of its last 5 batches, its ongoing transaction and
// the coordinator epoch of its last transaction marker — so that a retried batch is answered with
// its original offsets instead of being written twice, a gap or a stale epoch is refused, and the
// last stable offset is known (Kafka's ProducerStateManager / ProducerAppendInfo).
//
// Rules (check()), for a data batch with producer id >= 0:
//   - unknown producer id: accepted with any sequence (Kafka since KIP-360: the state may have
//     expired or been removed with the log head; UNKNOWN_PRODUCER_ID is no longer answered);
//   - epoch below the known one: stale_epoch (INVALID_PRODUCER_EPOCH);
//   - base sequence -1 (NO_SEQUENCE: written by the group coordinator for TxnOffsetCommit): no
//     sequence check, and not remembered as a sequence batch;
//   - epoch above it: a new epoch must start at sequence 0 (else out_of_order);
//   - same epoch: a batch whose first and last sequence equal one of the last 5 is a duplicate
//     (answered with that batch's offsets); with no batch remembered at this epoch (a marker
//     bumped it, or only NO_SEQUENCE batches were written) any sequence is accepted; otherwise
//     its first sequence must follow the last one (lastSeq + 1, wrapping from INT32_MAX to 0),
//     else out_of_order (OUT_OF_ORDER_SEQUENCE_NUMBER);
//   - a non-transactional batch while the producer has an ongoing transaction: invalid_txn_state
//     (INVALID_TXN_STATE).
// For a transaction marker (control batch, record/control.h): an epoch below the known one is
// stale_epoch; a coordinator epoch below the last marker's is coordinator_fenced
// (TRANSACTION_COORDINATOR_FENCED).
//
// Transactions (update()): a transactional data batch starts the producer's transaction at its
// first offset when none is ongoing. A marker ends it and yields a CompletedTxn (nothing for a
// marker without an ongoing transaction, as in Kafka); a marker with a higher producer epoch
// (the coordinator fencing a producer) takes that epoch and forgets the remembered batches. An
// aborted transaction is appended to the partition's TxnIndex (txn_index.h). A completed
// transaction stays "unstable" until the high watermark passes its marker (on_high_watermark):
// first_unstable_offset() is the earliest first offset of the transactions ongoing or completed
// above the high watermark, and the last stable offset is min(high watermark, that).
//
// Verification (KIP-890 part 1, Kafka's VerificationStateEntry; leader only, in memory): before a
// client's transactional batch is appended for a producer with no transaction ongoing here, the
// leader asks the transaction coordinator whether this partition is in that producer's
// transaction. begin_verification() gives the producer a guard (or the one a verification in
// flight holds), and the append presents it (verified()). update() drops the guard when the
// producer's transactional data or marker is written, so a verification answered after a marker
// ended the transaction presents a guard that is gone: the append is refused and the client's
// retry verifies again. While a guard is held it also remembers the lowest sequence a verification
// began with (at the highest epoch seen): a batch with a higher sequence is refused as out of order
// until that one is written, so that a later batch verified first cannot leave a gap behind it.
// Guards unused for producer.id.expiration.ms go in remove_expired().
//
// Durability: the state is derived from the log. Snapshots `<20-digit offset>.snapshot` in the
// partition directory hold the state of every batch below that offset; load() takes the newest
// valid snapshot not beyond the log end (deleting the ones beyond it and damaged ones), drops the
// TxnIndex entries at or above it and replays the batches from there to the log end (headers,
// and the record of each marker). Without any snapshot it replays from the log start. The owner
// takes a snapshot at every segment roll (so a replay reads at most the active segment) and at
// close, keeping the newest 2 (never fsync'ed: a torn one fails its CRC); the TxnIndex is synced
// before a snapshot that relies on it is written.
//
// Snapshot file (Kaffa's format, big-endian; Kafka's keeps only the last batch per producer):
//   version  int16   2 (1 is still read)
//   crc      uint32  CRC32C of everything after this field
//   count    int32   producers
//   then per producer:
//     producer_id int64, epoch int16, last_timestamp int64,
//     (v2 only) coordinator_epoch int32 (-1 none), last_offset int64 (of its latest batch,
//     marker or data), txn_first_offset int64 (first offset of its ongoing transaction, -1 none),
//     batches int8 (v1: 1..5, v2: 0..5), then per batch (oldest first): first_seq int32,
//     last_seq int32, first_offset int64, last_offset int64, max_timestamp int64
// A v1 producer reads as coordinator epoch -1, no transaction, last_offset of its newest batch.
// A snapshot that fails any check is deleted and the next older one is tried.
//
// Expiry: producers whose last batch timestamp is producer.id.expiration.ms before now are
// forgotten unless a transaction of theirs is ongoing (remove_expired); producers whose last
// offset fell below the log start offset go with the log head, likewise, and so do the TxnIndex
// entries below it (evict_below).
//
// Threading: owned by the partition's owner thread, like the Log. No locks.
#pragma once

#include <cstdint>
#include <deque>
#include <filesystem>
#include <map>
#include <optional>
#include <string>
#include <unordered_map>

#include "record/batch.h"
#include "record/control.h"
#include "storage/txn_index.h"

namespace kaffa::storage {

class Log;

struct ProducerBatch {
  int32_t first_seq = 0;
  int32_t last_seq = 0;
  int64_t first_offset = 0;
  int64_t last_offset = 0;
  int64_t max_timestamp = -1;
};

struct ProducerEntry {
  int16_t epoch = -1;
  int64_t last_timestamp = -1;
  int32_t coordinator_epoch = -1;     // of its last transaction marker
  int64_t last_offset = -1;           // of its latest batch (data or marker)
  int64_t txn_first_offset = -1;      // first offset of its ongoing transaction; -1: none
  std::deque<ProducerBatch> batches;  // newest last, at most kMaxBatchesPerProducer
};

// A transaction ended by a marker: [first_offset, last_offset], last_offset being the marker's.
struct CompletedTxn {
  int64_t producer_id = -1;
  int64_t first_offset = -1;
  int64_t last_offset = -1;
  bool aborted = false;
  bool operator==(const CompletedTxn&) const = default;
};

class ProducerStateManager {
 public:
  static constexpr size_t kMaxBatchesPerProducer = 5;
  static constexpr size_t kSnapshotsKept = 2;

  explicit ProducerStateManager(std::filesystem::path dir) : dir_(dir), txn_index_(dir) {}

  // Rebuilds the state of an open log (see above). I/O errors while replaying are reported in
  // *error and leave the state as far as it got (later batches of those producers are then
  // accepted as from unknown producers); false in that case.
  bool load(const Log& log, std::string* error);

  enum class Verdict {
    append,
    duplicate,
    out_of_order,
    stale_epoch,
    invalid_txn_state,   // non-transactional batch during the producer's transaction
    coordinator_fenced,  // marker from an older transaction coordinator epoch
  };
  struct Check {
    Verdict verdict = Verdict::append;
    ProducerBatch duplicate;  // for Verdict::duplicate: the batch already in the log
    std::string message;      // for the refusals
  };
  // Judges a batch (producer_id >= 0) before it is appended; does not change the state. `marker`
  // is the record of a control batch (nullptr for data batches).
  Check check(const record::BatchHeader& h, const record::EndTxnMarker* marker = nullptr) const;
  // Records a batch appended at [first_offset, last_offset] (or replayed from the log); `marker`
  // as for check() (a control batch without one changes nothing). Returns the transaction a
  // marker completed; an aborted one is in aborted_index() already.
  std::optional<CompletedTxn> update(const record::BatchHeader& h, int64_t first_offset,
                                     int64_t last_offset,
                                     const record::EndTxnMarker* marker = nullptr);

  // Earliest first offset of the transactions ongoing, or completed by a marker at or above the
  // last high watermark given to on_high_watermark(); nullopt when none. O(1).
  std::optional<int64_t> first_unstable_offset() const {
    if (ongoing_.empty() && unreplicated_.empty()) return std::nullopt;
    if (unreplicated_.empty()) return ongoing_.begin()->first;
    if (ongoing_.empty()) return unreplicated_.begin()->first;
    return std::min(ongoing_.begin()->first, unreplicated_.begin()->first);
  }
  // The high watermark moved: completed transactions whose marker is below it become stable.
  void on_high_watermark(int64_t high_watermark) {
    if (!unreplicated_.empty()) forget_replicated(high_watermark);
  }
  size_t ongoing_transactions() const { return ongoing_.size(); }
  const TxnIndex& aborted_index() const { return txn_index_; }
  // The log cleaner removed these abort markers (offsets, sorted): their entries go from the
  // aborted index.
  void forget_aborted_markers(const std::vector<int64_t>& marker_offsets);

  // Writes `<offset>.snapshot` (the state must cover exactly the offsets below `offset`), through a
  // temporary file and a rename; with sync the file and directory are fdatasync'ed. The TxnIndex
  // is synced first when it changed (no snapshot without it). Deletes all but the newest
  // kSnapshotsKept snapshots.
  bool take_snapshot(int64_t offset, bool sync, std::string* error);

  // The partition's files are now in `dir` (a log moved to another log directory): its TxnIndex
  // is written there in full and a snapshot at `offset` taken, both synced. False with *error.
  bool relocate(const std::filesystem::path& dir, int64_t offset, std::string* error) {
    dir_ = dir;
    txn_index_.relocate(dir);
    return take_snapshot(offset, true, error);
  }

  // Forgets producers whose last batch is older than expiration_ms before now_ms, except those
  // with an ongoing transaction. Returns how many.
  size_t remove_expired(int64_t now_ms, int64_t expiration_ms);
  // Forgets producers whose last offset is below log_start (their batches are gone) and have no
  // ongoing transaction, and the aborted transactions that ended below it.
  void evict_below(int64_t log_start);

  const ProducerEntry* find(int64_t producer_id) const;
  bool in_transaction(int64_t producer_id) const {
    const ProducerEntry* e = find(producer_id);
    return e != nullptr && e->txn_first_offset >= 0;
  }
  // Verification (above). Guards are never 0. `sequence`: the batch's base sequence (-1 for the
  // group coordinator's batches, which have none).
  uint64_t begin_verification(int64_t producer_id, int16_t epoch, int32_t sequence, int64_t now_ms);
  bool verified(int64_t producer_id, uint64_t guard) const {
    const auto it = verifying_.find(producer_id);
    return it != verifying_.end() && it->second.guard == guard;
  }
  // The lowest sequence a verification of the producer holding a guard began with.
  std::optional<int32_t> verifying_sequence(int64_t producer_id) const {
    const auto it = verifying_.find(producer_id);
    if (it == verifying_.end()) return std::nullopt;
    return it->second.lowest_sequence;
  }
  size_t producer_count() const { return producers_.size(); }
  // Every producer tracked, by id (DescribeProducers).
  const std::unordered_map<int64_t, ProducerEntry>& entries() const { return producers_; }
  // The offset the last load() started replaying from (-1 before load), for tests and logs.
  int64_t replayed_from() const { return replayed_from_; }

  // Last sequence of a batch: base_sequence + last_offset_delta, wrapping past INT32_MAX to 0.
  static int32_t last_sequence(int32_t base_sequence, int32_t last_offset_delta);

 private:
  std::string encode() const;
  bool decode(const std::string& bytes);
  void delete_old_snapshots();
  void forget_replicated(int64_t high_watermark);
  std::optional<CompletedTxn> end_txn(int64_t producer_id, ProducerEntry& e, int64_t offset,
                                      const record::EndTxnMarker& marker);

  std::filesystem::path dir_;
  std::unordered_map<int64_t, ProducerEntry> producers_;
  std::map<int64_t, int64_t> ongoing_;            // first offset -> producer id
  std::map<int64_t, CompletedTxn> unreplicated_;  // by first offset: marker not below the HW
  struct Verifying {
    uint64_t guard = 0;
    int64_t since_ms = 0;
    int16_t epoch = -1;
    int32_t lowest_sequence = -1;
  };
  std::unordered_map<int64_t, Verifying> verifying_;  // by producer id
  uint64_t next_guard_ = 1;
  TxnIndex txn_index_;
  int64_t replayed_from_ = -1;
};

}  // namespace kaffa::storage
