#include "coordinator/group_coordinator.h"

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
      schedule_(std::move(schedule)),
      router_(
          kOffsetsTopic, partitions, std::move(post),
          [this](int32_t index, std::shared_ptr<cluster::Partition> p) {
            return std::make_unique<CoordinatorShard>(index, std::move(p), config_, schedule_);
          },
          [this](CoordinatorShard* s) {
            s->load();
            arm_expiry(s);
          }) {}

GroupCoordinator::~GroupCoordinator() = default;

void GroupCoordinator::start() {
  start_led();
  router_.lead_all();
}

void GroupCoordinator::start_lazily(std::function<bool()> create) {
  start_led();
  router_.start_lazily(std::move(create));
}

bool GroupCoordinator::ensure_started() {
  return router_.ensure_started();
}

void GroupCoordinator::start_led() {
  router_.start_led(config_.offsets_topic_num_partitions);
}

void GroupCoordinator::on_leadership(int32_t partition, bool leader) {
  router_.on_leadership(partition, leader);
}

void GroupCoordinator::arm_expiry(CoordinatorShard* s) {
  schedule_(s->loop(), config_.offsets_retention_check_interval_ms, [this, s] {
    if (!router_.current(s->index(), s)) return;  // retired
    s->expire_offsets();
    arm_expiry(s);
  });
}

int32_t GroupCoordinator::partition_for(std::string_view group_id) const {
  const int32_t h = java_string_hash(group_id);
  const int32_t abs = h == INT32_MIN ? 0 : (h < 0 ? -h : h);  // Kafka's Utils.abs
  return abs % config_.offsets_topic_num_partitions;
}

void GroupCoordinator::with_shard(std::string_view group_id,
                                  std::function<void(CoordinatorShard*, protocol::ErrorCode)> fn) {
  router_.with_shard(partition_for(group_id), std::move(fn));
}

void GroupCoordinator::complete_transaction(int32_t offsets_partition, int64_t producer_id,
                                            bool commit, std::function<void()> done) {
  router_.with_shard(offsets_partition, [producer_id, commit, done = std::move(done)](
                                            CoordinatorShard* s, protocol::ErrorCode) {
    // Without a loaded shard here: a shard still loading replays the marker itself (it loads up
    // to the log end it finds), and a broker not leading the partition has nothing to apply.
    if (s != nullptr) s->complete_transaction(producer_id, commit);
    done();
  });
}

bool GroupCoordinator::all_loaded() const {
  return router_.all_loaded();
}

void GroupCoordinator::for_each_shard(std::function<void(CoordinatorShard*)> fn,
                                      std::function<void()> done) {
  router_.for_each_shard(std::move(fn), std::move(done));
}

}  // namespace kaffa::coordinator
