#include "coordinator/group_coordinator.h"

#include <atomic>

#include "base/log.h"

namespace kaffa::coordinator {

int32_t java_string_hash(std::string_view s) {
  // Decode UTF-8 to UTF-16 code units and fold them as String.hashCode does (h = 31 * h + c,
  // wrapping). Malformed bytes count as themselves, as a lenient decoder would map them.
  uint32_t h = 0;
  auto fold = [&h](uint32_t unit) { h = 31 * h + unit; };
  for (size_t i = 0; i < s.size();) {
    const auto b = static_cast<unsigned char>(s[i]);
    uint32_t cp = b;
    size_t len = 1;
    if (b >= 0xF0 && i + 3 < s.size()) {
      cp = ((b & 0x07u) << 18) | ((static_cast<unsigned char>(s[i + 1]) & 0x3Fu) << 12) |
           ((static_cast<unsigned char>(s[i + 2]) & 0x3Fu) << 6) |
           (static_cast<unsigned char>(s[i + 3]) & 0x3Fu);
      len = 4;
    } else if (b >= 0xE0 && i + 2 < s.size()) {
      cp = ((b & 0x0Fu) << 12) | ((static_cast<unsigned char>(s[i + 1]) & 0x3Fu) << 6) |
           (static_cast<unsigned char>(s[i + 2]) & 0x3Fu);
      len = 3;
    } else if (b >= 0xC0 && i + 1 < s.size()) {
      cp = ((b & 0x1Fu) << 6) | (static_cast<unsigned char>(s[i + 1]) & 0x3Fu);
      len = 2;
    }
    if (cp >= 0x10000) {
      cp -= 0x10000;
      fold(0xD800 + (cp >> 10));
      fold(0xDC00 + (cp & 0x3FF));
    } else {
      fold(cp);
    }
    i += len;
  }
  return static_cast<int32_t>(h);
}

GroupCoordinator::GroupCoordinator(GroupConfig config, cluster::PartitionManager& partitions,
                                   Post post, Schedule schedule)
    : config_(config),
      partitions_(partitions),
      post_(std::move(post)),
      schedule_(std::move(schedule)) {}

GroupCoordinator::~GroupCoordinator() = default;

void GroupCoordinator::start() {
  for (int32_t i = 0; i < config_.offsets_topic_num_partitions; ++i) {
    auto p = partitions_.get(kOffsetsTopic, i);
    if (!p) {
      log::error("group coordinator: {}-{} is missing", kOffsetsTopic, i);
      shards_.push_back(nullptr);
      continue;
    }
    shards_.push_back(std::make_unique<CoordinatorShard>(i, p, config_, schedule_));
  }
  for (size_t i = 0; i < shards_.size(); ++i) {
    if (!shards_[i]) continue;
    CoordinatorShard* s = shards_[i].get();
    post_(s->loop(), [s] { s->load(); });
    arm_expiry(i);
  }
}

void GroupCoordinator::arm_expiry(size_t index) {
  CoordinatorShard* s = shards_[index].get();
  schedule_(s->loop(), config_.offsets_retention_check_interval_ms, [this, s, index] {
    s->expire_offsets();
    arm_expiry(index);
  });
}

int32_t GroupCoordinator::partition_for(std::string_view group_id) const {
  const int32_t h = java_string_hash(group_id);
  const int32_t abs = h == INT32_MIN ? 0 : (h < 0 ? -h : h);  // Kafka's Utils.abs
  return abs % config_.offsets_topic_num_partitions;
}

void GroupCoordinator::with_shard(std::string_view group_id,
                                  std::function<void(CoordinatorShard*)> fn) {
  const auto index = static_cast<size_t>(partition_for(group_id));
  CoordinatorShard* s = index < shards_.size() ? shards_[index].get() : nullptr;
  if (s == nullptr) return fn(nullptr);
  post_(s->loop(), [s, fn = std::move(fn)] { fn(s->loaded() ? s : nullptr); });
}

bool GroupCoordinator::all_loaded() const {
  for (const auto& s : shards_) {
    if (s != nullptr && !s->loaded()) return false;
  }
  return true;
}

void GroupCoordinator::for_each_shard(std::function<void(CoordinatorShard*)> fn,
                                      std::function<void()> done) {
  auto remaining = std::make_shared<std::atomic<size_t>>(shards_.size());
  auto shared_fn = std::make_shared<std::function<void(CoordinatorShard*)>>(std::move(fn));
  auto shared_done = std::make_shared<std::function<void()>>(std::move(done));
  if (shards_.empty()) return (*shared_done)();
  for (auto& shard : shards_) {
    CoordinatorShard* s = shard.get();
    auto step = [s, remaining, shared_fn, shared_done] {
      (*shared_fn)(s != nullptr && s->loaded() ? s : nullptr);
      if (remaining->fetch_sub(1, std::memory_order_acq_rel) == 1) (*shared_done)();
    };
    if (s == nullptr) {
      step();
    } else {
      post_(s->loop(), std::move(step));
    }
  }
}

}  // namespace kaffa::coordinator
