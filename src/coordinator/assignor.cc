// The uniform and range assignors of the consumer group protocol.
#include "coordinator/assignor.h"

#include <algorithm>
#include <utility>

namespace kaffa::coordinator {

using protocol::Uuid;

namespace {

using Partition = std::pair<Uuid, int32_t>;

AssignmentOutput empty_output(const AssignmentInput& in) {
  AssignmentOutput out;
  for (const auto& [member, _] : in.subscriptions) out[member];
  return out;
}

AssignmentOutput assign_range(const AssignmentInput& in) {
  AssignmentOutput out = empty_output(in);
  std::map<std::string, std::vector<std::string>> subscribers;  // topic -> members, in id order
  for (const auto& [member, topics] : in.subscriptions) {
    for (const auto& t : topics) subscribers[t].push_back(member);
  }
  for (const auto& [topic, members] : subscribers) {
    auto it = in.topics->find(topic);
    if (it == in.topics->end()) continue;
    const int32_t n = it->second.partitions;
    const int32_t k = static_cast<int32_t>(members.size());
    int32_t next = 0;
    for (int32_t i = 0; i < k; ++i) {
      const int32_t count = n / k + (i < n % k ? 1 : 0);
      auto& mine = out[members[static_cast<size_t>(i)]][it->second.id];
      for (int32_t j = 0; j < count; ++j) mine.insert(next++);
    }
  }
  for (auto& [_, a] : out) std::erase_if(a, [](const auto& e) { return e.second.empty(); });
  return out;
}

AssignmentOutput assign_uniform(const AssignmentInput& in) {
  // Which members may take a topic's partitions.
  std::map<Uuid, std::vector<const std::string*>> eligible;
  std::map<Uuid, int32_t> partitions;
  for (const auto& [member, topics] : in.subscriptions) {
    for (const auto& t : topics) {
      auto it = in.topics->find(t);
      if (it == in.topics->end()) continue;
      eligible[it->second.id].push_back(&member);
      partitions[it->second.id] = it->second.partitions;
    }
  }
  std::map<std::string, std::set<Partition>, std::less<>> held;
  for (const auto& [member, _] : in.subscriptions) held[member];
  std::set<Partition> taken;
  auto subscribed = [&](const std::string& member, const Uuid& topic) {
    auto it = eligible.find(topic);
    if (it == eligible.end()) return false;
    return std::any_of(it->second.begin(), it->second.end(),
                       [&](const std::string* m) { return *m == member; });
  };
  // 1. Keep what the previous target gave, where still valid.
  if (in.previous) {
    for (const auto& [member, a] : *in.previous) {
      auto h = held.find(member);
      if (h == held.end()) continue;
      for (const auto& [topic, ps] : a) {
        auto n = partitions.find(topic);
        if (n == partitions.end() || !subscribed(member, topic)) continue;
        for (int32_t p : ps) {
          if (p < n->second && taken.insert({topic, p}).second) h->second.insert({topic, p});
        }
      }
    }
  }
  auto least_loaded = [&](const Uuid& topic) {
    const std::string* best = nullptr;
    for (const std::string* m : eligible[topic]) {
      if (!best || held[*m].size() < held[*best].size()) best = m;
    }
    return best;
  };
  // 2. Give every free partition to the least loaded member that may take it.
  for (const auto& [topic, n] : partitions) {
    for (int32_t p = 0; p < n; ++p) {
      if (taken.count({topic, p})) continue;
      held[*least_loaded(topic)].insert({topic, p});
    }
  }
  // 3. Even out: move a partition from a member to one with at least two fewer that may take it.
  for (bool moved = true; moved;) {
    moved = false;
    std::vector<std::string> by_load;
    for (const auto& [m, _] : held) by_load.push_back(m);
    std::stable_sort(by_load.begin(), by_load.end(),
                     [&](const auto& a, const auto& b) { return held[a].size() > held[b].size(); });
    for (const auto& from : by_load) {
      auto& mine = held[from];
      for (auto it = mine.rbegin(); it != mine.rend() && !moved; ++it) {
        const std::string* to = least_loaded(it->first);
        if (to && held[*to].size() + 1 < mine.size()) {
          const Partition p = *it;
          mine.erase(p);
          held[*to].insert(p);
          moved = true;
        }
      }
      if (moved) break;
    }
  }
  AssignmentOutput out = empty_output(in);
  for (const auto& [member, ps] : held) {
    for (const auto& [topic, p] : ps) out[member][topic].insert(p);
  }
  return out;
}

}  // namespace

bool is_known_assignor(std::string_view name) {
  return name == "uniform" || name == "range";
}

std::optional<AssignmentOutput> assign(std::string_view assignor, const AssignmentInput& in) {
  if (assignor == "uniform") return assign_uniform(in);
  if (assignor == "range") return assign_range(in);
  return std::nullopt;
}

}  // namespace kaffa::coordinator
