#include "cluster/replica_placement.h"

#include <algorithm>
#include <map>
#include <set>

namespace kaffa::cluster {
namespace {

// The broker position of the `k`-th follower of a partition whose leader is at `first`.
size_t follower_position(size_t first, size_t shift, size_t k, size_t n) {
  return (first + 1 + (shift + k) % (n - 1)) % n;
}

// Brokers ordered so that consecutive ones are on different racks where possible: the first of
// each rack, then the second of each rack, ... (racks and brokers in sorted order).
std::vector<PlacementBroker> rack_alternated(const std::vector<PlacementBroker>& brokers) {
  std::map<std::string, std::vector<PlacementBroker>> by_rack;
  for (const auto& b : brokers) by_rack[b.rack].push_back(b);
  std::vector<PlacementBroker> out;
  for (size_t round = 0; out.size() < brokers.size(); ++round) {
    for (const auto& [rack, list] : by_rack) {
      if (round < list.size()) out.push_back(list[round]);
    }
  }
  return out;
}

}  // namespace

std::vector<std::vector<int32_t>> place(int32_t partitions, int32_t replication_factor,
                                        std::vector<PlacementBroker> brokers, int32_t start_index) {
  const size_t n = brokers.size();
  if (replication_factor < 1 || static_cast<size_t>(replication_factor) > n || partitions < 0) {
    return {};
  }
  std::sort(brokers.begin(), brokers.end(),
            [](const PlacementBroker& a, const PlacementBroker& b) { return a.id < b.id; });
  const bool rack_aware = std::all_of(brokers.begin(), brokers.end(),
                                      [](const PlacementBroker& b) { return !b.rack.empty(); });
  const std::vector<PlacementBroker> arranged = rack_aware ? rack_alternated(brokers) : brokers;
  std::set<std::string> all_racks;
  for (const auto& b : brokers) all_racks.insert(b.rack);

  const size_t start = static_cast<size_t>(std::max(start_index, 0)) % n;
  std::vector<std::vector<int32_t>> out;
  out.reserve(static_cast<size_t>(partitions));
  for (int32_t p = 0; p < partitions; ++p) {
    const size_t first = (start + static_cast<size_t>(p)) % n;
    // The follower shift moves on after each full round over the brokers, so that leaders on
    // the same broker do not always have the same followers.
    const size_t shift = n > 1 ? (start + static_cast<size_t>(p) / n) % (n - 1) : 0;
    std::vector<int32_t> replicas{arranged[first].id};
    if (!rack_aware) {
      for (size_t k = 0; replicas.size() < static_cast<size_t>(replication_factor); ++k) {
        replicas.push_back(arranged[follower_position(first, shift, k, n)].id);
      }
      out.push_back(std::move(replicas));
      continue;
    }
    std::set<std::string> racks{arranged[first].rack};
    std::set<int32_t> chosen{arranged[first].id};
    // Walk the arranged list from the shifted position; skip a broker whose rack already holds a
    // replica while some rack holds none, and a broker already chosen.
    for (size_t k = 0; replicas.size() < static_cast<size_t>(replication_factor); ++k) {
      const auto& candidate = arranged[follower_position(first, shift, k % (n - 1), n)];
      const bool rack_taken = racks.count(candidate.rack) > 0 && racks.size() < all_racks.size();
      const bool taken = chosen.count(candidate.id) > 0;
      if (taken || (rack_taken && k < 2 * n)) continue;
      replicas.push_back(candidate.id);
      chosen.insert(candidate.id);
      racks.insert(candidate.rack);
    }
    out.push_back(std::move(replicas));
  }
  return out;
}

}  // namespace kaffa::cluster
