#include "txn/txn_coordinator.h"

#include "coordinator/group_coordinator.h"

namespace kaffa::txn {

TxnCoordinator::TxnCoordinator(TxnConfig config, cluster::PartitionManager& partitions,
                               TxnServices services, MarkerWriter::OffsetsDone offsets_done)
    : config_(config),
      services_(std::move(services)),
      markers_(partitions, services_.post, services_.schedule, std::move(offsets_done)),
      router_(
          kTransactionTopic, partitions, services_.post,
          [this](int32_t index, std::shared_ptr<cluster::Partition> p) {
            return std::make_unique<TxnShard>(index, std::move(p), config_, services_);
          },
          [this](TxnShard* s) {
            s->load();
            arm_timers(s);
          },
          [](TxnShard* s) { s->retire(); }) {
  services_.markers = &markers_;
}

TxnCoordinator::~TxnCoordinator() = default;

void TxnCoordinator::start(int32_t partitions) {
  router_.start_led(partitions);
  router_.lead_all();
}

void TxnCoordinator::start_lazily(int32_t partitions, std::function<bool()> create) {
  router_.start_led(partitions);
  router_.start_lazily(std::move(create));
}

void TxnCoordinator::start_led(int32_t partitions) {
  router_.start_led(partitions);
}

void TxnCoordinator::arm_timers(TxnShard* s) {
  arm(s, config_.abort_interval_ms, &TxnShard::abort_timed_out);
  arm(s, config_.expiry_interval_ms, &TxnShard::expire_ids);
}

void TxnCoordinator::arm(TxnShard* s, int64_t interval_ms, void (TxnShard::*pass)()) {
  services_.schedule(s->loop(), interval_ms, [this, s, interval_ms, pass] {
    if (!router_.current(s->index(), s)) return;  // retired
    (s->*pass)();
    arm(s, interval_ms, pass);
  });
}

int32_t TxnCoordinator::partition_for(std::string_view transactional_id) const {
  const int32_t h = coordinator::java_string_hash(transactional_id);
  const int32_t abs = h == INT32_MIN ? 0 : (h < 0 ? -h : h);  // Kafka's Utils.abs
  return abs % router_.partitions();
}

void TxnCoordinator::with_shard(std::string_view transactional_id,
                                std::function<void(TxnShard*, protocol::ErrorCode)> fn) {
  router_.with_shard(partition_for(transactional_id), std::move(fn));
}

void TxnCoordinator::for_each_shard(std::function<void(TxnShard*)> fn, std::function<void()> done) {
  router_.for_each_shard(
      [fn = std::move(fn)](TxnShard* s) {
        if (s != nullptr) fn(s);
      },
      std::move(done));
}

}  // namespace kaffa::txn
