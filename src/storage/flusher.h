// Flusher: the thread that makes appends durable, so event-loop threads never wait on the disk.
//
// Owners hand it a FlushTicket (log.h) and a callback; the flusher thread runs
// FlushTicket::sync() (fdatasync) and then calls the callback on its own thread, which posts the
// result back to the owner. Everything submitted while a sync runs is synced in the next pass, so
// concurrent producers share syncs (group commit) — together with each Partition keeping at most
// one ticket in flight and batching the waiters that arrive meanwhile.
//
// Threading: submit() from any thread. stop() drains what was submitted, then joins.
#pragma once

#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <mutex>
#include <thread>

#include "base/metrics.h"
#include "storage/segment_file.h"

namespace kaffa::storage {

class Flusher {
 public:
  Flusher();
  ~Flusher();
  Flusher(const Flusher&) = delete;
  Flusher& operator=(const Flusher&) = delete;

  void submit(FlushTicket ticket, std::function<void(bool ok)> done);
  void stop();

  uint64_t syncs() const;  // tickets synced so far
  // Seconds spent in each FlushTicket::sync() (fdatasync), for metrics; any thread.
  const metrics::Histogram& sync_latency() const { return sync_latency_; }

 private:
  void run();

  struct Job {
    FlushTicket ticket;
    std::function<void(bool)> done;
  };
  mutable std::mutex mu_;
  std::condition_variable cv_;
  std::deque<Job> queue_;
  bool stopping_ = false;
  uint64_t syncs_ = 0;
  metrics::Histogram sync_latency_;
  std::thread thread_;
};

}  // namespace kaffa::storage
