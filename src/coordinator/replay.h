// Replaying an internal topic's partition (__consumer_offsets, __transaction_state) into a
// coordinator's memory: whole batches read from the leader's log up to its end (Kafka's
// coordinators load up to the log end: a new leader's high watermark may lag behind records every
// in-sync replica has).
//
// Threading: the partition's owner loop.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>

#include "cluster/partition.h"
#include "record/batch.h"

namespace kaffa::coordinator {

using BatchFn = std::function<void(const record::BatchHeader& h, const uint8_t* batch, size_t n)>;

// Calls fn for each batch from `offset` until `end` or until about max_bytes were read. Returns
// the offset to continue from (`end` when done, also when only offsets removed by compaction
// remain), or nullopt on a read error.
std::optional<int64_t> replay_batches(const cluster::Partition& p, int64_t offset, int64_t end,
                                      int64_t max_bytes, const BatchFn& fn);

}  // namespace kaffa::coordinator
