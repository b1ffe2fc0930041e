#include "cluster/cleaner_manager.h"

#include <algorithm>
#include <chrono>
#include <optional>

#include "base/clock.h"
#include "base/log.h"
#include "storage/checkpoint_file.h"

namespace kaffa::cluster {
namespace {

constexpr const char* kCleanerCheckpoint = "cleaner-offset-checkpoint";
constexpr auto kOwnerPoll = std::chrono::milliseconds(100);

// Runs fn on the owner loop `shard` and waits for its result; nullopt when `stop` is raised
// first (at shutdown the loops may never run it).
template <class F>
auto call_on_owner(const Post& post, size_t shard, const std::atomic<bool>& stop, F fn)
    -> std::optional<decltype(fn())> {
  using R = decltype(fn());
  struct State {
    std::mutex mu;
    std::condition_variable cv;
    std::optional<R> result;
  };
  auto st = std::make_shared<State>();
  post(shard, [st, fn = std::move(fn)]() mutable {
    auto r = fn();
    std::lock_guard lock(st->mu);
    st->result.emplace(std::move(r));
    st->cv.notify_all();
  });
  std::unique_lock lock(st->mu);
  while (!st->result) {
    if (stop.load()) return std::nullopt;
    st->cv.wait_for(lock, kOwnerPoll);
  }
  return std::move(st->result);
}

}  // namespace

CleanerManager::CleanerManager(std::filesystem::path log_dir, CleanerConfig config,
                               PartitionManager& partitions, Post post)
    : log_dir_(std::move(log_dir)),
      partitions_(partitions),
      post_(std::move(post)),
      config_(config),
      io_rate_(config.io_max_bytes_per_second) {
  storage::OffsetCheckpointFile file(log_dir_ / kCleanerCheckpoint);
  if (std::filesystem::exists(file.path())) {
    std::string why;
    if (auto offsets = file.read(&why)) {
      checkpoints_ = std::move(*offsets);
    } else {
      log::warn("ignoring {}: {}; compacted logs are cleaned from their start",
                file.path().string(), why);
    }
  }
}

CleanerManager::~CleanerManager() {
  stop();
}

void CleanerManager::start() {
  std::lock_guard lock(workers_mu_);
  if (!config_.enable || running_) return;
  running_ = true;
  start_workers_locked();
  log::info("log cleaner started ({} threads)", stats_.threads.load());
}

void CleanerManager::stop() {
  std::lock_guard lock(workers_mu_);
  running_ = false;
  retire_workers_locked(true);
}

void CleanerManager::start_workers_locked() {
  const int32_t n = std::max(1, config_.threads);
  for (int32_t i = 0; i < n; ++i) {
    auto w = std::make_unique<Worker>();
    w->config = config_;
    Worker* raw = w.get();
    workers_.push_back(std::move(w));
    raw->thread = std::thread([this, raw] { run(*raw); });
  }
  stats_.threads = n;
}

// Raises every worker's retire flag; joins those that are done (all, waiting, with `wait`).
void CleanerManager::retire_workers_locked(bool wait) {
  {
    std::lock_guard lock(sleep_mu_);
    for (auto& w : workers_) w->retire = true;
  }
  sleep_cv_.notify_all();
  stats_.threads = 0;
  std::erase_if(workers_, [wait](const std::unique_ptr<Worker>& w) {
    if (!wait && !w->done) return false;
    w->thread.join();
    return true;
  });
}

void CleanerManager::reconfigure(const CleanerConfig& next) {
  set_io_max_bytes_per_second(next.io_max_bytes_per_second);
  std::lock_guard lock(workers_mu_);
  const bool restart = next.threads != config_.threads || next.backoff_ms != config_.backoff_ms ||
                       next.dedupe_buffer_size != config_.dedupe_buffer_size;
  const bool enable = config_.enable;
  config_ = next;
  config_.enable = enable;  // static
  if (!restart || !running_) return;
  retire_workers_locked(false);
  start_workers_locked();
  log::info("log cleaner restarted: {} threads, backoff {} ms, dedupe buffer {} bytes",
            config_.threads, config_.backoff_ms, config_.dedupe_buffer_size);
}

int64_t CleanerManager::checkpoint(const std::string& topic, int32_t index) const {
  std::lock_guard lock(mu_);
  const auto it = checkpoints_.find({topic, index});
  return it == checkpoints_.end() ? -1 : it->second;
}

void CleanerManager::forget_topic(const std::string& topic) {
  std::lock_guard lock(mu_);
  const auto erased =
      std::erase_if(checkpoints_, [&](const auto& e) { return e.first.first == topic; });
  std::erase_if(backoff_until_, [&](const auto& e) { return e.first.first == topic; });
  std::string why;
  if (erased > 0 && !write_checkpoint(&why)) log::warn("log cleaner: {}", why);
}

void CleanerManager::sleep_ms(int64_t ms, const std::atomic<bool>& retire) {
  std::unique_lock lock(sleep_mu_);
  sleep_cv_.wait_for(lock, std::chrono::milliseconds(ms), [&retire] { return retire.load(); });
}

void CleanerManager::set_io_max_bytes_per_second(double rate) {
  {
    std::lock_guard lock(sleep_mu_);
    if (rate == io_rate_) return;
    io_rate_ = rate;
    ++io_rate_generation_;
    pace_start_ = {};
  }
  sleep_cv_.notify_all();
}

void CleanerManager::pace(int64_t bytes, const std::atomic<bool>& retire) {
  using std::chrono::steady_clock;
  std::unique_lock lock(sleep_mu_);
  if (!(io_rate_ > 0) || io_rate_ >= 1e300) return;  // Kafka's Double.MAX_VALUE: no bound
  const auto now = steady_clock::now();
  const double elapsed = std::chrono::duration<double>(now - pace_start_).count();
  if (pace_start_ == steady_clock::time_point{} ||
      (elapsed > 1.0 && pace_bytes_ <= io_rate_ * elapsed)) {
    pace_start_ = now;
    pace_bytes_ = 0;
  }
  pace_bytes_ += static_cast<double>(bytes);
  const auto due = pace_start_ + std::chrono::duration_cast<steady_clock::duration>(
                                     std::chrono::duration<double>(pace_bytes_ / io_rate_));
  if (due <= now) return;
  const uint64_t generation = io_rate_generation_;
  sleep_cv_.wait_until(lock, due, [&] { return retire || io_rate_generation_ != generation; });
  stats_.throttled_us +=
      std::chrono::duration_cast<std::chrono::microseconds>(steady_clock::now() - now).count();
}

void CleanerManager::run(Worker& w) {
  while (!w.retire) {
    Candidate c;
    bool found = false;
    try {
      found = pick(&c, w.retire);
    } catch (const std::exception& e) {
      log::error("log cleaner: choosing a partition failed: {}", e.what());
    }
    if (!found) {
      sleep_ms(w.config.backoff_ms, w.retire);
      continue;
    }
    const Key key{c.partition->topic(), c.partition->index()};
    try {
      clean(c, w);
    } catch (const std::exception& e) {
      record_failure(key, e.what(), w.config.backoff_ms);
    }
    std::lock_guard lock(mu_);
    in_progress_.erase(key);
  }
  w.done = true;
}

bool CleanerManager::pick(Candidate* out, const std::atomic<bool>& retire) {
  const int64_t now = clock::wall_ms();
  const int64_t steady = clock::steady_ms();
  double max_ratio = 0;
  std::optional<Candidate> best;
  std::set<Key> present;
  for (auto& p : partitions_.all()) {
    if (retire) return false;
    const Key key{p->topic(), p->index()};
    present.insert(key);
    int64_t checkpoint = -1;
    {
      std::lock_guard lock(mu_);
      if (in_progress_.count(key) != 0) continue;
      const auto b = backoff_until_.find(key);
      if (b != backoff_until_.end() && b->second > steady) continue;
      const auto it = checkpoints_.find(key);
      if (it != checkpoints_.end()) checkpoint = it->second;
    }
    auto snap = call_on_owner(post_, p->shard(), retire, [p] { return p->cleaning_snapshot(); });
    if (!snap || !*snap) continue;
    const auto range = storage::dirty_range((*snap)->view, checkpoint, (*snap)->high_watermark, now,
                                            (*snap)->config);
    max_ratio = std::max(max_ratio, range.ratio);
    if (!range.cleanable((*snap)->config)) continue;
    // Highest ratio first; a due max.compaction.lag.ms wins over any ratio (Kafka's order).
    if (!best || (range.max_lag_due && !best->range.max_lag_due) ||
        (range.max_lag_due == best->range.max_lag_due && range.ratio > best->range.ratio)) {
      best = Candidate{p, std::move(**snap), range};
    }
  }
  stats_.max_dirty_ratio_ppm = static_cast<int64_t>(max_ratio * 1e6);
  std::lock_guard lock(mu_);
  std::erase_if(backoff_until_,
                [&](const auto& e) { return e.second <= steady || present.count(e.first) == 0; });
  stats_.uncleanable = static_cast<int64_t>(backoff_until_.size());
  if (!best) return false;
  const Key key{best->partition->topic(), best->partition->index()};
  if (!in_progress_.insert(key).second) return false;  // another thread took it meanwhile
  *out = std::move(*best);
  return true;
}

void CleanerManager::clean(Candidate& c, const Worker& w) {
  const Key key{c.partition->topic(), c.partition->index()};
  const int64_t now = clock::wall_ms();
  const auto threads = static_cast<size_t>(std::max(1, w.config.threads));
  storage::OffsetMap map(static_cast<size_t>(w.config.dedupe_buffer_size) / threads,
                         static_cast<size_t>(c.range.first_uncleanable - c.range.first_dirty));
  const auto started = std::chrono::steady_clock::now();
  auto out = storage::clean_log(c.snapshot.view, c.range, c.snapshot.config, now, map, w.retire,
                                [this, &w](int64_t bytes) { pace(bytes, w.retire); });
  using Status = storage::CleanOutcome::Status;
  if (out.status == Status::aborted) return;
  if (out.status == Status::failed) return record_failure(key, out.error, w.config.backoff_ms);
  if (out.status == Status::cleaned && !out.cleaned.segments.empty()) {
    auto p = c.partition;
    auto swap = call_on_owner(post_, p->shard(), w.retire, [p, cleaned = out.cleaned] {
      std::string error;
      const auto outcome = p->install_cleaned(cleaned, &error);
      return std::make_pair(outcome, error);
    });
    if (!swap) return;  // shutdown: the next open deletes or completes the files
    if (swap->first == storage::SwapOutcome::stale) {
      ++stats_.stale;
      log::info("log cleaner: {}-{} changed while it was cleaned; result discarded", key.first,
                key.second);
      return;
    }
    if (swap->first == storage::SwapOutcome::failed) {
      return record_failure(key, swap->second, w.config.backoff_ms);
    }
  }
  ++stats_.runs;
  stats_.bytes_read += out.stats.bytes_read;
  stats_.bytes_written += out.stats.bytes_written;
  stats_.records_removed += out.stats.records_removed;
  std::string why;
  {
    std::lock_guard lock(mu_);
    checkpoints_[key] = out.cleaned_up_to;
    if (!write_checkpoint(&why)) log::warn("log cleaner: {}", why);
  }
  const auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                      std::chrono::steady_clock::now() - started)
                      .count();
  log::info(
      "log cleaner: cleaned {}-{} up to offset {} in {} ms: {} segments rewritten, {} records "
      "removed, {} -> {} bytes (dirty ratio was {:.2f})",
      key.first, key.second, out.cleaned_up_to, ms, out.stats.segments, out.stats.records_removed,
      out.stats.bytes_read, out.stats.bytes_written, c.range.ratio);
}

void CleanerManager::record_failure(const Key& key, const std::string& why, int64_t backoff_ms) {
  ++stats_.failures;
  log::error("log cleaner: cleaning {}-{} failed: {}; retrying after {} ms", key.first, key.second,
             why, backoff_ms);
  std::lock_guard lock(mu_);
  backoff_until_[key] = clock::steady_ms() + backoff_ms;
  stats_.uncleanable = static_cast<int64_t>(backoff_until_.size());
}

// Under mu_. Only partitions that still exist are written (a deleted topic's entry goes).
bool CleanerManager::write_checkpoint(std::string* error) {
  storage::OffsetCheckpointFile::Offsets live;
  for (const auto& p : partitions_.all()) {
    const auto it = checkpoints_.find({p->topic(), p->index()});
    if (it != checkpoints_.end()) live.insert(*it);
  }
  checkpoints_ = live;
  return storage::OffsetCheckpointFile(log_dir_ / kCleanerCheckpoint).write(live, error);
}

}  // namespace kaffa::cluster
