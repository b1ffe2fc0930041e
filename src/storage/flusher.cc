#include "storage/flusher.h"

namespace kaffa::storage {

Flusher::Flusher() : thread_([this] { run(); }) {}

Flusher::~Flusher() {
  stop();
}

void Flusher::submit(FlushTicket ticket, std::function<void(bool ok)> done) {
  {
    std::lock_guard lock(mu_);
    queue_.push_back({std::move(ticket), std::move(done)});
  }
  cv_.notify_one();
}

void Flusher::stop() {
  {
    std::lock_guard lock(mu_);
    if (stopping_ && !thread_.joinable()) return;
    stopping_ = true;
  }
  cv_.notify_one();
  if (thread_.joinable()) thread_.join();
}

uint64_t Flusher::syncs() const {
  std::lock_guard lock(mu_);
  return syncs_;
}

void Flusher::run() {
  std::unique_lock lock(mu_);
  for (;;) {
    cv_.wait(lock, [this] { return stopping_ || !queue_.empty(); });
    if (queue_.empty()) return;  // stopping and drained
    std::deque<Job> batch;
    batch.swap(queue_);
    lock.unlock();
    for (auto& job : batch) {
      const auto start = std::chrono::steady_clock::now();
      const bool ok = job.ticket.sync();
      sync_latency_.observe_since(start);
      job.done(ok);
    }
    lock.lock();
    syncs_ += batch.size();
  }
}

}  // namespace kaffa::storage
