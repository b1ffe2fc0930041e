// The controller's rules for partition reassignment (controller_rules.h): start, cancel and
// complete, as KRaft's controller applies them (KIP-455).
#include <fmt/format.h>

#include <algorithm>
#include <set>

#include "cluster/controller_rules.h"

namespace kaffa::cluster {
namespace {

using protocol::ErrorCode;

bool contains(const std::vector<int32_t>& v, int32_t x) {
  return std::find(v.begin(), v.end(), x) != v.end();
}

// The members of `a` that are not in `b`, ascending.
std::vector<int32_t> minus(const std::vector<int32_t>& a, const std::vector<int32_t>& b) {
  std::set<int32_t> out;
  for (int32_t x : a) {
    if (!contains(b, x)) out.insert(x);
  }
  return {out.begin(), out.end()};
}

std::vector<int32_t> without(const std::vector<int32_t>& v, const std::vector<int32_t>& gone) {
  std::vector<int32_t> out;
  for (int32_t x : v) {
    if (!contains(gone, x)) out.push_back(x);
  }
  return out;
}

// `next` (replicas and ISR decided) from `p`: a leader outside the new ISR hands over to the first
// live replica in it (none: no leader until the repair rules find one); the leader epoch rises when
// the leader changes or a replica leaves; the partition epoch on every change.
PartitionState settle(const MetadataImage& image, const PartitionState& p, PartitionState next) {
  if (!contains(next.isr, next.leader)) {
    next.leader = -1;
    for (int32_t r : next.replicas) {
      if (contains(next.isr, r) && is_live(image, r)) {
        next.leader = r;
        break;
      }
    }
  }
  const bool replica_left = !minus(p.replicas, next.replicas).empty();
  if (next.leader != p.leader || replica_left) next.leader_epoch = p.leader_epoch + 1;
  next.partition_epoch = p.partition_epoch + 1;
  return next;
}

// The replicas and ISR of a completed reassignment of `p` (adding and removing cleared), when
// every target replica is in the ISR and an ISR member is not being removed.
std::optional<PartitionState> completed(const PartitionState& p) {
  if (!p.reassigning()) return std::nullopt;
  PartitionState next = p;
  next.isr = without(p.isr, p.removing);
  next.replicas = without(p.replicas, p.removing);
  if (next.isr.empty() || next.replicas.empty()) return std::nullopt;
  for (int32_t r : next.replicas) {
    if (!contains(next.isr, r)) return std::nullopt;
  }
  next.adding.clear();
  next.removing.clear();
  return next;
}

}  // namespace

std::optional<PartitionState> start_reassignment(const MetadataImage& image,
                                                 const PartitionState& p,
                                                 const std::vector<int32_t>& target,
                                                 ErrorCode* error, std::string* message) {
  *error = ErrorCode::invalid_replica_assignment;
  if (target.empty()) {
    *message = "The replica list is empty.";
    return std::nullopt;
  }
  std::set<int32_t> seen;
  for (int32_t r : target) {
    if (!seen.insert(r).second) {
      *message = fmt::format("Broker {} appears more than once in the replica list.", r);
      return std::nullopt;
    }
    if (image.broker(r) == nullptr) {
      *message = fmt::format("Broker {} is not registered.", r);
      return std::nullopt;
    }
  }
  *error = ErrorCode::none;
  PartitionState next = p;
  next.removing = minus(p.replicas, target);
  next.adding = minus(target, p.replicas);
  next.replicas = target;
  next.replicas.insert(next.replicas.end(), next.removing.begin(), next.removing.end());
  if (auto done = completed(next)) next = std::move(*done);
  if (next.replicas == p.replicas && next.adding == p.adding && next.removing == p.removing &&
      next.isr == p.isr) {
    return std::nullopt;
  }
  return settle(image, p, std::move(next));
}

std::optional<PartitionState> cancel_reassignment(const MetadataImage& image,
                                                  const PartitionState& p, bool unclean,
                                                  ErrorCode* error, std::string* message) {
  if (!p.reassigning()) {
    *error = ErrorCode::no_reassignment_in_progress;
    *message = "No partition reassignment is in progress.";
    return std::nullopt;
  }
  PartitionState next = p;
  next.replicas = without(p.replicas, p.adding);
  next.isr = without(p.isr, p.adding);
  next.adding.clear();
  next.removing.clear();
  if (next.isr.empty()) {
    if (!unclean || next.replicas.empty()) {
      *error = ErrorCode::invalid_replica_assignment;
      *message =
          "Reverting would leave no in-sync replica: that is an unclean leader election, which "
          "unclean.leader.election.enable does not allow.";
      return std::nullopt;
    }
    next.isr = {next.replicas.front()};
  }
  *error = ErrorCode::none;
  return settle(image, p, std::move(next));
}

std::optional<PartitionState> complete_reassignment(const MetadataImage& image,
                                                    const PartitionState& p) {
  auto next = completed(p);
  if (!next) return std::nullopt;
  return settle(image, p, std::move(*next));
}

}  // namespace kaffa::cluster
