// What OffsetCommit and TxnOffsetCommit share on the coordinator side: Kafka's measure of offset
// metadata, the records of a commit, and the answer to a failed offsets-topic write.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "coordinator/coordinator_shard.h"
#include "coordinator/records.h"
#include "protocol/error_codes.h"

namespace kaffa::broker {

// Java's String.length() (UTF-16 code units) of UTF-8 text: Kafka's measure of metadata size,
// checked against offset.metadata.max.bytes.
inline size_t utf16_length(std::string_view s) {
  size_t n = 0;
  for (unsigned char c : s) {
    if ((c & 0xC0) != 0x80) n += c >= 0xF0 ? 2 : 1;  // lead bytes; 4-byte sequences: a pair
  }
  return n;
}

// The write path's errors as Kafka's classic coordinator reports them for a commit.
inline int16_t commit_error(protocol::ErrorCode e) {
  using protocol::ErrorCode;
  if (e == ErrorCode::message_too_large || e == ErrorCode::record_list_too_large) {
    return protocol::code(ErrorCode::invalid_commit_offset_size);
  }
  return protocol::code(e);
}

// One partition to commit: where its answer goes ([topic][partition] of the request) and what is
// stored.
struct PartitionCommit {
  size_t topic = 0;
  size_t partition = 0;
  coordinator::CommittedOffset value;
};

// The OffsetCommit records of a commit request, in request order: one for each partition marked
// in known[topic][partition], its value made by value_of(request partition) (the metadata is set
// here), each also appended to `commits`. A partition whose metadata is above max_metadata
// answers OFFSET_METADATA_TOO_LARGE through error_of(topic, partition) instead.
template <class Topics, class ValueOf, class ErrorOf>
std::vector<coordinator::CoordinatorShard::Record> commit_records(
    const std::string& group, const Topics& topics, const std::vector<std::vector<bool>>& known,
    size_t max_metadata, ValueOf value_of, ErrorOf error_of,
    std::vector<PartitionCommit>& commits) {
  std::vector<coordinator::CoordinatorShard::Record> records;
  for (size_t t = 0; t < topics.size(); ++t) {
    const auto& topic = topics[t];
    for (size_t p = 0; p < topic.partitions.size(); ++p) {
      if (!known[t][p]) continue;
      const auto& part = topic.partitions[p];
      std::string metadata = part.committed_metadata.value_or("");
      if (utf16_length(metadata) > max_metadata) {
        error_of(t, p) = protocol::code(protocol::ErrorCode::offset_metadata_too_large);
        continue;
      }
      PartitionCommit c{t, p, value_of(part)};
      c.value.metadata = std::move(metadata);
      records.push_back(
          {coordinator::records::offset_commit_key(group, topic.name, part.partition_index),
           coordinator::records::offset_commit_value(c.value)});
      commits.push_back(std::move(c));
    }
  }
  return records;
}

}  // namespace kaffa::broker
