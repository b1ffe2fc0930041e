// OffsetMap: the log cleaner's key -> latest offset map (Kafka's SkeinOffsetMap, our own code).
//
// A fixed-capacity open-addressing table of 24-byte slots: a 128-bit hash of the record key
// (two independent 64-bit hashes) and the offset of the latest record seen with that key. Keys
// themselves are not stored, so memory is bounded by the slot count whatever the key sizes; two
// keys whose 128-bit hashes collide would be treated as one (probability ~n^2 / 2^129, as
// Kafka accepts for its MD5-based map). The table is never more than `load_factor` full
// (Kafka's log.cleaner.io.buffer.load.factor, 0.9): put() refuses new keys beyond that and the
// cleaner then stops its dirty range where the map filled.
//
// Threading: owned and used by one cleaner thread.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string_view>
#include <vector>

namespace kaffa::storage {

class OffsetMap {
 public:
  static constexpr size_t kSlotBytes = 24;

  // Room for at most `memory_bytes / kSlotBytes` slots; `expected_keys` (an upper bound on the
  // keys to be inserted, e.g. the dirty offset range) lets a small log allocate a small table.
  OffsetMap(size_t memory_bytes, size_t expected_keys, double load_factor = 0.9);

  // Records `offset` as the latest for `key`. False, and nothing changes, when the key is new
  // and the map is at its load limit.
  bool put(std::string_view key, int64_t offset);
  // The latest offset recorded for key, or -1.
  int64_t get(std::string_view key) const;
  // How many more new keys put() accepts.
  size_t free_keys() const { return max_entries_ > entries_ ? max_entries_ - entries_ : 0; }
  size_t size() const { return entries_; }
  size_t capacity() const { return max_entries_; }
  void clear();

 private:
  struct Slot {
    uint64_t h1 = 0;
    uint64_t h2 = 0;  // 0 marks an empty slot (a real h2 of 0 is stored as 1)
    int64_t offset = -1;
  };
  size_t find(uint64_t h1, uint64_t h2) const;  // slot holding the hash, or the empty one to use

  std::vector<Slot> slots_;
  size_t mask_ = 0;
  size_t entries_ = 0;
  size_t max_entries_ = 0;
};

}  // namespace kaffa::storage
