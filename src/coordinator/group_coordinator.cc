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
  start_led();
  lead_all();
}

void GroupCoordinator::start_lazily(std::function<bool()> create) {
  start_led();
  create_ = std::move(create);
}

bool GroupCoordinator::ensure_started() {
  if (!create_ || started_.load(std::memory_order_acquire)) return true;
  std::lock_guard lock(lazy_mu_);
  if (started_.load(std::memory_order_relaxed)) return true;
  if (!create_()) return false;
  lead_all();
  started_.store(true, std::memory_order_release);
  return true;
}

void GroupCoordinator::lead_all() {
  for (int32_t i = 0; i < config_.offsets_topic_num_partitions; ++i) {
    auto p = partitions_.get(kOffsetsTopic, i);
    if (!p) {
      log::error("group coordinator: {}-{} is missing", kOffsetsTopic, i);
      continue;
    }
    // Published now (readiness counts it as loading); loaded on its loop once the loops run.
    CoordinatorShard* s = make_shard(i, std::move(p));
    post_(s->loop(), [this, i, s] {
      s->load();
      arm_expiry(*slots_[static_cast<size_t>(i)], s);
    });
  }
}

void GroupCoordinator::start_led() {
  for (int32_t i = 0; i < config_.offsets_topic_num_partitions; ++i) {
    slots_.push_back(std::make_unique<Slot>());
  }
}

CoordinatorShard* GroupCoordinator::make_shard(int32_t partition,
                                               std::shared_ptr<cluster::Partition> p) {
  Slot& slot = *slots_[static_cast<size_t>(partition)];
  auto shard = std::make_unique<CoordinatorShard>(partition, std::move(p), config_, schedule_);
  CoordinatorShard* s = shard.get();
  slot.all.push_back(std::move(shard));
  slot.current.store(s, std::memory_order_release);
  return s;
}

void GroupCoordinator::on_leadership(int32_t partition, bool leader) {
  if (partition < 0 || static_cast<size_t>(partition) >= slots_.size()) return;
  Slot& slot = *slots_[static_cast<size_t>(partition)];
  CoordinatorShard* current = slot.current.load(std::memory_order_acquire);
  if (!leader) {
    if (current != nullptr) {
      log::info("group coordinator: resigned {}-{}", kOffsetsTopic, partition);
      slot.current.store(nullptr, std::memory_order_release);
    }
    return;
  }
  if (current != nullptr) return;  // already leading (a new epoch of the same leadership)
  auto p = partitions_.get(kOffsetsTopic, partition);
  if (!p) return;
  log::info("group coordinator: loading {}-{} as its new leader", kOffsetsTopic, partition);
  CoordinatorShard* s = make_shard(partition, std::move(p));
  s->load();
  arm_expiry(slot, s);
}

void GroupCoordinator::arm_expiry(Slot& slot, CoordinatorShard* s) {
  schedule_(s->loop(), config_.offsets_retention_check_interval_ms, [this, &slot, s] {
    if (slot.current.load(std::memory_order_acquire) != s) return;  // retired
    s->expire_offsets();
    arm_expiry(slot, s);
  });
}

int32_t GroupCoordinator::partition_for(std::string_view group_id) const {
  const int32_t h = java_string_hash(group_id);
  const int32_t abs = h == INT32_MIN ? 0 : (h < 0 ? -h : h);  // Kafka's Utils.abs
  return abs % config_.offsets_topic_num_partitions;
}

void GroupCoordinator::with_shard(std::string_view group_id,
                                  std::function<void(CoordinatorShard*, protocol::ErrorCode)> fn) {
  using protocol::ErrorCode;
  const auto index = static_cast<size_t>(partition_for(group_id));
  Slot* slot = index < slots_.size() ? slots_[index].get() : nullptr;
  CoordinatorShard* s = slot ? slot->current.load(std::memory_order_acquire) : nullptr;
  if (s == nullptr && slot != nullptr && create_) {
    if (!ensure_started()) return fn(nullptr, ErrorCode::coordinator_not_available);
    s = slot->current.load(std::memory_order_acquire);
  }
  if (s == nullptr) return fn(nullptr, ErrorCode::not_coordinator);
  post_(s->loop(), [slot, s, fn = std::move(fn)] {
    if (slot->current.load(std::memory_order_acquire) != s) {
      return fn(nullptr, ErrorCode::not_coordinator);
    }
    if (!s->loaded()) return fn(nullptr, ErrorCode::coordinator_load_in_progress);
    fn(s, ErrorCode::none);
  });
}

bool GroupCoordinator::all_loaded() const {
  for (const auto& slot : slots_) {
    const CoordinatorShard* s = slot->current.load(std::memory_order_acquire);
    if (s != nullptr && !s->loaded()) return false;
  }
  return true;
}

void GroupCoordinator::for_each_shard(std::function<void(CoordinatorShard*)> fn,
                                      std::function<void()> done) {
  std::vector<CoordinatorShard*> shards;
  for (const auto& slot : slots_) {
    if (auto* s = slot->current.load(std::memory_order_acquire)) shards.push_back(s);
  }
  auto remaining = std::make_shared<std::atomic<size_t>>(shards.size());
  auto shared_fn = std::make_shared<std::function<void(CoordinatorShard*)>>(std::move(fn));
  auto shared_done = std::make_shared<std::function<void()>>(std::move(done));
  if (shards.empty()) return (*shared_done)();
  for (CoordinatorShard* s : shards) {
    post_(s->loop(), [s, remaining, shared_fn, shared_done] {
      (*shared_fn)(s->loaded() ? s : nullptr);
      if (remaining->fetch_sub(1, std::memory_order_acq_rel) == 1) (*shared_done)();
    });
  }
}

}  // namespace kaffa::coordinator
