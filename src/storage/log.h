// Log: one partition's log on disk, in Kafka's layout.
//
// Directory `<log.dirs>/<topic>-<partition>/` holding segments (see segment.h for the file names
// and the .log format, offset_index.h and time_index.h for the indexes). Segments cover
// consecutive offset ranges; the last one is the active segment, the only one appended to.
//
// Lifecycle and threading: one owner thread (a shard or strand) opens the Log and calls every
// member. The only things that cross threads are FileSlices (read by the network layer with
// sendfile/pread, possibly after the Log is closed or the segment deleted) and FlushTickets
// (synced by the flusher thread). No locks.
//
// Durability: append() writes to the page cache only. Durability is handed off: flush_ticket()
// on the owner thread, FlushTicket::sync() anywhere, then mark_flushed(ticket.end_offset) on the
// owner thread advances recovery_point(). The owner persists recovery_point() in the
// recovery-point-offset-checkpoint file (checkpoint_file.h) and passes it back to open().
// close() syncs everything and sets recovery_point() to the log end offset. Destroying a Log
// without close() leaves the files as a crash would (minus the page cache loss).
// A new log's directory is synced with the first flush ticket (or close()), not at creation: an
// empty log lost to a crash is recreated empty by the next open(). The entry of `dir` in its
// parent is the caller's to sync (once for a batch of new logs; PartitionManager does).
//
// Recovery (open): segments holding offsets at or above the recovery point are scanned batch by
// batch (length, magic 2, CRC32C, increasing offsets within 2^31 - 1 of the segment's base:
// the base offset field lies outside the CRC); at the first bad or incomplete batch the
// segment is truncated there and every later segment deleted. Their indexes are rebuilt. Segments
// below the recovery point are trusted, but their indexes are validated (offset_index.h) and
// rebuilt from batch headers when invalid. The last segment, when below the recovery point, is
// only walked by batch header from its last index entry to find the log end. Bytes that failed
// their CRC are never served.
//
// Log start offset: the first offset readers see (reads below it are out of range). It is >= the
// first segment's base offset and <= log_end_offset(), and may point inside the first segment
// (DeleteRecords), whose earlier batches then stay on disk but are never served from that offset
// (a read returns whole batches, so the batch holding the log start may start below it, as in
// Kafka). It only moves up: advance_log_start_offset() (DeleteRecords) and segment deletion. The
// segment files do not record it: the owner persists it in the log dir's
// log-start-offset-checkpoint (checkpoint_file.h; `0\n<count>\n<topic> <partition> <offset>\n`...)
// and hands it back after open() with restore_log_start_offset().
//
// Retention (log_retention.cc) follows Kafka's UnifiedLog.deleteOldSegments: only whole segments
// go, oldest first, never one holding offsets at or above the high watermark.
//
// Compaction (log_swap.cc; protocol in log_cleaning.h): a log cleaner thread rewrites rolled
// segments from a cleaning_view() and install_cleaned() swaps them in on the owner thread. A
// cleaned segment keeps its base offset and offset range but may have gaps or be empty; several
// may be merged into one. open() first finishes or undoes an interrupted swap.
//
// Resource bounds (per Log): open descriptors = 1 for the active segment's .log (its indexes are
// written behind without a descriptor, index_file.h; the directory is opened only to sync it) +
// at most LogConfig::max_open_read_files cached for reads of older segments + 3 per segment
// rolled since the last mark_flushed (held for the flusher) + whatever FileSlices (and flush
// tickets) are still in flight.
// Memory = ~64 bytes per segment + the active indexes' warm tails (<= 2 x 16 KiB) + transient
// page-aligned scan buffers (1 MiB, from the bytes pool) during recovery. No mmap.
#pragma once

#include <algorithm>
#include <cstdint>
#include <deque>
#include <filesystem>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "storage/leader_epoch_cache.h"
#include "storage/log_cleaning.h"
#include "storage/segment.h"
#include "storage/segment_file.h"

namespace kaffa::storage {

struct LogConfig {
  int32_t segment_bytes = 1073741824;   // segment.bytes: roll when the next append would exceed it
  int64_t segment_ms = 604800000;       // segment.ms: roll when the active segment's first
                                        // append is older than this
  int32_t index_interval_bytes = 4096;  // index.interval.bytes
  int32_t segment_index_bytes = 10485760;  // segment.index.bytes: roll when an index is full
  // Kaffa only (not a Kafka topic config): descriptors of older segments kept open for reads.
  int32_t max_open_read_files = 8;
};

// What open() did; for operators' logs and for tests.
struct RecoveryStats {
  int64_t segments_scanned = 0;  // full CRC scans
  int64_t batches_scanned = 0;   // batches whose CRC was checked
  int64_t indexes_rebuilt = 0;   // segments whose .index/.timeindex were rebuilt
  int64_t bytes_truncated = 0;   // torn or corrupt tail bytes removed
  int64_t segments_deleted = 0;  // segments after a corrupt batch
};

class Log {
 public:
  // Opens or creates the log in `dir`. nullptr and *error on failure (I/O errors; corrupt data is
  // repaired as described above, not an error).
  static std::unique_ptr<Log> open(const std::filesystem::path& dir, const LogConfig& cfg,
                                   int64_t recovery_point, std::string* error);
  ~Log();
  Log(const Log&) = delete;
  Log& operator=(const Log&) = delete;

  int64_t log_start_offset() const { return log_start_offset_; }
  int64_t log_end_offset() const { return segments_.rbegin()->second.next_offset; }
  int64_t recovery_point() const { return recovery_point_; }  // everything below is durable
  int64_t active_base_offset() const { return segments_.rbegin()->first; }  // moves at a roll
  const std::filesystem::path& dir() const { return dir_; }
  const RecoveryStats& recovery_stats() const { return stats_; }

  // Appends whole, already validated v2 batches (n bytes, patched in place): base offsets become
  // consecutive from log_end_offset(), the partition leader epoch is set; one write() to the
  // page cache, then the indexes. Rolls first when needed. A failed write is undone (truncated)
  // and reported; the log is unchanged then.
  struct AppendResult {
    int64_t base_offset = -1;
    int64_t last_offset = -1;
    bool ok = false;
    bool io_error = false;  // !ok because a file operation failed (else the batches were refused)
    std::string error;
  };
  AppendResult append(uint8_t* batches, size_t n, int32_t leader_epoch, int64_t now_ms);
  // A follower's append of batches fetched from its leader: offsets and leader epochs stay as
  // the leader wrote them (Kafka's appendAsFollower). Base offsets must increase from the log end
  // on (gaps are fine: the leader may have compacted) and every CRC must hold, else nothing is
  // written. Epochs the batches start are recorded in the epoch cache.
  AppendResult append_as_follower(uint8_t* batches, size_t n, int64_t now_ms);

  // Whole batches from the one holding `offset`: total <= max_bytes, stopping before a batch whose
  // last offset >= max_offset; with min_one_batch a first batch larger than max_bytes is
  // returned alone. offset outside [log start, log end] -> out_of_range. Returns file ranges.
  struct ReadResult {
    bool out_of_range = false;
    std::vector<FileSlice> slices;
    int64_t bytes = 0;
    // With slices: an offset above every offset returned and at or below the next batch's first
    // (the bound of the aborted transactions a read_committed fetch is told about); else -1.
    int64_t next_offset = -1;
    std::string error;  // I/O error while locating the data (then slices hold what was found)
  };
  ReadResult read(int64_t offset, int64_t max_bytes, int64_t max_offset, bool min_one_batch) const;

  // Calls fn with the header of every batch from the one holding `from` (or the first after it)
  // to the log end, in offset order, reading 1 MiB chunks, without CRC checks (recovery made
  // them). False with *error on an I/O error or a malformed batch (fn has seen the ones before).
  bool scan_headers(int64_t from, const std::function<void(const record::BatchHeader&)>& fn,
                    std::string* error) const;
  // The same walk handing fn each whole batch too (valid during the call; producer state replay,
  // which reads the records of transaction markers).
  bool scan_whole_batches(int64_t from,
                          const std::function<void(const record::BatchHeader&, const uint8_t*)>& fn,
                          std::string* error) const;

  // ListOffsets: (offset, timestamp) of the first record with timestamp >= ts; for compressed
  // batches the batch's base offset and max timestamp. nullopt when no such record.
  std::optional<std::pair<int64_t, int64_t>> offset_for_timestamp(int64_t ts) const;
  // (timestamp, offset) of the record with the largest timestamp, (-1, -1) when empty.
  std::pair<int64_t, int64_t> max_timestamp() const;

  // Leader epochs of this log (leader_epoch_cache.h): maintained by append(), truncate_to(),
  // recovery and every move of the log start offset; the checkpoint file rides the next flush.
  std::optional<int32_t> latest_epoch() const { return epochs_.latest_epoch(); }
  // (epoch, end offset) for a follower whose latest epoch is `epoch` (OffsetForLeaderEpoch).
  std::pair<int32_t, int64_t> end_offset_for_epoch(int32_t epoch) const {
    return epochs_.end_offset_for(epoch, log_end_offset());
  }
  const std::vector<EpochEntry>& epoch_entries() const { return epochs_.entries(); }
  // A leader in `epoch` writes from start_offset on: recorded when newer than the latest epoch
  // (Kafka's maybeAssignEpochStartOffset; append() does it for its batches' epoch).
  void maybe_assign_epoch(int32_t epoch, int64_t start_offset);

  FlushTicket flush_ticket() const;
  // Writes the active segment's pending index entries now (no sync): before the directory is
  // renamed away (a move), so that none is left to write to the old path.
  void write_pending_indexes();
  void mark_flushed(int64_t end_offset);
  // fdatasync of everything (log, indexes, directory); recovery_point() = log_end_offset().
  // Idempotent; no other member may be called afterwards except the accessors.
  bool close(std::string* error = nullptr);

  // Empties the log and restarts it at `offset` (Kafka's truncateFullyAndStartAt): a copy being
  // filled from a log whose start moved past everything copied.
  bool truncate_fully_and_start_at(int64_t offset, std::string* error = nullptr);
  // Removes offsets >= offset (whole batches: the batch holding `offset` goes too, so the new
  // log end may be below `offset`). An offset below the log start empties the log and restarts
  // it at `offset`.
  bool truncate_to(int64_t offset, std::string* error = nullptr);
  // Raises the log end to `offset` with no batch in between (the log it copies ends in offsets
  // compaction removed): the next append starts there, in a segment based at `offset`. No-op when
  // offset <= log_end_offset(). False with *error on an I/O error.
  bool skip_to(int64_t offset, std::string* error = nullptr);
  // Deletes whole segments all of whose offsets are < offset (the active segment only if it is
  // covered too; a new empty one is rolled first). Returns the new log start offset.
  int64_t delete_segments_before(int64_t offset);
  size_t segment_count() const { return segments_.size(); }
  int64_t size_bytes() const;
  // Replaces the settings (AlterConfigs); later appends and rolls use them.
  void set_config(const LogConfig& cfg) { cfg_ = cfg; }

  // log_retention.cc. After open(): the log start offset from the checkpoint. Raised to the first
  // segment's base when below it; above the log end (segments lost) the log is emptied and
  // restarts there (Kafka's LogLoader). False with *error on an I/O error.
  bool restore_log_start_offset(int64_t offset, std::string* error = nullptr);
  // DeleteRecords: raises the log start offset to `offset` (the caller checks it against the high
  // watermark) and deletes the segments wholly below it (rolling the active segment when it is
  // covered). False, and nothing changes, when offset > log_end_offset().
  bool advance_log_start_offset(int64_t offset);

  struct RetentionLimits {
    int64_t retention_ms = -1;     // retention.ms; < 0: no time limit
    int64_t retention_bytes = -1;  // retention.bytes; < 0: no size limit
  };
  struct RetentionResult {
    int64_t segments_deleted = 0;
    int64_t bytes_deleted = 0;
  };
  // Kafka's deleteOldSegments for cleanup.policy=delete, in its order: segments wholly below the
  // log start offset; then, while the log is larger than retention_bytes, the oldest segments
  // whose removal keeps it at or above the limit; then the oldest segments whose largest
  // timestamp (or, without timestamps, file mtime) is more than retention_ms before now_ms. Each
  // pass stops at the first segment it keeps, and never takes a segment with offsets at or above
  // `high_watermark` nor an empty active segment. When every segment qualifies the active segment
  // is rolled first and deleted with the others. The log start offset moves to the new first
  // segment's base. In-flight FileSlices stay valid.
  RetentionResult enforce_retention(const RetentionLimits& limits, int64_t now_ms,
                                    int64_t high_watermark);

  // log_swap.cc: compaction hand-off with the log cleaner (log_cleaning.h). The generation
  // changes whenever segments are deleted or truncated or the log start offset moves.
  uint64_t generation() const { return generation_; }
  // A log taking another's place (moved to another log directory) continues that log's
  // generation, past it: a cleaning of the other is stale here.
  void continue_generation(uint64_t previous) { generation_ = std::max(generation_, previous + 1); }
  CleaningView cleaning_view() const;
  // Swaps cleaned segments in (crash-safe, log_cleaning.h); stale (files removed, nothing
  // changed) when the generation or any of the segments changed since the view.
  SwapOutcome install_cleaned(const CleanedSegments& cleaned, std::string* error = nullptr);

 private:
  Log(std::filesystem::path dir, const LogConfig& cfg);

  // log.cc: recovery
  bool load(int64_t recovery_point, std::string* error);
  bool load_trusted(SegmentMeta& meta, int64_t offset_limit, std::string* error);
  bool rebuild_indexes(SegmentMeta& meta, bool active, std::string* error);
  bool open_active(bool reset_indexes, std::string* error);
  void delete_segment_files(int64_t base_offset);

  // log_retention.cc
  void drop_first_segment();  // files, meta and pending flush of the oldest segment
  void forget_pending_flush(int64_t base_offset);       // a segment deleted before its first sync
  bool restart_at(int64_t offset, std::string* error);  // empties the log, next offset `offset`
  int64_t largest_timestamp(const SegmentMeta& s) const;
  template <class Pred>
  RetentionResult delete_oldest_while(int64_t high_watermark, Pred pred);

  // log_append.cc
  AppendResult append_batches(uint8_t* batches, size_t n, int32_t leader_epoch, int64_t now_ms,
                              bool assign);
  bool roll(std::string* error);
  bool should_roll(size_t n, int64_t last_offset, int64_t now_ms) const;

  // log_read.cc
  std::shared_ptr<const SegmentFile> log_file(const SegmentMeta& s, std::string* error) const;
  std::optional<OffsetIndex> offset_index(const SegmentMeta& s, std::string* error) const;
  std::optional<TimeIndex> time_index(const SegmentMeta& s, std::string* error) const;
  // Position of the batch holding `offset` (or the first batch after it) in segment s; -1 if
  // none in this segment, -2 on an I/O error.
  int64_t locate(const SegmentMeta& s, const SegmentFile& log, int64_t offset) const;

  void load_epochs();  // log.cc: after load(), the epochs made to agree with the log
  // log.cc: after a change of epochs_. The checkpoint is written (atomic rename, no fsync) and
  // synced by the next flush ticket or close(): nothing on the append or creation path, and no
  // descriptor held meanwhile (idle logs are many). Recovery re-assigns epochs above the
  // recovery point, and a leader re-assigns its epoch on open, so a lost write loses nothing.
  void epochs_changed();
  bool write_epochs() const;       // the file at epochs_version_, if not written yet
  void epochs_follow_log_start();  // truncate_from_start(log_start_offset_), saved if changed

  // base_offset of pending entries that belong to no segment (never dropped with one).
  static constexpr int64_t kDirectorySync = -1;
  struct PendingFlush {
    int64_t base_offset;
    int64_t end_offset;
    std::vector<std::shared_ptr<const SegmentFile>> files;
    bool directory = false;  // dir_ gained entries: fsync it too
  };

  std::filesystem::path dir_;
  LogConfig cfg_;
  std::map<int64_t, SegmentMeta> segments_;  // by base offset; never empty once open
  std::unique_ptr<SegmentWriter> active_;    // writer of segments_.rbegin()
  std::deque<PendingFlush> pending_flush_;   // rolled segments awaiting their first sync
  mutable size_t pending_in_ticket_ = 0;     // pending_flush_ entries in the latest ticket
  LeaderEpochCache epochs_;
  uint64_t epochs_version_ = 0;                  // bumped by every epochs_changed()
  uint64_t epochs_synced_version_ = 0;           // the version the last completed flush synced
  mutable uint64_t epochs_ticket_version_ = 0;   // the version in the latest ticket
  mutable uint64_t epochs_written_version_ = 0;  // the version in the file (0: as loaded)
  int64_t recovery_point_ = 0;
  int64_t log_start_offset_ = 0;
  bool closed_ = false;
  uint64_t generation_ = 0;  // see generation()
  RecoveryStats stats_;
  mutable FileCache cache_;
};

}  // namespace kaffa::storage
