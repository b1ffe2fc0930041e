// Partition: DeleteRecords and periodic retention. Both run on the owner loop; neither blocks
// appends or reads for longer than deleting the files of whole segments takes.
#include "base/log.h"
#include "cluster/partition.h"

namespace kaffa::cluster {

using protocol::ErrorCode;

Partition::DeleteRecordsOutcome Partition::delete_records(int64_t offset) {
  DeleteRecordsOutcome out;
  if (closed_) {
    out.error = ErrorCode::not_leader_or_follower;
    return out;
  }
  if (!config_.cleanup_delete) {
    out.error = ErrorCode::policy_violation;
    return out;
  }
  const int64_t target = offset == -1 ? high_watermark_ : offset;
  if (target < 0 || target > high_watermark_) {
    out.error = ErrorCode::offset_out_of_range;
    return out;
  }
  const int64_t before = log_->log_start_offset();
  if (!log_->advance_log_start_offset(target)) {
    out.error = ErrorCode::kafka_storage_error;
    return out;
  }
  producers_.evict_below(log_->log_start_offset());
  publish();
  out.low_watermark = log_->log_start_offset();
  if (out.low_watermark != before) {
    log::info("{}-{}: log start offset {} -> {} (DeleteRecords)", topic_, index_, before,
              out.low_watermark);
  }
  return out;
}

void Partition::enforce_retention(int64_t now_ms) {
  if (closed_ || !config_.cleanup_delete) return;
  const storage::Log::RetentionLimits limits{config_.retention_ms, config_.retention_bytes};
  if (log_->enforce_retention(limits, now_ms, high_watermark_).segments_deleted > 0) {
    producers_.evict_below(log_->log_start_offset());
    publish();
  }
}

}  // namespace kaffa::cluster
