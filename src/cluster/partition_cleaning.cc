// Partition: the log cleaner's two calls on the owner loop (cluster/cleaner_manager.h).
#include "cluster/partition.h"

namespace kaffa::cluster {

std::optional<Partition::CleaningSnapshot> Partition::cleaning_snapshot() const {
  if (closed_ || !config_.compact) return std::nullopt;
  return CleaningSnapshot{log_->cleaning_view(), high_watermark_, config_.cleaner};
}

storage::SwapOutcome Partition::install_cleaned(const storage::CleanedSegments& cleaned,
                                                std::string* error) {
  // A closed log answers stale (and removes the files).
  const auto outcome = log_->install_cleaned(cleaned, error);
  if (outcome == storage::SwapOutcome::swapped) publish();
  return outcome;
}

}  // namespace kaffa::cluster
