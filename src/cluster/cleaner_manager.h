// CleanerManager: Kafka's log cleaner for the partitions of this broker (LogCleaner and
// LogCleanerManager, our own code). Compacts the logs of topics whose cleanup.policy contains
// `compact` (storage/log_cleaner.h says what is kept).
//
// Each of log.cleaner.threads threads loops: ask every compacted partition, on its owner loop,
// for a cleaning snapshot (Partition::cleaning_snapshot); pick the one with the highest dirty
// ratio at or above its min.cleanable.dirty.ratio, or one whose max.compaction.lag.ms is due;
// clean it on this thread (reading rolled segments, writing `.cleaned` files); post the swap to
// the owner loop (Partition::install_cleaned), which discards the result when retention or
// truncation changed the log meanwhile; then record the new first dirty offset in
// `<log.dirs>/cleaner-offset-checkpoint` (storage/checkpoint_file.h format). With nothing to do
// it sleeps log.cleaner.backoff.ms.
//
// I/O bound (log.cleaner.io.max.bytes.per.second, Kafka's Throttler): the bytes every thread
// reads and writes are counted together; a thread ahead of the rate sleeps until the count is
// due (counted in kaffa_log_cleaner_throttled_seconds_total). The count starts afresh after a
// second behind the rate (no credit for idle time).
//
// Reconfiguration (the dynamic broker configs Kafka's LogCleaner takes): reconfigure() sets a new
// I/O bound at once (waking the threads it held) and, when the thread count, backoff or dedupe
// buffer changes, retires the running threads and starts new ones, as Kafka restarts its cleaner
// threads. A retired thread abandons the cleaning it is in (its partition stays taken until it
// has, so two threads never clean one log) and is joined by a later reconfigure() or stop():
// reconfigure() never waits for a thread.
//
// Failure isolation: an error while cleaning a partition is logged and counted
// (kaffa_log_cleaner_failures_total); that partition is skipped for log.cleaner.backoff.ms
// (counted in kaffa_log_cleaner_uncleanable_partitions meanwhile) and the other partitions go
// on. No exception leaves a cleaner thread.
//
// Threading: start()/stop() from the broker's main thread; stop() is prompt (the cleaning in
// progress checks a flag between batches, waits on owner loops give up) and must come before
// the logs are closed; reconfigure() from any thread. The counters are atomics, read from any
// thread. The checkpoint file and the per-partition state are behind one mutex, the threads and
// the configuration behind another.
#pragma once

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <filesystem>
#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "cluster/partition.h"
#include "cluster/partition_manager.h"

namespace kaffa::cluster {

struct CleanerConfig {
  bool enable = true;                      // log.cleaner.enable
  int32_t threads = 1;                     // log.cleaner.threads
  int64_t backoff_ms = 15000;              // log.cleaner.backoff.ms
  int64_t dedupe_buffer_size = 134217728;  // log.cleaner.dedupe.buffer.size (all threads)
  double io_max_bytes_per_second = 1.7976931348623157e308;  // log.cleaner.io.max.bytes...
};

class CleanerManager {
 public:
  struct Stats {
    std::atomic<int64_t> runs{0};           // cleanings whose result was installed
    std::atomic<int64_t> failures{0};       // cleanings that failed
    std::atomic<int64_t> stale{0};          // results discarded (log changed meanwhile)
    std::atomic<int64_t> bytes_read{0};     // bytes of segments cleaned
    std::atomic<int64_t> bytes_written{0};  // bytes of the cleaned segments swapped in
    std::atomic<int64_t> records_removed{0};
    std::atomic<int64_t> uncleanable{0};          // partitions in failure backoff
    std::atomic<int64_t> max_dirty_ratio_ppm{0};  // of the last pass over the partitions
    std::atomic<int64_t> throttled_us{0};         // slept to keep the I/O bound
    std::atomic<int64_t> threads{0};              // running, not retired
  };

  CleanerManager(std::filesystem::path log_dir, CleanerConfig config, PartitionManager& partitions,
                 Post post);
  ~CleanerManager();  // stops

  void start();
  void stop();
  const Stats& stats() const { return stats_; }
  // The first dirty offset recorded for a partition (-1: none). Any thread.
  int64_t checkpoint(const std::string& topic, int32_t index) const;
  // Any thread, when a topic is deleted: its checkpoint entries go (a new topic of the same name
  // starts dirty from its start).
  void forget_topic(const std::string& topic);
  // Any thread: the dynamic settings of `next` (all but `enable`) in force.
  void reconfigure(const CleanerConfig& next);

 private:
  using Key = std::pair<std::string, int32_t>;
  struct Candidate {
    std::shared_ptr<Partition> partition;
    Partition::CleaningSnapshot snapshot;
    storage::DirtyRange range;
  };
  // One cleaner thread. `retire` (raised under sleep_mu_ by stop() or reconfigure()) ends it and
  // the cleaning it is in; `done` says it may be joined without waiting.
  struct Worker {
    CleanerConfig config;
    std::atomic<bool> retire{false};
    std::atomic<bool> done{false};
    std::thread thread;
  };

  void start_workers_locked();  // config_.threads new workers; workers_mu_ held
  void retire_workers_locked(bool wait);
  void run(Worker& w);
  bool pick(Candidate* out, const std::atomic<bool>& retire);
  void clean(Candidate& c, const Worker& w);
  void record_failure(const Key& key, const std::string& why, int64_t backoff_ms);
  bool write_checkpoint(std::string* error);
  void sleep_ms(int64_t ms, const std::atomic<bool>& retire);
  // The I/O bound: may sleep (until due, a new bound, or retired).
  void pace(int64_t bytes, const std::atomic<bool>& retire);
  void set_io_max_bytes_per_second(double rate);

  const std::filesystem::path log_dir_;
  PartitionManager& partitions_;
  Post post_;
  Stats stats_;

  std::mutex workers_mu_;
  CleanerConfig config_;                          // guarded by workers_mu_
  bool running_ = false;                          // between start() and stop(), guarded too
  std::vector<std::unique_ptr<Worker>> workers_;  // the running and the retired not yet joined

  std::mutex sleep_mu_;
  std::condition_variable sleep_cv_;
  // Guarded by sleep_mu_: the I/O bound, its generation (a change wakes the sleepers), and the
  // bytes counted since pace_start_.
  double io_rate_;
  uint64_t io_rate_generation_ = 0;
  std::chrono::steady_clock::time_point pace_start_{};
  double pace_bytes_ = 0;

  mutable std::mutex mu_;
  std::map<Key, int64_t> checkpoints_;    // first dirty offset by partition
  std::map<Key, int64_t> backoff_until_;  // steady-clock ms after a failure
  std::set<Key> in_progress_;
};

}  // namespace kaffa::cluster
