// Partition: the log cleaner's two calls on the owner loop (cluster/cleaner_manager.h).
#include "cluster/partition.h"

namespace kaffa::cluster {

std::optional<Partition::CleaningSnapshot> Partition::cleaning_snapshot() const {
  if (closed_ || !config_.compact) return std::nullopt;
  // Nothing at or above the LSO is cleaned (Kafka's first unstable offset bound): the fate of an
  // undecided transaction's records is unknown.
  CleaningSnapshot snap{log_->cleaning_view(), last_stable_offset_, config_.cleaner};
  snap.view.aborted = producers_.aborted_index().entries();
  return snap;
}

storage::SwapOutcome Partition::install_cleaned(const storage::CleanedSegments& cleaned,
                                                std::string* error) {
  // A closed log answers stale (and removes the files).
  const auto outcome = log_->install_cleaned(cleaned, error);
  if (outcome == storage::SwapOutcome::swapped) {
    if (!cleaned.removed_abort_markers.empty())
      producers_.forget_aborted_markers(cleaned.removed_abort_markers);
    publish();
  }
  return outcome;
}

}  // namespace kaffa::cluster
