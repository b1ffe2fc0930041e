// The server-side assignors of the consumer group protocol (KIP-848), by Kafka's names:
//   "uniform"  every member gets as nearly the same number of partitions as its subscriptions
//              allow; a member keeps the partitions of its previous target where it can (sticky),
//              and partitions move only to even out the counts.
//   "range"    per topic, the subscribers in member-id order take contiguous ranges of partitions,
//              the first ones one more when the count does not divide (co-partitioned topics land
//              on the same members).
// Both are deterministic: the same input gives the same assignment. Pure functions; any thread.
#pragma once

#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "coordinator/consumer_group.h"

namespace kaffa::coordinator {

struct AssignmentInput {
  // Member id -> subscribed topic names.
  std::map<std::string, std::vector<std::string>, std::less<>> subscriptions;
  // Subscribed topics that exist, by name.
  const std::map<std::string, TopicMeta, std::less<>>* topics = nullptr;
  // The previous target assignment (members absent there start empty).
  const std::map<std::string, TopicAssignment, std::less<>>* previous = nullptr;
};

using AssignmentOutput = std::map<std::string, TopicAssignment, std::less<>>;

// The assignment by the assignor of that name, or nullopt when there is no such assignor.
std::optional<AssignmentOutput> assign(std::string_view assignor, const AssignmentInput& in);
bool is_known_assignor(std::string_view name);

}  // namespace kaffa::coordinator
