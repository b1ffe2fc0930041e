#include "cluster/partition_manager.h"

#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <charconv>
#include <fstream>
#include <functional>
#include <optional>
#include <set>
#include <stdexcept>
#include <thread>
#include <tuple>

#include "base/file.h"
#include "base/log.h"
#include "cluster/partition_dir_names.h"
#include "storage/checkpoint_file.h"

namespace kaffa::cluster {
namespace {

namespace fs = std::filesystem;
using dir_names::unique_suffix;

constexpr const char* kRecoveryCheckpoint = "recovery-point-offset-checkpoint";
constexpr const char* kLogStartCheckpoint = "log-start-offset-checkpoint";
constexpr const char* kReplicationCheckpoint = "replication-offset-checkpoint";

// A checkpoint file's offsets; empty (with a warning) when missing or unreadable.
storage::OffsetCheckpointFile::Offsets read_checkpoint(const fs::path& path, const char* fallback) {
  storage::OffsetCheckpointFile file(path);
  if (!fs::exists(file.path())) return {};
  std::string why;
  if (auto r = file.read(&why)) return std::move(*r);
  log::warn("ignoring {}: {}; {}", file.path().string(), why, fallback);
  return {};
}

// Runs work(0) .. work(n - 1) on up to `threads` threads (the calling one among them), each index
// once, and returns when all are done. Kafka's recovery pool: logs are opened and closed in
// parallel, each by one thread.
void run_parallel(size_t n, size_t threads, const std::function<void(size_t)>& work) {
  std::atomic<size_t> next{0};
  auto drain = [&] {
    for (size_t i = next.fetch_add(1); i < n; i = next.fetch_add(1)) work(i);
  };
  std::vector<std::jthread> helpers;
  for (size_t t = 1; t < std::min(threads, n); ++t) helpers.emplace_back(drain);
  drain();
}

}  // namespace

namespace {

std::string normal_dir_name(const fs::path& p) {
  std::error_code ec;
  std::string s = fs::absolute(p, ec).lexically_normal().string();
  while (s.size() > 1 && s.back() == '/') s.pop_back();
  return s;
}

std::vector<std::string> normal_dir_names(const std::vector<fs::path>& dirs) {
  std::vector<std::string> names;
  names.reserve(dirs.size());
  for (const auto& d : dirs) names.push_back(normal_dir_name(d));
  return names;
}

}  // namespace

PartitionManager::PartitionManager(std::vector<fs::path> log_dirs, size_t shards,
                                   LogDefaults defaults, storage::Flusher& flusher, Post post)
    : log_dirs_(std::move(log_dirs)),
      log_dir_names_(normal_dir_names(log_dirs_)),
      shards_(shards == 0 ? 1 : shards),
      flusher_(flusher),
      post_(std::move(post)),
      defaults_(std::make_shared<const LogDefaults>(defaults)),
      dir_counts_(log_dirs_.size(), 0),
      offline_dirs_(log_dirs_.size(), false) {
  if (log_dirs_.empty()) throw std::invalid_argument("PartitionManager: no log directory");
}

PartitionManager::~PartitionManager() = default;

std::optional<size_t> PartitionManager::find_log_dir(const std::string& path) const {
  const std::string name = normal_dir_name(path);
  for (size_t d = 0; d < log_dir_names_.size(); ++d) {
    if (log_dir_names_[d] == name) return d;
  }
  return std::nullopt;
}

fs::path PartitionManager::partition_dir(const std::string& topic, int32_t index) {
  std::lock_guard lock(mu_);
  const auto key = std::make_pair(topic, index);
  auto it = located_.find(key);
  if (it == located_.end()) {
    // Kafka's placement: the directory asked for (AlterReplicaLogDirs before the log came), else
    // the log directory holding the fewest partitions, the first on a tie.
    // Offline directories take nothing (when every one is, the broker is stopping).
    const auto wanted = wanted_dirs_.find(key);
    size_t dir = 0;
    if (wanted != wanted_dirs_.end() && !offline_dirs_[wanted->second]) {
      dir = wanted->second;
    } else {
      for (size_t d = 0; d < dir_counts_.size(); ++d) {
        if (!offline_dirs_[d] && (offline_dirs_[dir] || dir_counts_[d] < dir_counts_[dir])) dir = d;
      }
    }
    if (wanted != wanted_dirs_.end()) wanted_dirs_.erase(wanted);
    it = located_.emplace(key, dir).first;
    ++dir_counts_[dir];
  }
  return log_dirs_[it->second] / (topic + "-" + std::to_string(index));
}

void PartitionManager::forget_location(const std::string& topic, int32_t index) {
  std::lock_guard lock(mu_);
  if (auto it = located_.find({topic, index}); it != located_.end()) {
    --dir_counts_[it->second];
    located_.erase(it);
  }
}

bool PartitionManager::locate_existing(std::string* error) {
  std::map<std::pair<std::string, int32_t>, size_t> found;
  std::vector<std::tuple<std::pair<std::string, int32_t>, size_t, fs::path>> futures;
  for (size_t d = 0; d < log_dirs_.size(); ++d) {
    if (offline_dirs_[d]) continue;  // offline from the start: never listed
    std::error_code ec;
    fs::create_directories(log_dirs_[d], ec);
    for (const auto& entry : fs::directory_iterator(log_dirs_[d], ec)) {
      const std::string name = entry.path().filename().string();
      if (!entry.is_directory()) continue;
      if (name.size() > 7 && name.ends_with(dir_names::kDeleteSuffix)) {
        std::error_code ignored;
        fs::remove_all(entry.path(), ignored);  // a deletion interrupted by a stop or crash
        continue;
      }
      if (auto future = dir_names::parse_tagged(name, dir_names::kFutureSuffix)) {
        futures.emplace_back(std::move(*future), d, entry.path());
        continue;
      }
      const auto key = dir_names::parse_partition(name);
      if (!key) continue;
      auto [it, inserted] = found.emplace(*key, d);
      if (!inserted) {
        if (error) {
          *error = name + " has a log in both " + log_dirs_[it->second].string() + " and " +
                   log_dirs_[d].string() + "; remove the stale one";
        }
        return false;
      }
    }
    if (ec) {
      if (error) *error = "cannot list " + log_dirs_[d].string() + ": " + ec.message();
      return false;
    }
  }
  for (const auto& [key, d, path] : futures) {
    if (!adopt_future(key, d, path, found, error)) return false;
  }
  std::lock_guard lock(mu_);
  for (const auto& [key, d] : found) {
    if (located_.emplace(key, d).second) ++dir_counts_[d];
  }
  return true;
}

size_t PartitionManager::shard_of(const std::string& topic, int32_t index) const {
  return (std::hash<std::string>{}(topic) + static_cast<size_t>(index)) % shards_;
}

std::shared_ptr<Partition> PartitionManager::open_partition(const TopicInfo& topic, int32_t index,
                                                            int64_t recovery_point,
                                                            std::string* error,
                                                            int64_t log_start_offset) {
  const fs::path dir = partition_dir(topic.name, index);
  const auto defaults = this->defaults();
  PartitionConfig cfg = resolve_partition_config(*defaults, topic.configs);
  cfg.defaults = defaults;
  auto log = storage::Log::open(dir, cfg.log, recovery_point, error);
  if (!log || !log->restore_log_start_offset(log_start_offset, error)) return nullptr;
  const auto& st = log->recovery_stats();
  if (st.bytes_truncated > 0 || st.segments_deleted > 0 || st.indexes_rebuilt > 0) {
    log::warn(
        "recovered {}-{}: scanned {} segments, truncated {} bytes, deleted {} segments, "
        "rebuilt {} indexes",
        topic.name, index, st.segments_scanned, st.bytes_truncated, st.segments_deleted,
        st.indexes_rebuilt);
  }
  auto p = std::make_shared<Partition>(topic.name, index, shard_of(topic.name, index),
                                       std::move(log), cfg, flusher_, post_);
  p->on_storage_failure([this, name = topic.name, index](const std::string& why) {
    partition_failed(name, index, why);
  });
  return p;
}

void PartitionManager::partition_failed(const std::string& topic, int32_t index,
                                        const std::string& why) {
  std::optional<size_t> dir;
  {
    std::lock_guard lock(mu_);
    if (auto it = located_.find({topic, index}); it != located_.end()) dir = it->second;
  }
  if (dir) fail_log_dir(*dir, topic + "-" + std::to_string(index) + ": " + why);
}

void PartitionManager::fail_log_dir(size_t dir, const std::string& why) {
  std::vector<std::shared_ptr<Partition>> offline;
  {
    std::lock_guard lock(mu_);
    if (dir >= offline_dirs_.size() || offline_dirs_[dir]) return;
    offline_dirs_[dir] = true;
    some_offline_.store(true, std::memory_order_release);
    for (const auto& [key, p] : partitions_) {
      if (auto it = located_.find(key); it != located_.end() && it->second == dir) {
        offline.push_back(p);
      }
    }
  }
  log::error("log directory {} is offline, with its {} partitions: {}", log_dir_names_[dir],
             offline.size(), why);
  for (const auto& p : offline) post_(p->shard(), [p] { p->take_offline(); });
  if (dir_failed_) dir_failed_(dir, offline);
}

void PartitionManager::start_offline(size_t dir, const std::string& why) {
  std::lock_guard lock(mu_);
  offline_dirs_[dir] = true;
  unlisted_dirs_ = true;
  some_offline_.store(true, std::memory_order_release);
  log::error("log directory {} is offline from the start: {}", log_dir_names_[dir], why);
}

bool PartitionManager::unavailable(const std::string& topic, int32_t index) const {
  std::lock_guard lock(mu_);
  return unavailable_.count({topic, index}) != 0;
}

// With mu_ held: a log not found in a directory online, while one was offline from the start.
bool PartitionManager::maybe_unlisted_locked(const std::pair<std::string, int32_t>& key) {
  if (!unlisted_dirs_ || located_.count(key) != 0) return false;
  if (unavailable_.insert(key).second) {
    log::warn(
        "{}-{}: no log in the log directories online; left offline, as its log may be in a "
        "directory offline since the start",
        key.first, key.second);
  }
  return true;
}

bool PartitionManager::log_dir_offline(size_t dir) const {
  std::lock_guard lock(mu_);
  return dir < offline_dirs_.size() && offline_dirs_[dir];
}

bool PartitionManager::all_log_dirs_offline() const {
  std::lock_guard lock(mu_);
  return std::all_of(offline_dirs_.begin(), offline_dirs_.end(), [](bool b) { return b; });
}

bool PartitionManager::load(const std::vector<TopicInfo>& topics, std::string* error) {
  if (!locate_existing(error)) return false;
  // Each directory's checkpoints speak for the logs in that directory only.
  storage::OffsetCheckpointFile::Offsets recovery, starts;
  for (size_t d = 0; d < log_dirs_.size(); ++d) {
    if (log_dir_offline(d)) continue;
    const fs::path& dir = log_dirs_[d];
    auto keep_own = [&](storage::OffsetCheckpointFile::Offsets from, auto& into) {
      std::lock_guard lock(mu_);
      for (const auto& [key, offset] : from) {
        if (auto it = located_.find(key); it != located_.end() && it->second == d) {
          into[key] = offset;
        }
      }
    };
    auto points =
        read_checkpoint(dir / kRecoveryCheckpoint, "every log is recovered from its start");
    {
      std::lock_guard lock(mu_);
      for (auto& [key, move] : resume_) {  // a future log kept in this directory
        const auto it = points.find(key);
        if (move.dir == d && it != points.end()) move.recovery_point = it->second;
      }
    }
    keep_own(std::move(points), recovery);
    keep_own(read_checkpoint(dir / kLogStartCheckpoint,
                             "log start offsets are the first segments' base offsets"),
             starts);
    keep_own(read_checkpoint(dir / kReplicationCheckpoint,
                             "replicas start with their log end as high watermark"),
             high_watermarks_);
  }
  {
    std::lock_guard lock(mu_);
    recovery_points_.insert(recovery.begin(), recovery.end());
    log_starts_.insert(starts.begin(), starts.end());
  }
  struct Job {
    const TopicInfo* topic;
    int32_t index;
    std::shared_ptr<Partition> partition;
    std::string error;
  };
  std::vector<Job> jobs;
  for (const auto& t : topics) {
    for (int32_t i = 0; i < t.partitions; ++i) {
      std::lock_guard lock(mu_);
      if (!maybe_unlisted_locked({t.name, i})) jobs.push_back({&t, i, nullptr, {}});
    }
  }
  auto offset_of = [](const auto& offsets, const Job& j) {
    auto it = offsets.find({j.topic->name, j.index});
    return it == offsets.end() ? int64_t{0} : it->second;
  };
  std::atomic<bool> failed{false};
  run_parallel(jobs.size(), opening_threads(), [&](size_t k) {
    if (failed.load(std::memory_order_relaxed)) return;  // the start fails anyway
    Job& j = jobs[k];
    try {
      j.partition =
          open_partition(*j.topic, j.index, offset_of(recovery, j), &j.error, offset_of(starts, j));
    } catch (const std::exception& e) {
      j.error = e.what();
    }
    if (!j.partition) failed = true;
  });
  if (failed) {
    for (const auto& j : jobs) {
      if (!j.partition && !j.error.empty()) {
        if (error) *error = j.topic->name + "-" + std::to_string(j.index) + ": " + j.error;
        break;
      }
    }
    return false;
  }
  {
    std::lock_guard lock(mu_);
    for (auto& j : jobs) {
      adopt_locked(j.partition);
      partitions_[{j.topic->name, j.index}] = std::move(j.partition);
    }
  }
  // Directories recreated above (lost before a crash) become durable.
  for (size_t d = 0; d < log_dirs_.size(); ++d) {
    if (!log_dir_offline(d) && !storage::sync_directory(log_dirs_[d], error)) return false;
  }
  resume_moves();
  return true;
}

bool PartitionManager::sync_parents(const std::vector<std::shared_ptr<Partition>>& created,
                                    std::string* error) const {
  std::set<fs::path> dirs;
  for (const auto& p : created) dirs.insert(p->dir().parent_path());
  for (const auto& dir : dirs) {
    if (!storage::sync_directory(dir, error)) return false;
  }
  return true;
}

bool PartitionManager::add_topic(const TopicInfo& topic, std::string* error) {
  {
    std::lock_guard lock(mu_);
    if (deleting_.count(topic.name) != 0) {
      if (error) *error = "Topic '" + topic.name + "' is marked for deletion.";
      return false;
    }
  }
  std::vector<std::shared_ptr<Partition>> created;
  for (int32_t i = 0; i < topic.partitions; ++i) {
    std::error_code ec;
    fs::remove_all(partition_dir(topic.name, i), ec);  // nothing of an older topic may survive
    auto p = open_partition(topic, i, 0, error);
    if (!p) return false;
    created.push_back(std::move(p));
  }
  if (!sync_parents(created, error)) return false;  // the new directories' entries, at once
  std::lock_guard lock(mu_);
  for (auto& p : created) {
    adopt_locked(p);
    partitions_[{topic.name, p->index()}] = std::move(p);
  }
  return true;
}

void PartitionManager::remove_topic(const std::string& name) {
  std::vector<std::shared_ptr<Partition>> removed;
  {
    std::lock_guard lock(mu_);
    for (auto it = partitions_.begin(); it != partitions_.end();) {
      if (it->first.first == name) {
        removed.push_back(std::move(it->second));
        it = partitions_.erase(it);
      } else {
        ++it;
      }
    }
    if (removed.empty()) return;
    deleting_.insert(name);
  }
  close_and_delete(std::move(removed), [this, name] {
    std::lock_guard lock(mu_);
    deleting_.erase(name);
  });
}

void PartitionManager::remove_partitions(const std::vector<std::pair<std::string, int32_t>>& keys,
                                         std::function<void()> done) {
  std::vector<std::shared_ptr<Partition>> removed;
  {
    std::lock_guard lock(mu_);
    for (const auto& key : keys) {
      auto it = partitions_.find(key);
      if (it == partitions_.end()) continue;
      removed.push_back(std::move(it->second));
      partitions_.erase(it);
      deleting_partitions_.insert(key);
    }
  }
  if (removed.empty()) {
    if (done) done();
    return;
  }
  close_and_delete(std::move(removed), [this, keys, done = std::move(done)] {
    {
      std::lock_guard lock(mu_);
      for (const auto& key : keys) deleting_partitions_.erase(key);
    }
    if (done) done();
  });
}

void PartitionManager::close_and_delete(std::vector<std::shared_ptr<Partition>> removed,
                                        std::function<void()> after) {
  auto remaining = std::make_shared<std::atomic<size_t>>(removed.size());
  auto then = std::make_shared<std::function<void()>>(std::move(after));
  for (auto& p : removed) {
    const size_t shard = p->shard();
    post_(shard, [this, p, remaining, then] {
      std::string why;
      if (!p->close(&why)) log::warn("closing deleted {}-{}: {}", p->topic(), p->index(), why);
      std::error_code ec;
      if (const auto future = forget_move(p->topic(), p->index()); !future.empty()) {
        fs::remove_all(future, ec);  // a move under way (its log was dropped by close())
      }
      const fs::path dir = p->dir();
      const fs::path doomed = dir.string() + "." + unique_suffix() + "-delete";
      fs::rename(dir, doomed, ec);
      fs::remove_all(ec ? dir : doomed, ec);
      // Its place is free once the directory is gone (one left behind keeps the place, so that
      // the log is never in two directories).
      if (!fs::exists(dir, ec)) forget_location(p->topic(), p->index());
      if (remaining->fetch_sub(1) == 1) {
        // As Kafka's LogManager.asyncDelete: checkpoints without the partitions before a topic of
        // the same name can be created (a stale log start offset would cut the new log at
        // start-up).
        std::string cp_error;
        if (!write_checkpoints(&cp_error)) log::warn("checkpoint after deletion: {}", cp_error);
        (*then)();
      }
    });
  }
}

std::shared_ptr<Partition> PartitionManager::open_replica(const TopicInfo& topic, int32_t index,
                                                          std::string* error) {
  const std::pair<std::string, int32_t> key{topic.name, index};
  int64_t recovery_point = 0;
  int64_t log_start = 0;
  int64_t high_watermark = -1;
  {
    std::lock_guard lock(mu_);
    if (auto it = partitions_.find(key); it != partitions_.end()) return it->second;
    if (deleting_.count(topic.name) != 0 || deleting_partitions_.count(key) != 0) {
      if (error) *error = topic.name + "-" + std::to_string(index) + " is still being deleted";
      return nullptr;
    }
    if (maybe_unlisted_locked(key)) {
      if (error) *error = "its log may be in a log directory offline since the start";
      return nullptr;
    }
    if (auto it = recovery_points_.find(key); it != recovery_points_.end()) {
      recovery_point = it->second;
    }
    if (auto it = log_starts_.find(key); it != log_starts_.end()) log_start = it->second;
    if (auto it = high_watermarks_.find(key); it != high_watermarks_.end()) {
      high_watermark = it->second;
    }
  }
  const fs::path dir = partition_dir(topic.name, index);
  const fs::path meta = dir / "partition.metadata";
  const std::string expected = "version: 0\ntopic_id: " + topic.id.to_base64() + "\n";
  std::error_code ec;
  const bool existed = fs::exists(dir, ec);
  if (existed) {
    const std::string found = file::read_all(meta).value_or("");
    if (!found.empty() && found != expected) {
      log::warn("{} belongs to another topic of that name ({}); removed", dir.string(), found);
      fs::remove_all(dir, ec);
      recovery_point = 0;
      log_start = 0;
      high_watermark = -1;
    }
  }
  auto p = open_partition(topic, index, recovery_point, error, log_start);
  if (!p) return nullptr;
  // Not yet visible to any loop: the checkpointed watermark (data above it may not be committed).
  if (high_watermark >= 0) p->restore_high_watermark(high_watermark);
  if (!fs::exists(meta, ec)) {
    std::ofstream out(meta, std::ios::trunc);
    out << expected;
    if (!out.flush()) log::warn("cannot write {}", meta.string());
  }
  if (!existed && !storage::sync_directory(dir.parent_path(), error)) return nullptr;
  std::shared_ptr<Partition> opened;
  {
    std::lock_guard lock(mu_);
    auto [it, inserted] = partitions_.emplace(key, std::move(p));
    if (inserted) adopt_locked(it->second);
    opened = it->second;  // a concurrent open won: its partition (ours is dropped unused)
  }
  resume_moves();
  return opened;
}

void PartitionManager::open_replicas(
    const std::vector<std::pair<const TopicInfo*, int32_t>>& wanted) {
  std::vector<std::pair<const TopicInfo*, int32_t>> closed;
  for (const auto& [topic, index] : wanted) {
    if (!get(topic->name, index)) closed.emplace_back(topic, index);
  }
  run_parallel(closed.size(), opening_threads(), [&](size_t k) {
    std::string ignored;  // reported by the caller's own open_replica
    try {
      open_replica(*closed[k].first, closed[k].second, &ignored);
    } catch (const std::exception&) {
    }
  });
}

std::shared_ptr<Partition> PartitionManager::get(std::string_view topic, int32_t index) const {
  std::lock_guard lock(mu_);
  auto it = partitions_.find(std::make_pair(std::string(topic), index));
  return it == partitions_.end() ? nullptr : it->second;
}

std::vector<std::shared_ptr<Partition>> PartitionManager::all() const {
  std::lock_guard lock(mu_);
  std::vector<std::shared_ptr<Partition>> out;
  out.reserve(partitions_.size());
  for (const auto& [key, p] : partitions_) out.push_back(p);
  return out;
}

std::vector<std::pair<size_t, std::shared_ptr<Partition>>> PartitionManager::all_by_dir() const {
  std::lock_guard lock(mu_);
  std::vector<std::pair<size_t, std::shared_ptr<Partition>>> out;
  out.reserve(partitions_.size());
  for (const auto& [key, p] : partitions_) {
    auto it = located_.find(key);
    out.emplace_back(it == located_.end() ? 0 : it->second, p);
  }
  return out;
}

bool PartitionManager::write_checkpoints(std::string* error) {
  std::lock_guard writer(checkpoint_mu_);
  // One set of files per log directory, each naming the logs in it (Kafka's layout).
  using Offsets = storage::OffsetCheckpointFile::Offsets;
  std::vector<Offsets> offsets(log_dirs_.size()), starts(log_dirs_.size()),
      watermarks(log_dirs_.size());
  const bool replicated = replicated_.load(std::memory_order_acquire);
  for (const auto& [d, p] : all_by_dir()) {
    offsets[d][{p->topic(), p->index()}] = p->recovery_point_snapshot();
    starts[d][{p->topic(), p->index()}] = p->log_start_snapshot();
    if (replicated) watermarks[d][{p->topic(), p->index()}] = p->high_watermark_snapshot();
  }
  // A future log is named in its own directory's file (never the log's), as in Kafka.
  for (const auto& [d, p] : moving()) {
    if (const int64_t durable = p->future_recovery_point_snapshot(); durable >= 0) {
      offsets[d][{p->topic(), p->index()}] = durable;
    }
  }
  // A directory whose checkpoint cannot be written goes offline (Kafka's rule); the others go on.
  bool ok = true;
  for (size_t d = 0; d < log_dirs_.size(); ++d) {
    if (log_dir_offline(d)) continue;
    const fs::path& dir = log_dirs_[d];
    std::string why;
    if ((replicated &&
         !storage::OffsetCheckpointFile(dir / kReplicationCheckpoint).write(watermarks[d], &why)) ||
        !storage::OffsetCheckpointFile(dir / kRecoveryCheckpoint).write(offsets[d], &why) ||
        !storage::OffsetCheckpointFile(dir / kLogStartCheckpoint).write(starts[d], &why)) {
      fail_log_dir(d, why);
      if (error) *error = why;
      ok = false;
    }
  }
  return ok;
}

void PartitionManager::tick(size_t shard, int64_t now_ms) {
  for (const auto& p : all()) {
    if (p->shard() == shard) p->on_tick(now_ms);
  }
  resume_parked_moves(shard);
}

void PartitionManager::enforce_retention(size_t shard, int64_t now_ms) {
  for (const auto& p : all()) {
    if (p->shard() == shard) p->enforce_retention(now_ms);
  }
}

void PartitionManager::shutdown() {
  const auto partitions = all();
  run_parallel(partitions.size(), opening_threads(), [&](size_t k) {
    Partition& p = *partitions[k];
    std::string why;
    try {
      if (p.close(&why)) return;
    } catch (const std::exception& e) {
      why = e.what();
    }
    log::error("closing {}-{}: {}", p.topic(), p.index(), why);
  });
  std::string why;
  if (!write_checkpoints(&why)) log::error("writing checkpoints at shutdown: {}", why);
}

}  // namespace kaffa::cluster
