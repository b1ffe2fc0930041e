// Replica placement for new partitions (Kafka's assignment rules): leaders spread round robin over
// the brokers, each partition's followers shifted so that replicas spread too; rack-aware when
// every broker has a rack (brokers taken alternately from each rack, and a partition's replicas
// on as many racks as possible before any rack gets a second one). Pure; unit-tested.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace kaffa::cluster {

struct PlacementBroker {
  int32_t id = -1;
  std::string rack;  // "" = none
};

// `partitions` assignments of `replication_factor` distinct brokers each, preferred leader
// first. `start_index` chooses where the round robin begins (the first new partition's leader is
// the broker at that position of the arranged list). Requires 1 <= replication_factor <=
// brokers.size(); returns empty otherwise. Broker order in `brokers` does not matter.
std::vector<std::vector<int32_t>> place(int32_t partitions, int32_t replication_factor,
                                        std::vector<PlacementBroker> brokers, int32_t start_index);

}  // namespace kaffa::cluster
