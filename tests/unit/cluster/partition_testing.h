// Helpers of the Partition tests: a queue standing in for an event loop, and record batches.
#pragma once

#include <chrono>
#include <condition_variable>
#include <deque>
#include <functional>
#include <map>
#include <mutex>
#include <string>
#include <vector>

#include "cluster/topic_registry.h"
#include "record/builder.h"

namespace kaffa::cluster {

// A single-threaded stand-in for an event loop: post() queues, run_until() drains.
class Loop {
 public:
  void post(std::function<void()> fn) {
    std::lock_guard lock(mu_);
    q_.push_back(std::move(fn));
    cv_.notify_one();
  }
  template <class Pred>
  bool run_until(Pred done) {
    std::unique_lock lock(mu_);
    while (!done()) {
      if (!cv_.wait_for(lock, std::chrono::seconds(20), [&] { return !q_.empty(); })) return false;
      auto fn = std::move(q_.front());
      q_.pop_front();
      lock.unlock();
      fn();
      lock.lock();
    }
    return true;
  }

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<std::function<void()>> q_;
};

inline std::string batch(int n) {
  std::vector<record::BuildRecord> recs;
  for (int i = 0; i < n; ++i) recs.push_back({std::string("k"), std::string("v"), {}, 1000 + i});
  return record::build_batch(recs, record::Compression::none);
}

// A topic of `partitions` partitions with these topic configs.
inline TopicInfo topic_info(std::string name, int32_t partitions,
                            std::map<std::string, std::string> configs = {}) {
  TopicInfo t;
  t.name = std::move(name);
  t.partitions = partitions;
  t.configs = std::move(configs);
  return t;
}

}  // namespace kaffa::cluster
