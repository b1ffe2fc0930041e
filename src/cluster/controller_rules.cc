#include "cluster/controller_rules.h"

#include <algorithm>

namespace kaffa::cluster {
namespace {

bool contains(const std::vector<int32_t>& v, int32_t x) {
  return std::find(v.begin(), v.end(), x) != v.end();
}

// The ISR members in replica order that are live (`live`: a predicate on broker ids).
template <typename Live>
std::vector<int32_t> live_isr(const PartitionState& p, const Live& live) {
  std::vector<int32_t> out;
  for (int32_t r : p.replicas) {
    if (contains(p.isr, r) && live(r)) out.push_back(r);
  }
  // ISR members that are not replicas should not exist; keep them out.
  return out;
}

std::vector<int32_t> live_isr(const MetadataImage& image, const PartitionState& p) {
  return live_isr(p, [&image](int32_t r) { return is_live(image, r); });
}

PartitionState with_leader(const PartitionState& p, int32_t leader, std::vector<int32_t> isr) {
  PartitionState n = p;
  n.leader = leader;
  n.isr = std::move(isr);
  n.leader_epoch = p.leader_epoch + 1;
  n.partition_epoch = p.partition_epoch + 1;
  return n;
}

// p is partition `index` of topic `topic_id`. A replica whose log directory failed on its broker
// (BrokerRegistration::offline_replicas) counts as a dead broker's.
std::optional<PartitionState> repair(const MetadataImage& image, const PartitionState& p,
                                     bool unclean, const protocol::Uuid& topic_id, int32_t index) {
  auto serves = [&](int32_t r) { return serves_replica(image, r, topic_id, index); };
  const auto live = live_isr(p, serves);
  const BrokerRegistration* leader = p.leader >= 0 ? image.broker(p.leader) : nullptr;
  if (p.leader >= 0 && !serves(p.leader)) {
    if (!live.empty()) return with_leader(p, live.front(), live);
    if (leader != nullptr && !leader->replica_offline(topic_id, index)) {
      // Shutting down and nobody else can lead: it keeps leading; drop other dead members.
      std::vector<int32_t> isr{p.leader};
      if (isr == p.isr) return std::nullopt;
      PartitionState n = p;
      n.isr = isr;
      n.partition_epoch += 1;
      return n;
    }
    if (unclean) {
      for (int32_t r : p.replicas) {
        if (serves(r)) return with_leader(p, r, {r});
      }
    }
    PartitionState n = p;
    n.leader = -1;
    n.leader_epoch += 1;
    n.partition_epoch += 1;
    return n;
  }
  if (p.leader < 0) {
    if (!live.empty()) return with_leader(p, live.front(), live);
    if (unclean) {
      for (int32_t r : p.replicas) {
        if (serves(r)) return with_leader(p, r, {r});
      }
    }
    return std::nullopt;
  }
  // A live leader: dead or shutting-down followers leave the ISR.
  std::vector<int32_t> isr;
  for (int32_t r : p.isr) {
    if (r == p.leader || serves(r)) isr.push_back(r);
  }
  if (isr == p.isr) return std::nullopt;
  PartitionState n = p;
  n.isr = std::move(isr);
  n.partition_epoch += 1;
  return n;
}

}  // namespace

int32_t preferred_read_replica(const MetadataImage& image, const PartitionState& p,
                               std::string_view rack, int32_t self) {
  auto rack_of = [&image](int32_t id) -> std::string_view {
    const BrokerRegistration* b = image.broker(id);
    return b == nullptr ? std::string_view() : std::string_view(b->rack);
  };
  if (rack.empty() || rack_of(self) == rack) return -1;
  for (int32_t r : p.replicas) {
    if (r != self && contains(p.isr, r) && is_live(image, r) && rack_of(r) == rack) return r;
  }
  return -1;
}

bool is_live(const MetadataImage& image, int32_t broker) {
  const BrokerRegistration* b = image.broker(broker);
  return b != nullptr && !b->shutting_down;
}

bool serves_replica(const MetadataImage& image, int32_t broker, const protocol::Uuid& topic_id,
                    int32_t index) {
  const BrokerRegistration* b = image.broker(broker);
  return b != nullptr && !b->shutting_down && !b->replica_offline(topic_id, index);
}

bool unclean_election_enabled(const TopicInfo& topic, bool broker_default) {
  auto it = topic.configs.find("unclean.leader.election.enable");
  if (it == topic.configs.end()) return broker_default;
  return it->second == "true";  // validated when set: "true" or "false"
}

std::vector<PartitionChange> repair_changes(const MetadataImage& image, bool unclean) {
  std::vector<PartitionChange> out;
  for (const auto& [name, topic] : image.topics) {
    const bool topic_unclean = unclean_election_enabled(topic.info, unclean);
    for (size_t i = 0; i < topic.partitions.size(); ++i) {
      auto next =
          repair(image, topic.partitions[i], topic_unclean, topic.info.id, static_cast<int32_t>(i));
      if (!next) next = complete_reassignment(image, topic.partitions[i]);
      if (next) {
        out.push_back(PartitionChange{name, topic.info.id, static_cast<int32_t>(i), *next});
      }
    }
  }
  return out;
}

std::optional<PartitionState> preferred_election(const MetadataImage& image,
                                                 const PartitionState& p,
                                                 protocol::ErrorCode* error) {
  if (p.replicas.empty()) {
    *error = protocol::ErrorCode::preferred_leader_not_available;
    return std::nullopt;
  }
  const int32_t preferred = p.replicas.front();
  if (p.leader == preferred) {
    *error = protocol::ErrorCode::election_not_needed;
    return std::nullopt;
  }
  if (!is_live(image, preferred) || !contains(p.isr, preferred)) {
    *error = protocol::ErrorCode::preferred_leader_not_available;
    return std::nullopt;
  }
  *error = protocol::ErrorCode::none;
  return with_leader(p, preferred, p.isr);
}

std::optional<PartitionState> unclean_election(const MetadataImage& image, const PartitionState& p,
                                               protocol::ErrorCode* error) {
  if (p.leader >= 0) {
    *error = protocol::ErrorCode::election_not_needed;
    return std::nullopt;
  }
  for (int32_t r : p.replicas) {
    if (is_live(image, r)) {
      *error = protocol::ErrorCode::none;
      // An ISR member, when one is live, keeps the election clean.
      const auto live = live_isr(image, p);
      if (!live.empty()) return with_leader(p, live.front(), live);
      return with_leader(p, r, {r});
    }
  }
  *error = protocol::ErrorCode::eligible_leaders_not_available;
  return std::nullopt;
}

std::vector<PartitionChange> rebalance_changes(const MetadataImage& image) {
  std::vector<PartitionChange> out;
  for (const auto& [name, topic] : image.topics) {
    for (size_t i = 0; i < topic.partitions.size(); ++i) {
      const PartitionState& p = topic.partitions[i];
      protocol::ErrorCode ignored;
      // Only when the current leader is fine: repairs come first. Never onto an offline replica.
      const auto index = static_cast<int32_t>(i);
      if (p.leader < 0 || !serves_replica(image, p.leader, topic.info.id, index)) continue;
      if (!p.replicas.empty() && !serves_replica(image, p.replicas.front(), topic.info.id, index)) {
        continue;
      }
      if (auto next = preferred_election(image, p, &ignored)) {
        out.push_back(PartitionChange{name, topic.info.id, static_cast<int32_t>(i), *next});
      }
    }
  }
  return out;
}

}  // namespace kaffa::cluster
