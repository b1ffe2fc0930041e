#include "coordinator/records.h"

#include <cassert>
#include <utility>

#include "protocol/messages/group_metadata_key.h"
#include "protocol/messages/offset_commit_key.h"
#include "protocol/messages/offset_commit_value.h"
#include "protocol/versioned_record.h"

namespace kaffa::coordinator::records {
namespace {

using protocol::versioned::decode_exact;
using protocol::versioned::fail;
using protocol::versioned::read_version;

template <class M>
std::string version_prefixed(const M& msg, int16_t version) {
  return protocol::versioned::encode(msg, version);
}

bool decode_offset_commit_value(std::string_view bytes, CommittedOffset& out, std::string* error) {
  int16_t version = 0;
  if (!read_version(bytes, version, "offset commit value", error)) return false;
  if (version < protocol::OffsetCommitValue::kMinVersion ||
      version > protocol::OffsetCommitValue::kMaxVersion) {
    return fail(error, "unknown offset commit value version " + std::to_string(version));
  }
  protocol::OffsetCommitValue v;
  if (!decode_exact(bytes, version, v, "offset commit value", error)) return false;
  out.offset = v.offset;
  out.leader_epoch = v.leader_epoch;
  out.metadata = std::move(v.metadata);
  out.commit_timestamp = v.commit_timestamp;
  out.expire_timestamp = v.expire_timestamp;
  return true;
}

bool decode_group_metadata_value(std::string_view bytes, protocol::GroupMetadataValue& out,
                                 std::string* error) {
  int16_t version = 0;
  if (!read_version(bytes, version, "group metadata value", error)) return false;
  if (version < protocol::GroupMetadataValue::kMinVersion ||
      version > protocol::GroupMetadataValue::kMaxVersion) {
    return fail(error, "unknown group metadata value version " + std::to_string(version));
  }
  return decode_exact(bytes, version, out, "group metadata value", error);
}

}  // namespace

std::string offset_commit_key(std::string_view group, std::string_view topic, int32_t partition) {
  protocol::OffsetCommitKey k;
  k.group = group;
  k.topic = topic;
  k.partition = partition;
  return version_prefixed(k, kOffsetCommitKeyVersion);
}

std::string offset_commit_value(const CommittedOffset& v) {
  protocol::OffsetCommitValue m;
  m.offset = v.offset;
  m.leader_epoch = v.leader_epoch;
  m.metadata = v.metadata;
  m.commit_timestamp = v.commit_timestamp;
  m.expire_timestamp = v.expire_timestamp;
  return version_prefixed(m, v.expire_timestamp >= 0 ? int16_t{1} : int16_t{3});
}

std::string group_metadata_key(std::string_view group) {
  protocol::GroupMetadataKey k;
  k.group = group;
  return version_prefixed(k, kGroupMetadataKeyVersion);
}

std::string group_metadata_value(const protocol::GroupMetadataValue& v, int16_t version) {
  assert(version >= protocol::GroupMetadataValue::kMinVersion &&
         version <= protocol::GroupMetadataValue::kMaxVersion);
  return version_prefixed(v, version);
}

bool decode(std::string_view key, std::optional<std::string_view> value, Decoded& out,
            std::string* error) {
  int16_t key_version = 0;
  if (!read_version(key, key_version, "key", error)) return false;
  out = Decoded{};
  switch (key_version) {
    case 0:
    case 1: {
      protocol::OffsetCommitKey k;
      if (!decode_exact(key, key_version, k, "offset commit key", error)) return false;
      out.kind = Decoded::Kind::offset_commit;
      out.group = std::move(k.group);
      out.topic = std::move(k.topic);
      out.partition = k.partition;
      if (value) {
        if (!decode_offset_commit_value(*value, out.offset.emplace(), error)) return false;
      }
      return true;
    }
    case 2: {
      protocol::GroupMetadataKey k;
      if (!decode_exact(key, key_version, k, "group metadata key", error)) return false;
      out.kind = Decoded::Kind::group_metadata;
      out.group = std::move(k.group);
      if (value) {
        if (!decode_group_metadata_value(*value, out.group_value.emplace(), error)) return false;
      }
      return true;
    }
    default:
      return fail(error, "unknown record type (key version " + std::to_string(key_version) + ")");
  }
}

}  // namespace kaffa::coordinator::records
