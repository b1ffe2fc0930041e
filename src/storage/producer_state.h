// ProducerStateManager: what one partition knows of each idempotent producer — its epoch and the
// sequence numbers and offsets of its last 5 batches — so that a retried batch is answered with
// its original offsets instead of being written twice, and a gap or a stale epoch is refused
// (Kafka's ProducerStateManager / ProducerAppendInfo, without transactions).
//
// Rules (check()), for a batch with producer id >= 0:
//   - unknown producer id: accepted with any sequence (Kafka since KIP-360: the state may have
//     expired or been removed with the log head; UNKNOWN_PRODUCER_ID is no longer answered);
//   - epoch below the known one: stale_epoch (INVALID_PRODUCER_EPOCH);
//   - epoch above it: a new epoch must start at sequence 0 (else out_of_order);
//   - same epoch: a batch whose first and last sequence equal one of the last 5 is a duplicate
//     (answered with that batch's offsets); otherwise its first sequence must follow the last
//     one (lastSeq + 1, wrapping from INT32_MAX to 0), else out_of_order
//     (OUT_OF_ORDER_SEQUENCE_NUMBER).
//
// Durability: the state is derived from the log. Snapshots `<20-digit offset>.snapshot` in the
// partition directory hold the state of every batch below that offset; load() takes the newest
// valid snapshot not beyond the log end (deleting the ones beyond it and damaged ones) and
// replays the batch headers from there to the log end. Without any snapshot it replays from the
// log start. The owner takes a snapshot at every segment roll (so a replay reads at most the
// active segment) and at close, keeping the newest 2 (never fsync'ed: a torn one fails its CRC).
//
// Snapshot file (Kaffa's format, big-endian; Kafka's keeps only the last batch per producer):
//   version  int16   1
//   crc      uint32  CRC32C of everything after this field
//   count    int32   producers
//   then per producer:
//     producer_id int64, epoch int16, last_timestamp int64, batches int8 (1..5), then per batch
//     (oldest first): first_seq int32, last_seq int32, first_offset int64, last_offset int64,
//     max_timestamp int64
// A snapshot that fails any check is deleted and the next older one is tried.
//
// Expiry: producers whose last batch timestamp is producer.id.expiration.ms before now are
// forgotten (remove_expired); producers whose last offset fell below the log start offset go with
// the log head (evict_below).
//
// Threading: owned by the partition's owner thread, like the Log. No locks.
#pragma once

#include <cstdint>
#include <deque>
#include <filesystem>
#include <string>
#include <unordered_map>

#include "record/batch.h"

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
  std::deque<ProducerBatch> batches;  // newest last, at most kMaxBatchesPerProducer
};

class ProducerStateManager {
 public:
  static constexpr size_t kMaxBatchesPerProducer = 5;
  static constexpr size_t kSnapshotsKept = 2;

  explicit ProducerStateManager(std::filesystem::path dir) : dir_(std::move(dir)) {}

  // Rebuilds the state of an open log (see above). I/O errors while replaying are reported in
  // *error and leave the state as far as it got (later batches of those producers are then
  // accepted as from unknown producers); false in that case.
  bool load(const Log& log, std::string* error);

  enum class Verdict { append, duplicate, out_of_order, stale_epoch };
  struct Check {
    Verdict verdict = Verdict::append;
    ProducerBatch duplicate;  // for Verdict::duplicate: the batch already in the log
    std::string message;      // for the refusals
  };
  // Judges a batch (producer_id >= 0) before it is appended; does not change the state.
  Check check(const record::BatchHeader& h) const;
  // Records a batch appended at [first_offset, last_offset] (or replayed from the log).
  void update(const record::BatchHeader& h, int64_t first_offset, int64_t last_offset);

  // Writes `<offset>.snapshot` (the state must cover exactly the offsets below `offset`), through a
  // temporary file and a rename; with sync the file and directory are fdatasync'ed. Deletes all
  // but the newest kSnapshotsKept snapshots.
  bool take_snapshot(int64_t offset, bool sync, std::string* error);

  // Forgets producers whose last batch is older than expiration_ms before now_ms. Returns how many.
  size_t remove_expired(int64_t now_ms, int64_t expiration_ms);
  // Forgets producers whose last offset is below log_start (their batches are gone).
  void evict_below(int64_t log_start);

  const ProducerEntry* find(int64_t producer_id) const;
  size_t producer_count() const { return producers_.size(); }
  // The offset the last load() started replaying from (-1 before load), for tests and logs.
  int64_t replayed_from() const { return replayed_from_; }

  // Last sequence of a batch: base_sequence + last_offset_delta, wrapping past INT32_MAX to 0.
  static int32_t last_sequence(int32_t base_sequence, int32_t last_offset_delta);

 private:
  std::string encode() const;
  bool decode(const std::string& bytes);
  void delete_old_snapshots();

  std::filesystem::path dir_;
  std::unordered_map<int64_t, ProducerEntry> producers_;
  int64_t replayed_from_ = -1;
};

}  // namespace kaffa::storage
