// Durable topic metadata of a single node: the whole topic list in one file,
// `<log.dirs>/__kaffa_metadata/topics.snapshot`, replaced atomically (write a temporary file,
// fsync, rename, fsync the directory) on every change. Topic changes are rare; a whole snapshot
// keeps recovery trivial. The cluster milestone moves this behind the etcd-backed store.
//
// File layout (big-endian):
//   magic    4 bytes  "KFMS"
//   version  int16    version of the TopicsSnapshot record (schema/records/topics_snapshot.ks)
//   length   int32    bytes of the record
//   crc      uint32   CRC32C of the record bytes
//   record   TopicsSnapshot encoded at `version`
// A file that fails any check is an error at start-up (never silently an empty cluster).
//
// Threading: stateless functions; the caller serialises writers (TopicRegistry holds its lock).
#pragma once

#include <filesystem>
#include <optional>
#include <string>
#include <vector>

#include "cluster/topic_registry.h"

namespace kaffa::cluster {

std::filesystem::path metadata_snapshot_path(const std::filesystem::path& log_dir);

bool save_topics(const std::filesystem::path& file, const std::vector<TopicInfo>& topics,
                 std::string* error);
// nullopt with *error on a damaged file; an empty list when the file does not exist.
std::optional<std::vector<TopicInfo>> load_topics(const std::filesystem::path& file,
                                                  std::string* error);

}  // namespace kaffa::cluster
