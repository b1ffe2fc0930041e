// BrokerChannels: requests this broker sends to other brokers on its own initiative (transaction
// markers, partition verifications), through one thread, one queue and one connection per
// destination broker (TLS and SASL as the replica fetchers: cluster::connect_inter_broker), so that
// a broker that does not answer holds back only what is bound for it, until the request times out
// (replica.socket.timeout.ms). Each thread hands what queued up for its broker while its previous
// request was out (at most max_batch jobs) to `deliver` at once, for one request.
//
// Threading: enqueue() from any thread; `deliver` runs on the destination's thread and must finish
// every job it is given. A thread is made on the first job for its broker; one left without jobs
// for idle_ms (Kafka's connections.max.idle.ms default: 10 minutes) closes its connection and ends,
// and the next job for that broker makes a new one (so brokers gone from the cluster keep no
// thread). stop() ends them all.
#pragma once

#include <chrono>
#include <condition_variable>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "base/log.h"
#include "cluster/metadata_image.h"
#include "cluster/replica_fetcher.h"
#include "cluster/replica_fetcher_connection.h"

namespace kaffa::txn {

template <class Job>
class BrokerChannels {
 public:
  // `conn` is connected, or nullptr when the broker cannot be reached (then every job fails).
  using Deliver = std::function<void(int32_t broker_id, cluster::BrokerConnection* conn,
                                     std::vector<Job>& jobs)>;

  BrokerChannels(std::string what, cluster::ReplicaFetcherSettings settings, size_t max_batch,
                 Deliver deliver, int64_t idle_ms = 600000)
      : what_(std::move(what)),
        settings_(std::move(settings)),
        max_batch_(max_batch),
        deliver_(std::move(deliver)),
        idle_(std::chrono::milliseconds(idle_ms)) {}
  ~BrokerChannels() { stop(); }
  BrokerChannels(const BrokerChannels&) = delete;
  BrokerChannels& operator=(const BrokerChannels&) = delete;

  const cluster::ReplicaFetcherSettings& settings() const { return settings_; }

  // Queues `job` for broker_id at `endpoint` (the newest one wins). False once stopping: the job
  // is dropped unanswered.
  bool enqueue(int32_t broker_id, const cluster::BrokerEndpoint& endpoint, Job job) {
    std::lock_guard lock(mu_);
    if (stop_) return false;
    auto& d = destinations_[broker_id];
    if (!d) {
      d = std::make_unique<Destination>();
      d->broker_id = broker_id;
    }
    if (!d->running) {
      // Ended (idle) or never started; an ended thread has released mu_ for good: joined at once.
      if (d->thread.joinable()) d->thread.join();
      d->running = true;
      d->thread = std::thread([this, dest = d.get()] { run(*dest); });
    }
    d->endpoint = endpoint;
    d->jobs.push_back(std::move(job));
    d->cv.notify_one();
    return true;
  }

  void stop() {
    {
      std::lock_guard lock(mu_);
      stop_ = true;
      for (auto& [id, d] : destinations_) d->cv.notify_all();
    }
    // No destination is added once stopping, so the map is read without the lock from here on.
    for (auto& [id, d] : destinations_) d->conn.interrupt();
    for (auto& [id, d] : destinations_) {
      if (d->thread.joinable()) d->thread.join();
    }
  }

  // Destinations with a thread now (for tests).
  size_t threads() {
    std::lock_guard lock(mu_);
    size_t n = 0;
    for (const auto& [id, d] : destinations_) n += d->running ? 1 : 0;
    return n;
  }

 private:
  // One destination broker. Its queue, endpoint and `running` are guarded by mu_; the connection
  // belongs to its thread.
  struct Destination {
    int32_t broker_id = -1;
    bool running = false;  // its thread has not ended
    cluster::BrokerEndpoint endpoint;
    std::deque<Job> jobs;
    std::condition_variable cv;
    cluster::BrokerConnection conn;
    std::thread thread;
  };

  void run(Destination& d) {
    std::vector<Job> jobs;
    for (;;) {
      cluster::BrokerEndpoint endpoint;
      {
        std::unique_lock lock(mu_);
        if (!d.cv.wait_for(lock, idle_, [&] { return stop_ || !d.jobs.empty(); })) {
          // Idle: the next job starts a new thread. Closed under mu_, so that stop() finds it
          // closed or the thread still waiting.
          d.conn.close();
          d.running = false;
          return;
        }
        if (stop_) return;
        while (!d.jobs.empty() && jobs.size() < max_batch_) {
          jobs.push_back(std::move(d.jobs.front()));
          d.jobs.pop_front();
        }
        endpoint = d.endpoint;
      }
      std::string error;
      // A connection the peer closed while it was idle (its connections.max.idle.ms) is
      // replaced now, rather than failing this batch and the next one reconnecting.
      if (d.conn.connected() && d.conn.peer_closed()) d.conn.close();
      const bool up =
          d.conn.connected() || cluster::connect_inter_broker(d.conn, endpoint, settings_, &error);
      if (!up) log::warn("{}: cannot reach broker {}: {}", what_, d.broker_id, error);
      deliver_(d.broker_id, up ? &d.conn : nullptr, jobs);
      jobs.clear();
    }
  }

  const std::string what_;  // for logs
  const cluster::ReplicaFetcherSettings settings_;
  const size_t max_batch_;
  const Deliver deliver_;
  const std::chrono::milliseconds idle_;
  std::mutex mu_;
  bool stop_ = false;
  std::map<int32_t, std::unique_ptr<Destination>> destinations_;
};

}  // namespace kaffa::txn
