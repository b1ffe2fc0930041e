// The controller's rules for leaders and ISRs (Kafka's, applied to one image): pure functions
// from a MetadataImage to the partition states that should be written. Each result keeps the
// input's store_version: the write is a compare-and-swap on it. Unit-tested without etcd.
//
// "live" below = registered (in image.brokers) and not shutting down.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "cluster/metadata_image.h"
#include "protocol/error_codes.h"

namespace kaffa::cluster {

struct PartitionChange {
  std::string topic;
  protocol::Uuid topic_id;
  int32_t index = 0;
  PartitionState next;  // store_version = the version the CAS expects
};

// Leadership and ISR repair after brokers died, returned or began a controlled shutdown, and
// (when no repair is due) the completion of reassignments (complete_reassignment below):
// - leader dead or shutting down: first live ISR member (replica order) leads, the old leader
//   leaves the ISR, leader_epoch + 1. None: a dead leader becomes -1 with the ISR unchanged (so
//   the last in-sync broker leads again when it returns) unless `unclean` (then any live replica,
//   ISR = {it}); a shutting-down leader with nobody to take over keeps leading.
// - no leader, and a live ISR member: it leads (leader_epoch + 1).
// - a dead or shutting-down follower in the ISR: removed (leader_epoch unchanged).
// Dead / shutting-down followers also leave the ISR whenever a new leader is elected.
// A replica its broker reports offline (a failed log directory) counts as a dead broker's here,
// except that its broker stays registered: an offline leader never keeps leading.
// `unclean` is the broker default (unclean.leader.election.enable); a topic's own setting of it
// wins (unclean_election_enabled).
std::vector<PartitionChange> repair_changes(const MetadataImage& image, bool unclean);
// A topic's unclean.leader.election.enable when it sets one, else `broker_default` (Kafka's
// resolution of a topic config against its broker synonym).
bool unclean_election_enabled(const TopicInfo& topic, bool broker_default);

// Preferred leader election for one partition: replicas[0] leads if it is live, in the ISR and
// not leading already. nullopt with *error set otherwise (ELECTION_NOT_NEEDED,
// PREFERRED_LEADER_NOT_AVAILABLE).
std::optional<PartitionState> preferred_election(const MetadataImage& image,
                                                 const PartitionState& p,
                                                 protocol::ErrorCode* error);
// Unclean election for a partition without a leader: first live replica leads with ISR = {it}.
// nullopt with *error (ELECTION_NOT_NEEDED when it has a leader, ELIGIBLE_LEADERS_NOT_AVAILABLE).
std::optional<PartitionState> unclean_election(const MetadataImage& image, const PartitionState& p,
                                               protocol::ErrorCode* error);
// Every partition that a preferred election would change (auto leader rebalance).
std::vector<PartitionChange> rebalance_changes(const MetadataImage& image);

// Partition reassignment (KIP-455, KRaft's rules; controller_reassignment.cc). `message` gets
// the reason of an error.
//
// Start, or replace the one in progress: removing = replicas - target, adding = target -
// replicas (both ascending), replicas = target followed by removing; completed at once when the
// ISR allows it (below), so a reordering or a shrink to in-sync replicas is one step.
// INVALID_REPLICA_ASSIGNMENT for an empty target, a duplicate or a broker that is not registered.
// nullopt with NONE: the partition is already so.
std::optional<PartitionState> start_reassignment(const MetadataImage& image,
                                                 const PartitionState& p,
                                                 const std::vector<int32_t>& target,
                                                 protocol::ErrorCode* error, std::string* message);
// Cancel: the replicas and ISR without `adding`. NO_REASSIGNMENT_IN_PROGRESS when there is none;
// INVALID_REPLICA_ASSIGNMENT when no ISR member would be left, unless `unclean` (then the first
// remaining replica is the ISR).
std::optional<PartitionState> cancel_reassignment(const MetadataImage& image,
                                                  const PartitionState& p, bool unclean,
                                                  protocol::ErrorCode* error, std::string* message);
// Completion, once every target replica is in the ISR and an ISR member outside `removing`
// exists: replicas = target, ISR without `removing`. A leader that leaves hands over to the first
// live target replica in the ISR. The leader epoch rises whenever a replica leaves, so that a
// removed follower's fetches are fenced. nullopt: nothing to complete yet.
std::optional<PartitionState> complete_reassignment(const MetadataImage& image,
                                                    const PartitionState& p);

// Fetching from the closest replica (KIP-392, Kafka's RackAwareReplicaSelector): for a consumer
// in `rack`, the live in-sync replica in that rack the leader `self` should send it to (replica
// order), or -1 to read from the leader (it is in that rack, or no replica is).
int32_t preferred_read_replica(const MetadataImage& image, const PartitionState& p,
                               std::string_view rack, int32_t self);

bool is_live(const MetadataImage& image, int32_t broker);
// Live, and its replica of partition `index` of `topic_id` is not offline (its log directory
// failed: BrokerRegistration::offline_replicas).
bool serves_replica(const MetadataImage& image, int32_t broker, const protocol::Uuid& topic_id,
                    int32_t index);

}  // namespace kaffa::cluster
