// The records of the group coordinator in __consumer_offsets, byte for byte Kafka's formats, so a
// partition written by Kaffa reads like Kafka's (and the other way round).
//
// Every record key and value is an INT16 version followed by the message encoded at that version
// (schema/records/*.ks, Kafka's JSON definitions):
//
//   key   = INT16 key_version | key message       key_version is the record type:
//                                                   0, 1  OffsetCommitKey (group, topic, partition)
//                                                   2     GroupMetadataKey (group)
//   value = INT16 value_version | value message   OffsetCommitValue v0-4 or GroupMetadataValue
//                                                 v0-4 (v4+ flexible); a null value (tombstone)
//                                                 deletes what the key names.
//
// Example, the committed offset 5 of partition 3 of topic "t" in group "g", no leader epoch, no
// metadata, committed at time 7 (key version 1, value version 3; all integers big-endian):
//   key   00 01 | 00 01 'g' | 00 01 't' | 00 00 00 03
//   value 00 03 | 00..00 05 (int64) | ff ff ff ff (leader epoch -1) | 00 00 ("") | 00..00 07
//
// Kaffa writes what Kafka writes: offset commit keys at version 1, offset commit values at v1 when
// the commit carries an explicit expiry (OffsetCommit v2-4 retention_time_ms; v1 has no leader
// epoch) and v3 otherwise, group metadata keys at version 2 and group metadata values at v3.
// Decoding accepts every version Kafka defines. The consumer-protocol groups' records (key
// versions 3 and 5-8) are consumer_group_records.h's; other record types (Kafka 3.7-3.9's
// subscription metadata, key version 4; share groups, 9+) and unknown value versions are reported
// as errors, which the loader logs and skips.
//
// Pure functions, any thread.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "protocol/messages/group_metadata_value.h"

namespace kaffa::coordinator {

// One committed offset as the coordinator keeps it. -1 means "not set" for leader_epoch,
// commit_timestamp and expire_timestamp (expire_timestamp is set only by OffsetCommit v2-4 with a
// retention time, Kafka's old per-commit expiry). record_offset is not stored in the value: it is
// where in __consumer_offsets the record that set the offset lies (-1: unknown), which decides
// between a transactional and a plain commit of the same partition (the later record wins).
struct CommittedOffset {
  int64_t offset = -1;
  int32_t leader_epoch = -1;
  std::string metadata;
  int64_t commit_timestamp = -1;
  int64_t expire_timestamp = -1;
  int64_t record_offset = -1;
  bool operator==(const CommittedOffset&) const = default;
};

namespace records {

inline constexpr int16_t kOffsetCommitKeyVersion = 1;
inline constexpr int16_t kGroupMetadataKeyVersion = 2;
inline constexpr int16_t kGroupMetadataValueVersion = 3;

std::string offset_commit_key(std::string_view group, std::string_view topic, int32_t partition);
// Version 1 if v.expire_timestamp >= 0 (v1 stores no leader epoch), else version 3.
std::string offset_commit_value(const CommittedOffset& v);
std::string group_metadata_key(std::string_view group);
// `version` must lie in GroupMetadataValue's range (0-4).
std::string group_metadata_value(const protocol::GroupMetadataValue& v,
                                 int16_t version = kGroupMetadataValueVersion);

struct Decoded {
  enum class Kind { offset_commit, group_metadata } kind = Kind::offset_commit;
  std::string group;
  std::string topic;                                        // offset_commit only
  int32_t partition = -1;                                   // offset_commit only
  std::optional<CommittedOffset> offset;                    // offset_commit; nullopt: tombstone
  std::optional<protocol::GroupMetadataValue> group_value;  // group_metadata; nullopt: tombstone
};

// Decodes one record of the offsets topic (value nullopt: a tombstone). Returns false, with a
// reason in *error (if not null), for malformed or truncated bytes, trailing bytes, or a key or
// value version Kaffa does not know; `out` is then unspecified.
bool decode(std::string_view key, std::optional<std::string_view> value, Decoded& out,
            std::string* error);

}  // namespace records
}  // namespace kaffa::coordinator
