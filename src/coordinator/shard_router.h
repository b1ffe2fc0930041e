// ShardRouter: routes a key's requests to the shard of the internal-topic partition that holds it
// (__consumer_offsets for groups, __transaction_state for transactional ids), and makes and
// retires those shards as this broker gains and loses the partitions' leadership.
//
// A single node leads every partition: lead_all() makes every shard at once, or, after
// start_lazily(), the first request does (ensure_started() creates the topic first, as Kafka
// creates its internal topics on first use). In a cluster on_leadership() makes a shard when this
// broker becomes a partition's leader and retires it when it stops: requests then get
// NOT_COORDINATOR and clients look the coordinator up again. A retired shard is kept (its timers
// and callbacks may still run; they check current()) but never routed to.
//
// Shard needs `size_t loop() const` (its partition's owner loop) and `bool loaded() const`.
//
// Threading: routing is safe from any thread (each partition's current shard is an atomic
// pointer); shards are made and retired on their partition's owner loop (lead_all posts there).
#pragma once

#include <atomic>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "base/log.h"
#include "cluster/partition_manager.h"
#include "protocol/error_codes.h"

namespace kaffa::coordinator {

template <class Shard>
class ShardRouter {
 public:
  using Post = std::function<void(size_t loop, std::function<void()> fn)>;
  using Make = std::function<std::unique_ptr<Shard>(int32_t, std::shared_ptr<cluster::Partition>)>;
  using Start = std::function<void(Shard*)>;   // on the shard's loop: load it, arm its timers
  using Retire = std::function<void(Shard*)>;  // on the shard's loop: it no longer leads

  ShardRouter(std::string topic, cluster::PartitionManager& partitions, Post post, Make make,
              Start start, Retire retire = {})
      : topic_(std::move(topic)),
        partitions_(partitions),
        post_(std::move(post)),
        make_(std::move(make)),
        start_(std::move(start)),
        retire_(std::move(retire)) {}

  // Before serving: a slot per partition of the topic, no shard yet (a cluster's start).
  void start_led(int32_t partitions) {
    for (int32_t i = 0; i < partitions; ++i) slots_.push_back(std::make_unique<Slot>());
  }
  // A single node: a shard for every partition (which must exist), started on its loop.
  void lead_all() {
    for (size_t i = 0; i < slots_.size(); ++i) {
      auto p = partitions_.get(topic_, static_cast<int32_t>(i));
      if (!p) {
        log::error("{} coordinator: {}-{} is missing", what(), topic_, i);
        continue;
      }
      // Published now (readiness counts it as loading); started once the loops run.
      Shard* s = make_shard(static_cast<int32_t>(i), std::move(p));
      post_(s->loop(), [this, s] { start_(s); });
    }
  }
  // A single node whose topic does not exist yet: ensure_started() makes it on first use.
  void start_lazily(std::function<bool()> create) { create_ = std::move(create); }
  // Any thread: true once the shards exist; false if `create` failed (the next call retries).
  bool ensure_started() {
    if (!create_ || started_.load(std::memory_order_acquire)) return true;
    std::lock_guard lock(lazy_mu_);
    if (started_.load(std::memory_order_relaxed)) return true;
    if (!create_()) return false;
    lead_all();
    started_.store(true, std::memory_order_release);
    return true;
  }
  // On the partition's owner loop: this broker became its leader (a shard is made and started)
  // or stopped leading it (its shard retires).
  void on_leadership(int32_t partition, bool leader) {
    if (partition < 0 || static_cast<size_t>(partition) >= slots_.size()) return;
    Slot& slot = *slots_[static_cast<size_t>(partition)];
    Shard* current = slot.current.load(std::memory_order_acquire);
    if (!leader) {
      if (current != nullptr) {
        log::info("{} coordinator: resigned {}-{}", what(), topic_, partition);
        slot.current.store(nullptr, std::memory_order_release);
        if (retire_) retire_(current);
      }
      return;
    }
    if (current != nullptr) return;  // already leading (a new epoch of the same leadership)
    auto p = partitions_.get(topic_, partition);
    if (!p) return;
    log::info("{} coordinator: loading {}-{} as its new leader", what(), topic_, partition);
    start_(make_shard(partition, std::move(p)));
  }
  // Any thread: whether `s` is still partition's current shard (not retired).
  bool current(int32_t partition, const Shard* s) const {
    return partition >= 0 && static_cast<size_t>(partition) < slots_.size() &&
           slots_[static_cast<size_t>(partition)]->current.load(std::memory_order_acquire) == s;
  }
  // Runs fn on the loop of partition's shard with that shard and NONE, or with nullptr and the
  // error to answer: COORDINATOR_LOAD_IN_PROGRESS while it loads, NOT_COORDINATOR when this
  // broker does not lead the partition, COORDINATOR_NOT_AVAILABLE when the topic cannot be made.
  void with_shard(int32_t partition, std::function<void(Shard*, protocol::ErrorCode)> fn) {
    using protocol::ErrorCode;
    const auto index = static_cast<size_t>(partition);
    Slot* slot = index < slots_.size() ? slots_[index].get() : nullptr;
    Shard* s = slot ? slot->current.load(std::memory_order_acquire) : nullptr;
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
  // Any thread: every current shard has replayed its partition.
  bool all_loaded() const {
    for (const auto& slot : slots_) {
      const Shard* s = slot->current.load(std::memory_order_acquire);
      if (s != nullptr && !s->loaded()) return false;
    }
    return true;
  }
  // Runs fn on every current shard's own loop (nullptr for a shard still loading) — so calls
  // for different shards may run concurrently on different loops: guard what they share — then
  // done() on the loop of the last one to finish (at once without shards). Partitions this
  // broker does not lead are skipped.
  void for_each_shard(std::function<void(Shard*)> fn, std::function<void()> done) {
    std::vector<Shard*> shards;
    for (const auto& slot : slots_) {
      if (auto* s = slot->current.load(std::memory_order_acquire)) shards.push_back(s);
    }
    if (shards.empty()) return done();
    auto remaining = std::make_shared<std::atomic<size_t>>(shards.size());
    auto shared_fn = std::make_shared<std::function<void(Shard*)>>(std::move(fn));
    auto shared_done = std::make_shared<std::function<void()>>(std::move(done));
    for (Shard* s : shards) {
      post_(s->loop(), [s, remaining, shared_fn, shared_done] {
        (*shared_fn)(s->loaded() ? s : nullptr);
        if (remaining->fetch_sub(1, std::memory_order_acq_rel) == 1) (*shared_done)();
      });
    }
  }
  int32_t partitions() const { return static_cast<int32_t>(slots_.size()); }
  const std::string& topic() const { return topic_; }

 private:
  struct Slot {
    std::atomic<Shard*> current{nullptr};     // published: loading or loaded
    std::vector<std::unique_ptr<Shard>> all;  // every shard made (owner loop)
  };
  const char* what() const { return topic_ == "__consumer_offsets" ? "group" : "transaction"; }
  Shard* make_shard(int32_t partition, std::shared_ptr<cluster::Partition> p) {
    Slot& slot = *slots_[static_cast<size_t>(partition)];
    auto shard = make_(partition, std::move(p));
    Shard* s = shard.get();
    slot.all.push_back(std::move(shard));
    slot.current.store(s, std::memory_order_release);
    return s;
  }

  const std::string topic_;
  cluster::PartitionManager& partitions_;
  Post post_;
  Make make_;
  Start start_;
  Retire retire_;
  std::vector<std::unique_ptr<Slot>> slots_;  // index = partition; fixed after start
  std::function<bool()> create_;
  std::mutex lazy_mu_;
  std::atomic<bool> started_{false};
};

}  // namespace kaffa::coordinator
