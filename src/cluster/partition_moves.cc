// PartitionManager: moving logs between log directories (AlterReplicaLogDirs). The copy itself is
// the Partition's (partition_move.cc); this file keeps the directories, the steps on the owner
// loop, and what a start-up finds of interrupted moves.
#include <algorithm>
#include <iterator>
#include <system_error>
#include <utility>

#include "base/clock.h"
#include "base/log.h"
#include "cluster/partition_dir_names.h"
#include "cluster/partition_manager.h"

namespace kaffa::cluster {
namespace {

namespace fs = std::filesystem;
using protocol::ErrorCode;

// Bytes copied per task on the owner loop: other partitions' requests are served between tasks.
constexpr int64_t kMoveStepBytes = 4 << 20;
// Under a quota a step copies about a second's worth, at least one batch of up to this size.
constexpr int64_t kMinThrottledStep = 64 << 10;

// A directory removed when this goes out of scope (after the manager's lock is released) unless
// its path was taken.
struct RemoveOnExit {
  fs::path path;
  ~RemoveOnExit() {
    std::error_code ec;
    if (!path.empty()) fs::remove_all(path, ec);
  }
};

}  // namespace

ErrorCode PartitionManager::move_log(const std::string& topic, int32_t index, size_t dir) {
  const std::pair<std::string, int32_t> key{topic, index};
  std::shared_ptr<Partition> p;
  fs::path cancelled;
  uint64_t cancelled_id = 0;
  uint64_t id = 0;
  fs::path future_dir;
  // The copy a move interrupted by a restart made: continued if this move goes to the same
  // directory, else removed. Before its partition opens it waits for a move to the same one.
  RemoveOnExit kept;
  bool continue_kept = false;
  int64_t kept_recovery_point = 0;
  {
    std::lock_guard lock(mu_);
    // Kafka: KAFKA_STORAGE_ERROR when either end of the move is an offline directory.
    if (offline_dirs_[dir]) return ErrorCode::kafka_storage_error;
    if (const auto at = located_.find(key); at != located_.end() && offline_dirs_[at->second]) {
      return ErrorCode::kafka_storage_error;
    }
    wanted_dirs_[key] = dir;
    const auto it = partitions_.find(key);
    if (auto r = resume_.find(key); r != resume_.end()) {
      continue_kept = r->second.dir == dir;
      if (continue_kept && it == partitions_.end()) return ErrorCode::replica_not_available;
      kept.path = std::move(r->second.future_dir);
      kept_recovery_point = r->second.recovery_point;
      resume_.erase(r);
    }
    if (it == partitions_.end()) return ErrorCode::replica_not_available;
    p = it->second;
    auto move = moves_.find(key);
    if (move != moves_.end()) {
      if (move->second.dir == dir) return ErrorCode::none;  // under way already
      cancelled = move->second.future_dir;
      cancelled_id = move->second.id;
      moves_.erase(move);
    }
    const auto at = located_.find(key);
    if (at != located_.end() && at->second == dir) {
      wanted_dirs_.erase(key);  // there already
    } else {
      if (continue_kept) {
        future_dir = std::exchange(kept.path, {});
      } else {
        const std::string name = topic + "-" + std::to_string(index) + "." +
                                 dir_names::unique_suffix() + std::string(dir_names::kFutureSuffix);
        if (name.size() > 255) return ErrorCode::invalid_topic_exception;  // Kafka's KAFKA-4893
        future_dir = log_dirs_[dir] / name;
      }
      id = next_move_id_++;
      moves_[key] = Move{dir, id, future_dir};
    }
  }
  if (!cancelled.empty()) {
    post_(p->shard(), [p, cancelled_id, cancelled] {
      if (p->move_id() == cancelled_id) p->drop_future();
      std::error_code ec;
      fs::remove_all(cancelled, ec);
    });
  }
  if (id == 0) return ErrorCode::none;  // the log is there (a move elsewhere was cancelled)
  std::string error;
  // The destination's recovery checkpoint may still name an earlier, cancelled future log of this
  // partition: rewritten now (without one until this copy is attached), so that a restart never
  // trusts this copy up to that one's recovery point.
  if (std::string cp_error; !continue_kept && !write_checkpoints(&cp_error)) {
    log::warn("checkpoint for a move: {}", cp_error);
  }
  auto future = storage::Log::open(future_dir, storage::LogConfig{},
                                   continue_kept ? kept_recovery_point : 0, &error);
  if (!future) {
    log::error("moving {}-{} to {}: {}", topic, index, log_dirs_[dir].string(), error);
    {
      std::lock_guard lock(mu_);
      if (auto it = moves_.find(key); it != moves_.end() && it->second.id == id) moves_.erase(it);
    }
    std::error_code ec;
    fs::remove_all(future_dir, ec);
    return ErrorCode::kafka_storage_error;
  }
  log::info("moving {}-{} to {}{}", topic, index, log_dirs_[dir].string(),
            future->log_end_offset() > future->log_start_offset()
                ? fmt::format(" (continuing a copy up to offset {}; {} batches checked)",
                              future->log_end_offset(), future->recovery_stats().batches_scanned)
                : "");
  auto handed = std::make_shared<std::unique_ptr<storage::Log>>(std::move(future));
  post_(p->shard(), [this, p, id, handed, key] {
    {
      // Cancelled before it was attached: the cancellation removes its directory.
      std::lock_guard lock(mu_);
      const auto it = moves_.find(key);
      if (it == moves_.end() || it->second.id != id) return;
    }
    std::string why;
    if (!p->attach_future(std::move(*handed), id, &why)) {
      log::error("moving {}-{} failed: {}", p->topic(), p->index(), why);
      return abandon_move(p, id);
    }
    move_step(p, id);
  });
  return ErrorCode::none;
}

void PartitionManager::move_step(const std::shared_ptr<Partition>& p, uint64_t id) {
  if (p->move_id() != id) return;  // cancelled, or the partition closed
  const int64_t now = clock::wall_ms();
  int64_t step = kMoveStepBytes;
  if (move_quota_ && move_quota_->bound() != ReplicationQuota::kUnbounded) {
    if (move_quota_->exceeded(now)) {
      std::lock_guard lock(mu_);
      parked_moves_.emplace_back(p, id);  // tick() tries again
      return;
    }
    step = std::clamp(move_quota_->bound(), kMinThrottledStep, kMoveStepBytes);
  }
  std::string error;
  int64_t copied = 0;
  const auto outcome = p->copy_to_future(step, now, &copied, &error);
  if (move_quota_) move_quota_->record(copied, now);
  switch (outcome) {
    case Partition::MoveStep::copying:
      post_(p->shard(), [this, p, id] { move_step(p, id); });
      return;
    case Partition::MoveStep::caught_up:
      return finish_move(p, id);
    case Partition::MoveStep::failed:
      log::error("moving {}-{} failed: {}", p->topic(), p->index(), error);
      return abandon_move(p, id);
  }
}

void PartitionManager::finish_move(const std::shared_ptr<Partition>& p, uint64_t id) {
  const std::pair<std::string, int32_t> key{p->topic(), p->index()};
  size_t to = 0;
  size_t from = 0;
  {
    std::lock_guard lock(mu_);
    const auto it = moves_.find(key);
    if (it == moves_.end() || it->second.id != id) return;  // cancelled: its task drops it
    to = it->second.dir;
    from = located_.count(key) ? located_[key] : 0;
  }
  const fs::path source = p->dir();
  const fs::path doomed =
      source.string() + "." + dir_names::unique_suffix() + std::string(dir_names::kDeleteSuffix);
  bool committed = false;
  std::string error;
  if (!p->swap_in_future(log_dirs_[to] / source.filename(), doomed, &committed, &error)) {
    log::error("moving {}-{} to {}: {}", key.first, key.second, log_dirs_[to].string(), error);
    if (!committed) return abandon_move(p, id);
  }
  std::optional<size_t> again;
  {
    std::lock_guard lock(mu_);
    // A request during the swap may have started another move (its cancellation of this one
    // came too late): that one stays.
    if (auto it = moves_.find(key); it != moves_.end() && it->second.id == id) moves_.erase(it);
    if (auto at = located_.find(key); at != located_.end()) {
      --dir_counts_[at->second];
      at->second = to;
      ++dir_counts_[to];
    }
    if (auto w = wanted_dirs_.find(key); w != wanted_dirs_.end()) {
      if (w->second != to) again = w->second;  // asked elsewhere meanwhile
      wanted_dirs_.erase(w);
    }
  }
  if (committed && error.empty()) {
    std::error_code ec;
    fs::remove_all(doomed, ec);
    log::info("moved {}-{} from {} to {}", key.first, key.second, log_dirs_[from].string(),
              log_dirs_[to].string());
  }
  // The new directory's checkpoints name the log, the old one's no longer.
  std::string cp_error;
  if (!write_checkpoints(&cp_error)) log::warn("checkpoint after a move: {}", cp_error);
  if (again) move_log(key.first, key.second, *again);
}

void PartitionManager::abandon_move(const std::shared_ptr<Partition>& p, uint64_t id) {
  if (p->move_id() == id) p->drop_future();
  fs::path future_dir;
  {
    std::lock_guard lock(mu_);
    const auto it = moves_.find({p->topic(), p->index()});
    if (it == moves_.end() || it->second.id != id) return;
    future_dir = it->second.future_dir;
    if (auto w = wanted_dirs_.find(it->first);
        w != wanted_dirs_.end() && w->second == it->second.dir) {
      wanted_dirs_.erase(w);  // not retried: asked again, it starts again
    }
    moves_.erase(it);
  }
  std::error_code ec;
  fs::remove_all(future_dir, ec);
}

fs::path PartitionManager::forget_move(const std::string& topic, int32_t index) {
  std::lock_guard lock(mu_);
  const auto it = moves_.find({topic, index});
  if (it == moves_.end()) return {};
  fs::path dir = std::move(it->second.future_dir);
  moves_.erase(it);
  return dir;
}

std::vector<std::pair<size_t, std::shared_ptr<Partition>>> PartitionManager::moving() const {
  std::lock_guard lock(mu_);
  std::vector<std::pair<size_t, std::shared_ptr<Partition>>> out;
  for (const auto& [key, move] : moves_) {
    if (auto it = partitions_.find(key); it != partitions_.end()) {
      out.emplace_back(move.dir, it->second);
    }
  }
  return out;
}

bool PartitionManager::adopt_future(const std::pair<std::string, int32_t>& key, size_t dir,
                                    const fs::path& path,
                                    std::map<std::pair<std::string, int32_t>, size_t>& found,
                                    std::string* error) {
  std::error_code ec;
  const std::string name = key.first + "-" + std::to_string(key.second);
  if (found.count(key) != 0) {
    // The copy was not finished: it goes on once the partition is open (a second one, or one in
    // the log's own directory, is removed).
    bool keep = false;
    if (found[key] != dir) {
      std::lock_guard lock(mu_);
      keep = resume_.emplace(key, Move{dir, 0, path}).second;
    }
    if (!keep) fs::remove_all(path, ec);
    return true;
  }
  // The old directory was renamed away after the future log was synced whole: it is the log.
  fs::rename(path, log_dirs_[dir] / name, ec);
  if (ec) {
    if (error) *error = "cannot rename " + path.string() + ": " + ec.message();
    return false;
  }
  log::info("{}: the move of {} to this directory was interrupted after its copy; finished",
            log_dirs_[dir].string(), name);
  found.emplace(key, dir);
  return storage::sync_directory(log_dirs_[dir], error);
}

void PartitionManager::resume_parked_moves(size_t shard) {
  std::vector<std::pair<std::shared_ptr<Partition>, uint64_t>> due;
  {
    std::lock_guard lock(mu_);
    if (parked_moves_.empty()) return;
    auto mine = std::stable_partition(parked_moves_.begin(), parked_moves_.end(),
                                      [shard](const auto& m) { return m.first->shard() != shard; });
    due.assign(std::make_move_iterator(mine), std::make_move_iterator(parked_moves_.end()));
    parked_moves_.erase(mine, parked_moves_.end());
  }
  for (const auto& [p, id] : due) move_step(p, id);
}

void PartitionManager::resume_moves() {
  std::vector<std::pair<std::pair<std::string, int32_t>, size_t>> ready;
  {
    std::lock_guard lock(mu_);
    for (const auto& [key, move] : resume_) {
      if (partitions_.count(key) != 0) ready.emplace_back(key, move.dir);
    }
  }
  for (const auto& [key, dir] : ready) {
    log::info("{}-{}: resuming its move to {}", key.first, key.second, log_dirs_[dir].string());
    move_log(key.first, key.second, dir);
  }
}

}  // namespace kaffa::cluster
