#include "coordinator/offset_store.h"

#include <limits>
#include <utility>

namespace kaffa::coordinator {

void OffsetStore::apply(const std::string& group, const std::string& topic, int32_t partition,
                        std::optional<CommittedOffset> v) {
  if (v) {
    groups_[group][topic][partition] = std::move(*v);
    return;
  }
  auto g = groups_.find(group);
  if (g == groups_.end()) return;
  auto t = g->second.find(topic);
  if (t == g->second.end()) return;
  t->second.erase(partition);
  if (t->second.empty()) g->second.erase(t);
  if (g->second.empty()) groups_.erase(g);
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
  return groups_.find(group) != groups_.end();
}

std::vector<std::string> OffsetStore::groups() const {
  std::vector<std::string> out;
  out.reserve(groups_.size());
  for (const auto& [group, topics] : groups_) out.push_back(group);
  return out;
}

std::vector<CoordinatorShard::Record> OffsetStore::delete_group_records(
    std::string_view group) const {
  std::vector<CoordinatorShard::Record> out;
  const TopicOffsets* topics = group_offsets(group);
  if (!topics) return out;
  for (const auto& [topic, partitions] : *topics) {
    for (const auto& [partition, offset] : partitions) {
      out.push_back({records::offset_commit_key(group, topic, partition), std::nullopt});
    }
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
    for (const auto& [topic, partitions] : topics) {
      for (const auto& [partition, offset] : partitions) {
        if (is_expired(offset, now_ms, retention_ms, base.since)) {
          out.push_back({records::offset_commit_key(group, topic, partition), std::nullopt});
        }
      }
    }
  }
  return out;
}

}  // namespace kaffa::coordinator
