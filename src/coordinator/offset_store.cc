#include "coordinator/offset_store.h"

#include <iterator>
#include <limits>
#include <set>
#include <utility>

namespace kaffa::coordinator {

void OffsetStore::apply(const std::string& group, const std::string& topic, int32_t partition,
                        std::optional<CommittedOffset> v) {
  if (v) {
    groups_[group][topic][partition] = std::move(*v);
    return;
  }
  if (!open_txns_.empty()) drop_pending(group, topic, partition);
  erase_offset(groups_, group, topic, partition);
}

void OffsetStore::apply_pending(int64_t producer_id, const std::string& group,
                                const std::string& topic, int32_t partition, CommittedOffset v) {
  pending_[producer_id][group][topic][partition] = std::move(v);
  open_txns_[group].insert(producer_id);
}

void OffsetStore::complete_transaction(int64_t producer_id, bool commit) {
  auto node = pending_.extract(producer_id);
  if (node.empty()) return;
  for (auto& [group, topics] : node.mapped()) {
    if (auto open = open_txns_.find(group); open != open_txns_.end()) {
      open->second.erase(producer_id);
      if (open->second.empty()) open_txns_.erase(open);
    }
    if (!commit) continue;
    for (auto& [topic, partitions] : topics) {
      for (auto& [partition, v] : partitions) {
        const CommittedOffset* current = get(group, topic, partition);
        if (current == nullptr || current->record_offset < v.record_offset) {
          groups_[group][topic][partition] = std::move(v);
        }
      }
    }
  }
}

bool OffsetStore::has_pending(std::string_view group) const {
  return open_txns_.find(group) != open_txns_.end();
}

bool OffsetStore::has_pending(std::string_view group, std::string_view topic,
                              int32_t partition) const {
  auto open = open_txns_.find(group);
  if (open == open_txns_.end()) return false;
  for (int64_t producer_id : open->second) {
    auto p = pending_.find(producer_id);
    if (p == pending_.end()) continue;
    auto g = p->second.find(group);
    if (g == p->second.end()) continue;
    auto t = g->second.find(std::string(topic));
    if (t != g->second.end() && t->second.count(partition) != 0) return true;
  }
  return false;
}

void OffsetStore::drop_pending(const std::string& group, const std::string& topic,
                               int32_t partition) {
  auto open = open_txns_.find(group);
  if (open == open_txns_.end()) return;
  for (auto id = open->second.begin(); id != open->second.end();) {
    // The transaction stays open for the group while it has other offsets of it pending.
    bool still_open = false;
    if (auto p = pending_.find(*id); p != pending_.end()) {
      erase_offset(p->second, group, topic, partition);
      still_open = p->second.count(group) != 0;
      if (p->second.empty()) pending_.erase(p);
    }
    id = still_open ? std::next(id) : open->second.erase(id);
  }
  if (open->second.empty()) open_txns_.erase(open);
}

void OffsetStore::erase_offset(GroupOffsets& offsets, const std::string& group,
                               const std::string& topic, int32_t partition) {
  auto g = offsets.find(group);
  if (g == offsets.end()) return;
  auto t = g->second.find(topic);
  if (t == g->second.end()) return;
  t->second.erase(partition);
  if (t->second.empty()) g->second.erase(t);
  if (g->second.empty()) offsets.erase(g);
}

const CommittedOffset* OffsetStore::get(std::string_view group, std::string_view topic,
                                        int32_t partition) const {
  const TopicOffsets* topics = group_offsets(group);
  if (!topics) return nullptr;
  auto t = topics->find(std::string(topic));
  if (t == topics->end()) return nullptr;
  auto p = t->second.find(partition);
  return p == t->second.end() ? nullptr : &p->second;
}

const OffsetStore::TopicOffsets* OffsetStore::group_offsets(std::string_view group) const {
  auto g = groups_.find(group);
  return g == groups_.end() ? nullptr : &g->second;
}

bool OffsetStore::has_offsets(std::string_view group) const {
  return groups_.find(group) != groups_.end() || has_pending(group);
}

std::vector<std::string> OffsetStore::groups() const {
  std::vector<std::string> out;
  out.reserve(groups_.size());
  for (const auto& [group, topics] : groups_) out.push_back(group);
  if (open_txns_.empty()) return out;
  // Both in name order: merge in the groups with only pending offsets.
  std::vector<std::string> merged;
  merged.reserve(out.size() + open_txns_.size());
  auto c = out.begin();
  for (const auto& [group, ids] : open_txns_) {
    while (c != out.end() && *c < group) merged.push_back(std::move(*c++));
    if (c != out.end() && *c == group) ++c;
    merged.push_back(group);
  }
  while (c != out.end()) merged.push_back(std::move(*c++));
  return merged;
}

std::vector<std::pair<std::string, int32_t>> OffsetStore::partitions_of(
    std::string_view group) const {
  std::set<std::pair<std::string, int32_t>> all;
  auto add = [&all](const TopicOffsets& topics) {
    for (const auto& [topic, partitions] : topics) {
      for (const auto& [partition, offset] : partitions) all.emplace(topic, partition);
    }
  };
  if (const TopicOffsets* topics = group_offsets(group)) add(*topics);
  if (auto open = open_txns_.find(group); open != open_txns_.end()) {
    for (int64_t producer_id : open->second) {
      auto p = pending_.find(producer_id);
      if (p == pending_.end()) continue;
      if (auto g = p->second.find(group); g != p->second.end()) add(g->second);
    }
  }
  return {all.begin(), all.end()};
}

std::vector<CoordinatorShard::Record> OffsetStore::delete_group_records(
    std::string_view group) const {
  std::vector<CoordinatorShard::Record> out;
  for (const auto& [topic, partition] : partitions_of(group)) {
    out.push_back({records::offset_commit_key(group, topic, partition), std::nullopt});
  }
  return out;
}

bool OffsetStore::is_expired(const CommittedOffset& v, int64_t now_ms, int64_t retention_ms,
                             std::optional<int64_t> since) {
  if (v.expire_timestamp >= 0) return now_ms >= v.expire_timestamp;
  // commit_timestamp may be anything a v1 client sent: compute the age without overflowing.
  const int64_t base = since.value_or(v.commit_timestamp);
  int64_t age = 0;
  if (__builtin_sub_overflow(now_ms, base, &age)) {
    age = base < 0 ? std::numeric_limits<int64_t>::max() : std::numeric_limits<int64_t>::min();
  }
  return age >= retention_ms;
}

std::vector<CoordinatorShard::Record> OffsetStore::expired_records(
    int64_t now_ms, int64_t retention_ms,
    const std::function<ExpiryBase(const std::string&)>& policy) const {
  std::vector<CoordinatorShard::Record> out;
  for (const auto& [group, topics] : groups_) {
    const ExpiryBase base = policy(group);
    if (!base.allowed) continue;
    const bool open = has_pending(group);
    for (const auto& [topic, partitions] : topics) {
      for (const auto& [partition, offset] : partitions) {
        if (open && has_pending(group, topic, partition)) continue;  // Kafka: not yet
        if (is_expired(offset, now_ms, retention_ms, base.since)) {
          out.push_back({records::offset_commit_key(group, topic, partition), std::nullopt});
        }
      }
    }
  }
  return out;
}

}  // namespace kaffa::coordinator
