// Names of the directories PartitionManager keeps in each log directory (Kafka's names):
//   <topic>-<partition>                  a partition's log
//   <topic>-<partition>.<unique>-delete  a removed log, before its removal
//   <topic>-<partition>.<unique>-future  a log being moved here from another log directory
// Internal to cluster/partition_manager*.cc.
#pragma once

#include <unistd.h>

#include <atomic>
#include <charconv>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>

namespace kaffa::cluster::dir_names {

inline constexpr std::string_view kDeleteSuffix = "-delete";
inline constexpr std::string_view kFutureSuffix = "-future";

// "<topic>-<partition>" -> (topic, partition); nullopt for any other name.
inline std::optional<std::pair<std::string, int32_t>> parse_partition(const std::string& name) {
  const auto dash = name.rfind('-');
  if (dash == std::string::npos || dash == 0 || dash + 1 == name.size()) return std::nullopt;
  int32_t index = 0;
  const char* end = name.data() + name.size();
  auto [ptr, ec] = std::from_chars(name.data() + dash + 1, end, index);
  if (ec != std::errc() || ptr != end || index < 0) return std::nullopt;
  return std::make_pair(name.substr(0, dash), index);
}

// "<topic>-<partition>.<unique><suffix>" -> the partition; nullopt for any other name.
inline std::optional<std::pair<std::string, int32_t>> parse_tagged(const std::string& name,
                                                                   std::string_view suffix) {
  if (name.size() <= suffix.size() || !name.ends_with(suffix)) return std::nullopt;
  const auto dot = name.rfind('.', name.size() - suffix.size());
  if (dot == std::string::npos) return std::nullopt;
  return parse_partition(name.substr(0, dot));
}

// A name no other directory of this process or an earlier one has.
inline std::string unique_suffix() {
  static std::atomic<uint64_t> counter{0};
  return std::to_string(::getpid()) + "x" + std::to_string(counter.fetch_add(1));
}

}  // namespace kaffa::cluster::dir_names
