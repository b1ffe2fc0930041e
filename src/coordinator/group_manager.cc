// GroupManager: the rebalance machinery, SyncGroup, Heartbeat and LeaveGroup. The JoinGroup paths
// are in group_manager_join.cc, start-up replay and the queries in group_manager_queries.cc.
#include "coordinator/group_manager.h"

#include <algorithm>
#include <utility>

#include "base/log.h"
#include "coordinator/records.h"

namespace kaffa::coordinator {

using protocol::ErrorCode;
using Assignment = std::map<std::string, std::string, std::less<>>;

class GroupManager::ShardEnv final : public GroupEnv {
 public:
  explicit ShardEnv(CoordinatorShard& shard) : shard_(shard) {}
  const GroupConfig& config() const override { return shard_.config(); }
  int64_t now_ms() const override { return shard_.now_ms(); }
  void schedule(int64_t delay_ms, std::function<void()> fn) override {
    shard_.schedule(delay_ms, std::move(fn));
  }
  ErrorCode append(std::vector<CoordinatorShard::Record> records,
                   std::function<void(ErrorCode)> done) override {
    return shard_.append(std::move(records), std::move(done));
  }
  ErrorCode write_refusal() const override { return shard_.write_refusal(); }

 private:
  CoordinatorShard& shard_;
};

GroupManager::GroupManager(CoordinatorShard& shard)
    : owned_env_(std::make_unique<ShardEnv>(shard)), env_(*owned_env_), consumer_(env_) {}

GroupManager::GroupManager(GroupEnv& env) : env_(env), consumer_(env_) {}

GroupManager::~GroupManager() = default;

ErrorCode group_write_error(ErrorCode e) {
  switch (e) {
    case ErrorCode::unknown_topic_or_partition:
    case ErrorCode::not_enough_replicas:
    case ErrorCode::request_timed_out:
      return ErrorCode::coordinator_not_available;
    case ErrorCode::not_leader_or_follower:
    case ErrorCode::kafka_storage_error:
      return ErrorCode::not_coordinator;
    case ErrorCode::message_too_large:
    case ErrorCode::record_list_too_large:
    case ErrorCode::invalid_fetch_size:
      return ErrorCode::unknown_server_error;
    default:
      return e;
  }
}

Group* GroupManager::find(std::string_view id) {
  auto it = groups_.find(id);
  return it == groups_.end() ? nullptr : it->second.get();
}

const Group* GroupManager::group(std::string_view id) const {
  auto it = groups_.find(id);
  return it == groups_.end() ? nullptr : it->second.get();
}

void GroupManager::persist(const Group& g, const Assignment* assignment,
                           std::function<void(ErrorCode)> done) {
  write_value(g.id(), g.to_record(assignment), std::move(done));
}

void GroupManager::write_value(const std::string& group_id, const protocol::GroupMetadataValue& v,
                               std::function<void(ErrorCode)> done) {
  std::vector<CoordinatorShard::Record> recs;
  recs.push_back({records::group_metadata_key(group_id), records::group_metadata_value(v)});
  auto finish = [id = group_id, done = std::move(done)](ErrorCode e) {
    if (e != ErrorCode::none) {
      log::warn("group coordinator: failed to write the metadata of group {}: error {}", id,
                protocol::code(e));
    }
    if (done) done(e);
  };
  if (const ErrorCode e = env_.append(std::move(recs), finish); e != ErrorCode::none) finish(e);
}

// --- Rebalance machinery (Kafka's GroupMetadataManager, same names where possible) ---

void GroupManager::maybe_prepare_rebalance_or_complete_join(Group& g) {
  if (g.can_rebalance()) {
    prepare_rebalance(g);
  } else {
    maybe_complete_join_phase(g);
  }
}

void GroupManager::prepare_rebalance(Group& g) {
  // Members waiting for their assignment must rejoin instead.
  if (g.is(GroupState::completing_rebalance)) {
    reset_and_propagate_assignment_with_error(g, ErrorCode::rebalance_in_progress);
  }
  g.clear_pending_sync();
  g.sync_token = 0;
  const bool initial = g.is(GroupState::empty);
  if (initial) {
    // A new group: give more members the chance to join before the first generation.
    const int32_t delay = config().group_initial_rebalance_delay_ms;
    const int32_t remaining = std::max(g.rebalance_timeout_ms() - delay, 0);
    const uint64_t token = g.join_token = next_token();
    env_.schedule(delay, [this, id = g.id(), token, delay, remaining] {
      try_complete_initial_rebalance(id, token, delay, remaining);
    });
  }
  g.transition_to(GroupState::preparing_rebalance, now());
  log::info("group coordinator: preparing to rebalance group {} with old generation {}", g.id(),
            g.generation());
  if (!initial) maybe_complete_join_else_schedule(g);
}

void GroupManager::maybe_complete_join_else_schedule(Group& g) {
  if (g.has_all_members_joined()) {
    complete_join(g);
  } else {
    arm_join_timer(g, g.rebalance_timeout_ms());
  }
}

void GroupManager::arm_join_timer(Group& g, int64_t delay_ms) {
  const uint64_t token = g.join_token = next_token();
  env_.schedule(delay_ms, [this, id = g.id(), token] {
    Group* g = find(id);
    if (g && g->join_token == token) complete_join(*g);
  });
}

void GroupManager::try_complete_initial_rebalance(const std::string& id, uint64_t token,
                                                  int32_t delay_ms, int32_t remaining_ms) {
  Group* g = find(id);
  if (!g || g->join_token != token) return;
  if (g->new_member_added && remaining_ms != 0) {
    g->new_member_added = false;
    const int32_t next_delay = std::min(config().group_initial_rebalance_delay_ms, remaining_ms);
    const int32_t next_remaining = std::max(remaining_ms - delay_ms, 0);
    const uint64_t next = g->join_token = next_token();
    env_.schedule(next_delay, [this, id, next, next_delay, next_remaining] {
      try_complete_initial_rebalance(id, next, next_delay, next_remaining);
    });
    return;
  }
  complete_join(*g);
}

void GroupManager::maybe_complete_join_phase(Group& g) {
  if (!g.is(GroupState::preparing_rebalance)) return;
  if (g.previous_state() == GroupState::empty) return;  // the initial rebalance waits its delay
  if (!g.has_all_members_joined()) return;
  complete_join(g);
}

void GroupManager::complete_join(Group& g) {
  g.join_token = 0;
  // Dynamic members that did not rejoin in time are dropped; static ones stay until their
  // session expires.
  std::vector<std::string> gone;
  for (const auto& [id, m] : g.members()) {
    if (!m.is_awaiting_join() && !m.is_static()) gone.push_back(id);
  }
  for (const auto& id : gone) g.remove(id);
  if (!gone.empty()) {
    log::info("group coordinator: group {} removed {} members that did not rejoin", g.id(),
              gone.size());
  }
  if (g.is(GroupState::dead)) return;
  if (!g.maybe_elect_new_joined_leader() && !g.members().empty()) {
    // Nobody rejoined: wait another rebalance timeout for the sessions to expire.
    arm_join_timer(g, g.rebalance_timeout_ms());
    return;
  }
  g.init_next_generation(now());
  if (g.is(GroupState::empty)) {
    log::info("group coordinator: group {} with generation {} is now empty", g.id(),
              g.generation());
    persist(g, nullptr, {});
    return;
  }
  log::info("group coordinator: stabilized group {} generation {} with {} members", g.id(),
            g.generation(), g.size());
  for (auto& [id, m] : g.members()) {
    g.complete_join(m, g.join_response_for(m, g.is_leader(id)));
    reschedule_heartbeat(g, m);
    m.is_new = false;
    g.add_pending_sync(id);
  }
  schedule_pending_sync(g);
}

void GroupManager::schedule_pending_sync(Group& g) {
  const uint64_t token = g.sync_token = next_token();
  env_.schedule(g.rebalance_timeout_ms(), [this, id = g.id(), token, gen = g.generation()] {
    expire_pending_sync(id, token, gen);
  });
}

void GroupManager::expire_pending_sync(const std::string& id, uint64_t token, int32_t generation) {
  Group* g = find(id);
  if (!g || g->sync_token != token || g->generation() != generation) return;
  g->sync_token = 0;
  if (!g->is(GroupState::completing_rebalance) && !g->is(GroupState::stable)) return;
  if (g->has_received_sync_from_all()) return;
  const std::vector<std::string> pending(g->pending_sync().begin(), g->pending_sync().end());
  for (const auto& mid : pending) g->remove(mid);
  log::info("group coordinator: group {} removed {} members that did not send SyncGroup", id,
            pending.size());
  prepare_rebalance(*g);
}

void GroupManager::remove_pending_sync_member(Group& g, std::string_view member_id) {
  g.remove_pending_sync(member_id);
  if (!g.is(GroupState::completing_rebalance) && !g.is(GroupState::stable)) {
    g.sync_token = 0;
  } else if (g.has_received_sync_from_all()) {
    g.sync_token = 0;
  }
}

void GroupManager::reschedule_heartbeat(Group& g, GroupMember& m, int64_t timeout_ms) {
  const uint64_t token = m.session_token = next_token();
  env_.schedule(timeout_ms, [this, id = g.id(), mid = m.member_id, token] {
    expire_heartbeat(id, mid, token);
  });
}

void GroupManager::expire_heartbeat(const std::string& id, const std::string& member_id,
                                    uint64_t token) {
  Group* g = find(id);
  if (!g || g->is(GroupState::dead)) return;
  if (g->is_pending_member(member_id)) {
    if (g->pending_member_token(member_id) == token) {
      log::info("group coordinator: pending member {} of group {} expired", member_id, id);
      remove_pending_member_and_update(*g, member_id);
    }
    return;
  }
  GroupMember* m = g->member(member_id);
  if (!m || m->session_token != token || m->has_satisfied_heartbeat()) return;
  log::info("group coordinator: member {} of group {} failed (session timeout)", member_id, id);
  remove_member_and_update(*g, member_id);
}

void GroupManager::remove_member_and_update(Group& g, const std::string& member_id) {
  g.remove(member_id);  // answers a parked JoinGroup with UNKNOWN_MEMBER_ID
  if (g.is(GroupState::stable) || g.is(GroupState::completing_rebalance)) {
    maybe_prepare_rebalance_or_complete_join(g);
  } else if (g.is(GroupState::preparing_rebalance) && g.has_all_members_joined()) {
    complete_join(g);
  }
}

void GroupManager::remove_pending_member_and_update(Group& g, const std::string& member_id) {
  g.remove(member_id);
  if (g.is(GroupState::preparing_rebalance) && g.has_all_members_joined()) complete_join(g);
}

void GroupManager::propagate_assignment(Group& g, ErrorCode error) {
  for (auto& [id, m] : g.members()) {
    protocol::SyncGroupResponse r;
    if (error == ErrorCode::none) {
      r.protocol_type = g.protocol_type();
      r.protocol_name = g.protocol_name();
    }
    r.assignment = m.assignment;
    r.error_code = protocol::code(error);
    // Sessions restart once the assignment is out: expiries while parked were ignored.
    if (g.complete_sync(m, std::move(r))) reschedule_heartbeat(g, m);
  }
}

void GroupManager::reset_and_propagate_assignment_with_error(Group& g, ErrorCode error) {
  for (auto& [id, m] : g.members()) m.assignment.clear();
  propagate_assignment(g, error);
}

// --- SyncGroup ---

namespace {

bool inconsistent(const std::optional<std::string>& asked, const std::optional<std::string>& has) {
  return asked && has && *asked != *has;
}

}  // namespace

void GroupManager::sync(SyncRequest req, SyncCallback done) {
  auto fail = [&](ErrorCode e) {
    protocol::SyncGroupResponse r;
    r.error_code = protocol::code(e);
    done(std::move(r));
  };
  Group* g = find(req.group_id);
  if (!g || g->is(GroupState::empty)) return fail(ErrorCode::unknown_member_id);
  if (g->is(GroupState::dead)) return fail(ErrorCode::coordinator_not_available);
  if (auto e = g->validate_member(req.member_id, req.group_instance_id); e != ErrorCode::none) {
    return fail(e);
  }
  if (req.generation_id != g->generation()) return fail(ErrorCode::illegal_generation);
  if (inconsistent(req.protocol_type, g->protocol_type()) ||
      inconsistent(req.protocol_name, g->protocol_name())) {
    return fail(ErrorCode::inconsistent_group_protocol);
  }
  if (g->is(GroupState::preparing_rebalance)) return fail(ErrorCode::rebalance_in_progress);
  GroupMember& m = *g->member(req.member_id);
  if (g->is(GroupState::stable)) {
    remove_pending_sync_member(*g, req.member_id);
    protocol::SyncGroupResponse r;
    r.protocol_type = g->protocol_type();
    r.protocol_name = g->protocol_name();
    r.assignment = m.assignment;
    return done(std::move(r));
  }
  // CompletingRebalance: park until the leader's assignment is stored.
  if (m.awaiting_sync) {
    protocol::SyncGroupResponse r;
    r.error_code = protocol::code(ErrorCode::rebalance_in_progress);
    g->complete_sync(m, std::move(r));
  }
  m.awaiting_sync = std::move(done);
  remove_pending_sync_member(*g, req.member_id);
  if (!g->is_leader(req.member_id)) return;
  log::info("group coordinator: assignment from leader {} for group {} generation {}",
            req.member_id, g->id(), g->generation());
  Assignment assignment;
  for (auto& [mid, bytes] : req.assignments) assignment[mid] = std::move(bytes);
  for (const auto& [id, member] : g->members()) assignment.try_emplace(id);
  const Assignment stored = assignment;
  persist(*g, &stored,
          [this, id = g->id(), inc = g->incarnation(), gen = g->generation(),
           assignment = std::move(assignment)](ErrorCode e) mutable {
            on_sync_written(id, inc, gen, std::move(assignment), e);
          });
}

void GroupManager::on_sync_written(const std::string& id, uint64_t incarnation, int32_t generation,
                                   Assignment assignment, ErrorCode error) {
  Group* g = find(id);
  // A join may have restarted the rebalance meanwhile (its answers are already out).
  if (!g || g->incarnation() != incarnation || g->generation() != generation ||
      !g->is(GroupState::completing_rebalance)) {
    return;
  }
  if (error != ErrorCode::none) {
    reset_and_propagate_assignment_with_error(*g, group_write_error(error));
    maybe_prepare_rebalance_or_complete_join(*g);
    return;
  }
  for (auto& [mid, m] : g->members()) {
    auto it = assignment.find(mid);
    m.assignment = it == assignment.end() ? std::string() : std::move(it->second);
  }
  propagate_assignment(*g, ErrorCode::none);
  g->transition_to(GroupState::stable, now());
}

// --- Heartbeat and LeaveGroup ---

void GroupManager::on_member_commit(std::string_view group_id, std::string_view member_id,
                                    int32_t generation_id) {
  Group* g = find(group_id);
  if (!g || generation_id < 0 || generation_id != g->generation()) return;
  if (!g->is(GroupState::stable) && !g->is(GroupState::preparing_rebalance)) return;
  if (GroupMember* m = g->member(member_id)) reschedule_heartbeat(*g, *m);
}

ErrorCode GroupManager::heartbeat(std::string_view group_id, std::string_view member_id,
                                  const std::optional<std::string>& group_instance_id,
                                  int32_t generation_id) {
  Group* g = find(group_id);
  if (!g) return ErrorCode::unknown_member_id;
  if (g->is(GroupState::dead)) return ErrorCode::coordinator_not_available;
  if (auto e = g->validate_member(member_id, group_instance_id); e != ErrorCode::none) return e;
  if (generation_id != g->generation()) return ErrorCode::illegal_generation;
  switch (g->state()) {
    case GroupState::preparing_rebalance:
      reschedule_heartbeat(*g, *g->member(member_id));
      return ErrorCode::rebalance_in_progress;
    case GroupState::completing_rebalance:
    case GroupState::stable:
      reschedule_heartbeat(*g, *g->member(member_id));
      return ErrorCode::none;
    default:
      return ErrorCode::unknown_member_id;
  }
}

GroupManager::LeaveResult GroupManager::leave(std::string_view group_id,
                                              const std::vector<LeavingMember>& members) {
  LeaveResult out;
  Group* g = find(group_id);
  if (!g) {
    out.members.assign(members.size(), ErrorCode::unknown_member_id);
    return out;
  }
  if (g->is(GroupState::dead)) {
    out.error = ErrorCode::coordinator_not_available;
    return out;
  }
  bool any_left = false;
  for (const auto& lm : members) {
    ErrorCode e = ErrorCode::none;
    if (lm.member_id.empty()) {
      // Removal by instance id alone (an administrator's request).
      const std::string* current =
          lm.group_instance_id ? g->static_member_id(*lm.group_instance_id) : nullptr;
      if (current) {
        const std::string id = *current;
        g->remove(id);
      } else {
        e = ErrorCode::unknown_member_id;
      }
    } else if (g->is_pending_member(lm.member_id)) {
      g->remove(lm.member_id);
    } else {
      e = g->validate_member(lm.member_id, lm.group_instance_id);
      if (e == ErrorCode::none) g->remove(lm.member_id);
    }
    if (e == ErrorCode::none) {
      log::info("group coordinator: member {} left group {}", lm.member_id, g->id());
    }
    any_left = any_left || e == ErrorCode::none;
    out.members.push_back(e);
  }
  if (any_left) {
    if (g->is(GroupState::stable) || g->is(GroupState::completing_rebalance)) {
      maybe_prepare_rebalance_or_complete_join(*g);
    } else if (g->is(GroupState::preparing_rebalance)) {
      maybe_complete_join_phase(*g);
    }
  }
  return out;
}

}  // namespace kaffa::coordinator
