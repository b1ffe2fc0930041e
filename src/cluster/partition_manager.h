// PartitionManager: every partition this broker hosts — opening their logs at start-up, creating
// and deleting them with their topics, finding them for handlers, checkpoints and shutdown.
//
// Threading: the partition map is guarded by a mutex held only for lookups and changes of the
// map (never during I/O on the hot path); each Partition is then used on its owner loop. Start-up
// (load) and shutdown run before and after the event loops; they open (recover) and close the
// logs on up to opening_threads() threads, each log on one of them (Kafka's
// num.recovery.threads.per.data.dir per log directory), as does open_replicas.
//
// Log directories (log.dirs, Kafka's JBOD): a partition's log lives in one of them. Start-up finds
// each existing log where it is (a log found in two directories fails the start); a new one goes
// to the directory holding the fewest partitions (the first listed on a tie), as Kafka places
// them. Each directory has its own checkpoint files, naming only the logs in it.
//
// Files in each log directory (Kafka's names and formats, storage/checkpoint_file.h):
//   <topic>-<partition>/                    one directory per partition (storage/log.h); its
//                                           entry here is synced once per batch of new partitions
//   recovery-point-offset-checkpoint        offsets below which each log is known durable; written
//                                           periodically and at clean shutdown, read at start-up to
//                                           decide where recovery scans begin
//   replication-offset-checkpoint           cluster mode: each partition's high watermark, read
//                                           back when its replica is opened (Kafka's file)
//   log-start-offset-checkpoint             each log's start offset (DeleteRecords may put it
//                                           inside the first segment); written with the recovery
//                                           points, read at start-up
//                                           (Log::restore_log_start_offset)
//   <topic>-<partition>.<id>-delete/        a deleted partition's directory before removal;
//                                           leftovers are removed at start-up
//   <topic>-<partition>.<id>-future/        a log being moved into this directory
//                                           (AlterReplicaLogDirs, partition_moves.cc)
//   <topic>-<partition>/partition.metadata  cluster mode: the topic id the log belongs to
//                                           (Kafka's format: "version: 0\ntopic_id: <id>\n")
//
// Log directory failure (Kafka's LogDirFailureChannel): an I/O error on a log (its Partition
// reports it) or on a directory's checkpoint files takes that whole directory offline until a
// restart. Its partitions go offline (KAFKA_STORAGE_ERROR), no log is placed or moved there, its
// checkpoints are no longer written, and the listener (on_log_dir_failure) hears of it. One the
// broker could not use at start-up is offline from the start (start_offline).
#pragma once

#include <atomic>
#include <filesystem>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "cluster/partition.h"
#include "cluster/replication_quota.h"
#include "cluster/topic_registry.h"

namespace kaffa::cluster {

class PartitionManager {
 public:
  // `log_dirs`: at least one.
  PartitionManager(std::vector<std::filesystem::path> log_dirs, size_t shards, LogDefaults defaults,
                   storage::Flusher& flusher, Post post);
  ~PartitionManager();

  // Threads per log directory that open and recover logs in load() and open_replicas() and close
  // them in shutdown() (num.recovery.threads.per.data.dir, dynamic; at least 1). Any thread.
  void set_recovery_threads(size_t n) { recovery_threads_ = n == 0 ? 1 : n; }
  size_t recovery_threads() const { return recovery_threads_; }
  // Threads opening or closing logs at once: recovery_threads() per log directory (Kafka's
  // per-data-dir pools).
  size_t opening_threads() const { return recovery_threads_ * log_dirs_.size(); }

  // Start-up: finds the logs in every log directory (removing leftover "-delete" directories),
  // reads each directory's recovery points, and opens (with recovery) every partition of
  // `topics`. False with *error when a log cannot be opened or is found in two directories.
  bool load(const std::vector<TopicInfo>& topics, std::string* error);

  // Any thread: creates the partitions of a new topic (directories, logs). Fails while a topic of
  // that name is still being deleted.
  bool add_topic(const TopicInfo& topic, std::string* error);
  // Any thread: detaches the topic's partitions; each is closed on its owner loop and its
  // directory removed.
  void remove_topic(const std::string& name);
  // topic_changes.cc. Any thread: posts the topic's new configs to each of its partitions' loops.
  void update_topic_config(const TopicInfo& topic);
  // topic_changes.cc. Any thread: new broker defaults of the topic configs (dynamic broker
  // configs); every partition resolves its topic's configs against them again on its loop.
  void set_defaults(LogDefaults defaults);
  // Any thread: creates partitions [from, topic.partitions) of an existing topic
  // (CreatePartitions).
  bool add_partitions(const TopicInfo& topic, int32_t from, std::string* error);

  // Cluster mode (the ReplicaManager), any thread: the partition `index` of `topic` assigned to
  // this broker — the open one, else its log opened (with the recovery point and log start
  // offset read by load()) or created. A directory left by another topic of the same name
  // (`partition.metadata` naming another topic id) is removed first. nullptr with *error while
  // that partition is still being removed, or on an I/O error.
  std::shared_ptr<Partition> open_replica(const TopicInfo& topic, int32_t index,
                                          std::string* error);
  // Cluster mode: open_replica for each of `wanted` not open yet, on up to opening_threads()
  // threads (an image assigning many partitions at start-up). Failures are left for the
  // open_replica that follows to report.
  void open_replicas(const std::vector<std::pair<const TopicInfo*, int32_t>>& wanted);
  // Any thread: detaches these partitions (no longer assigned here); each is closed on its owner
  // loop and its directory removed; then done() runs (on some owner loop).
  void remove_partitions(const std::vector<std::pair<std::string, int32_t>>& keys,
                         std::function<void()> done);

  std::shared_ptr<Partition> get(std::string_view topic, int32_t index) const;  // any thread
  std::vector<std::shared_ptr<Partition>> all() const;                          // any thread
  // Any thread: every partition with the index (in log_dirs()) of the directory holding its log.
  std::vector<std::pair<size_t, std::shared_ptr<Partition>>> all_by_dir() const;
  const std::vector<std::filesystem::path>& log_dirs() const { return log_dirs_; }
  // The log directories as clients see them (DescribeLogDirs) and name them (AlterReplicaLogDirs):
  // absolute, normalised, without a trailing '/'; in the order of log_dirs().
  const std::vector<std::string>& log_dir_names() const { return log_dir_names_; }
  // The index in log_dirs() of the directory `path` names once normalised so; nullopt if none.
  std::optional<size_t> find_log_dir(const std::string& path) const;

  // ---- Moving logs between log directories (partition_moves.cc; AlterReplicaLogDirs, Kafka's
  // future replicas). ----
  // Any thread: moves the log of topic-index to log_dirs()[dir]: a future log is created there
  // (<topic>-<index>.<unique>-future) and filled on the partition's owner loop a few MiB per task
  // while the partition keeps serving, then swapped in (Partition::swap_in_future) and the old
  // directory removed. NONE when the move started, is already under way to `dir`, or the log is
  // there (a move elsewhere is then cancelled); REPLICA_NOT_AVAILABLE when this broker does not
  // host the partition (the directory is remembered: the log is created there if it comes, as
  // Kafka's preferred log directory); KAFKA_STORAGE_ERROR when the future log cannot be created.
  // A stop or crash during the copy: the start continues the copy made (cut where it stops
  // agreeing with the log, Partition::attach_future); after the old directory was renamed away:
  // the start takes the future directory as the log.
  protocol::ErrorCode move_log(const std::string& topic, int32_t index, size_t dir);
  // Before load(): the bound on the bytes all moves copy per second
  // (replica.alter.log.dirs.io.max.bytes.per.second); a move over it waits for the next tick().
  void set_move_quota(std::shared_ptr<ReplicationQuota> quota) { move_quota_ = std::move(quota); }
  // Any thread: the partitions being moved, with the index of their destination directory.
  std::vector<std::pair<size_t, std::shared_ptr<Partition>>> moving() const;

  // ---- Log directory failure ----
  // Before load(): called (on the failing thread, once per directory) when log_dirs()[dir] goes
  // offline, with the partitions whose logs it held.
  using LogDirFailed =
      std::function<void(size_t dir, const std::vector<std::shared_ptr<Partition>>& offline)>;
  void on_log_dir_failure(LogDirFailed failed) { dir_failed_ = std::move(failed); }
  // Any thread: takes log_dirs()[dir] offline (once; later calls do nothing): every partition in
  // it is taken offline on its owner loop, then the listener is called.
  void fail_log_dir(size_t dir, const std::string& why);
  // Before load(): log_dirs()[dir] could not be used at start-up; it starts offline and is never
  // listed. While such a directory exists, a partition whose log is not found in the others is
  // not created (it may be in that one): load() leaves it out, and open_replica() refuses it
  // with *error, and unavailable() names it.
  void start_offline(size_t dir, const std::string& why);
  bool unavailable(const std::string& topic, int32_t index) const;  // any thread
  bool log_dir_offline(size_t dir) const;                           // any thread
  bool all_log_dirs_offline() const;                                // any thread
  bool some_log_dir_offline() const { return some_offline_.load(std::memory_order_acquire); }

  // Cluster mode (the ReplicaManager, before its first image): checkpoints include the high
  // watermarks, and open_replica() starts a log at its checkpointed watermark, not its log end.
  void enable_replication() { replicated_.store(true, std::memory_order_release); }
  // Any thread: writes recovery-point-offset-checkpoint and log-start-offset-checkpoint (and in
  // cluster mode replication-offset-checkpoint) from the partitions' snapshots.
  bool write_checkpoints(std::string* error);
  // Owner loop `shard`: periodic work of its partitions (flush.ms).
  void tick(size_t shard, int64_t now_ms);
  // Owner loop `shard`: retention of its partitions (every log.retention.check.interval.ms).
  void enforce_retention(size_t shard, int64_t now_ms);
  // After the loops have stopped: closes every log (fsync) and writes the final checkpoints.
  void shutdown();

 private:
  std::shared_ptr<Partition> open_partition(const TopicInfo& topic, int32_t index,
                                            int64_t recovery_point, std::string* error,
                                            int64_t log_start_offset = 0);
  // Where the partition's log is, else where it goes (placed now, and remembered). Any thread.
  std::filesystem::path partition_dir(const std::string& topic, int32_t index);
  // An I/O error reported by the partition topic-index: its directory goes offline.
  void partition_failed(const std::string& topic, int32_t index, const std::string& why);
  bool maybe_unlisted_locked(const std::pair<std::string, int32_t>& key);
  // After a partition's directory is removed: its place is free again.
  void forget_location(const std::string& topic, int32_t index);
  // load(): records where each existing log is; false on a log found in two directories.
  bool locate_existing(std::string* error);
  // partition_moves.cc, owner loop of p: one copy step of move `id`; the swap once caught up.
  void move_step(const std::shared_ptr<Partition>& p, uint64_t id);
  void finish_move(const std::shared_ptr<Partition>& p, uint64_t id);
  // Forgets move `id` of p (if it is still p's) and removes its future directory; owner loop.
  void abandon_move(const std::shared_ptr<Partition>& p, uint64_t id);
  // The future directory of the move of topic-index, forgotten; empty when none. Any thread.
  std::filesystem::path forget_move(const std::string& topic, int32_t index);
  // load(): a future directory beside its log is kept, and the move goes on with it once the
  // partition is open (resume_; a move asked elsewhere meanwhile removes it); one without a log
  // (the old directory was renamed away) becomes the log.
  bool adopt_future(const std::pair<std::string, int32_t>& key, size_t dir,
                    const std::filesystem::path& path,
                    std::map<std::pair<std::string, int32_t>, size_t>& found, std::string* error);
  // Owner loop `shard` (tick): the moves of its partitions the quota held back, tried again.
  void resume_parked_moves(size_t shard);
  // Starts the moves load() found interrupted for the partitions now open. Any thread.
  void resume_moves();
  // topic_changes.cc. The defaults in force (any thread), and a partition's configs resolved
  // again with them and `topic_configs` (its owner loop).
  std::shared_ptr<const LogDefaults> defaults() const;
  void reconfigure(Partition& p, const std::map<std::string, std::string>& topic_configs) const;
  // With mu_ held, as `p` becomes visible: its configs resolved again if the defaults changed
  // while it was being opened.
  void adopt_locked(const std::shared_ptr<Partition>& p);
  size_t shard_of(const std::string& topic, int32_t index) const;
  // fsync of the log directories holding `created`: makes their new entries durable.
  bool sync_parents(const std::vector<std::shared_ptr<Partition>>& created,
                    std::string* error) const;
  // Closes each on its owner loop and removes its directory; after() once all are gone.
  void close_and_delete(std::vector<std::shared_ptr<Partition>> removed,
                        std::function<void()> after);

  const std::vector<std::filesystem::path> log_dirs_;
  const std::vector<std::string> log_dir_names_;
  const size_t shards_;
  storage::Flusher& flusher_;
  Post post_;

  mutable std::mutex mu_;
  std::shared_ptr<const LogDefaults> defaults_;  // replaced whole by set_defaults
  std::map<std::pair<std::string, int32_t>, std::shared_ptr<Partition>, std::less<>> partitions_;
  std::set<std::string> deleting_;
  // The log directory (index in log_dirs_) of every log found or placed, and their counts.
  std::map<std::pair<std::string, int32_t>, size_t> located_;
  std::vector<size_t> dir_counts_;
  std::vector<bool> offline_dirs_;  // by index in log_dirs_
  LogDirFailed dir_failed_;
  std::atomic<bool> some_offline_{false};
  bool unlisted_dirs_ = false;  // start_offline(): logs may be where they cannot be seen
  std::set<std::pair<std::string, int32_t>> unavailable_;
  std::set<std::pair<std::string, int32_t>> deleting_partitions_;
  // Moves between log directories (partition_moves.cc): under way, the directory last asked for
  // (a move finishing after a newer request is followed by another), and interrupted ones found
  // at start-up with the copy they had made (resumed when their partition opens; id unused).
  struct Move {
    size_t dir = 0;
    uint64_t id = 0;
    std::filesystem::path future_dir;
    int64_t recovery_point = 0;  // resume_: from the directory's recovery checkpoint
  };
  std::map<std::pair<std::string, int32_t>, Move> moves_;
  std::map<std::pair<std::string, int32_t>, size_t> wanted_dirs_;
  std::map<std::pair<std::string, int32_t>, Move> resume_;
  uint64_t next_move_id_ = 1;
  std::shared_ptr<ReplicationQuota> move_quota_;
  // Moves held back by the quota, resumed by their shard's tick().
  std::vector<std::pair<std::shared_ptr<Partition>, uint64_t>> parked_moves_;
  // From load(): checkpointed offsets of logs not opened yet (cluster mode opens them later).
  std::map<std::pair<std::string, int32_t>, int64_t> recovery_points_;
  std::map<std::pair<std::string, int32_t>, int64_t> log_starts_;
  std::map<std::pair<std::string, int32_t>, int64_t> high_watermarks_;
  std::atomic<size_t> recovery_threads_{2};
  std::atomic<bool> replicated_{false};  // cluster mode: replication-offset-checkpoint too
  std::mutex checkpoint_mu_;             // one checkpoint writer at a time
};

}  // namespace kaffa::cluster
