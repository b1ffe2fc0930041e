// GroupManager: the JoinGroup paths (Kafka's classicGroupJoin and the functions it calls).
#include <cstdio>
#include <random>
#include <utility>

#include "base/log.h"
#include "coordinator/group_manager.h"

namespace kaffa::coordinator {

using protocol::ErrorCode;
using protocol::JoinGroupResponse;

namespace {

// A random (version 4) UUID in Java's UUID.toString() form.
std::string random_uuid() {
  thread_local std::mt19937_64 rng{std::random_device{}()};
  uint64_t hi = rng();
  uint64_t lo = rng();
  hi = (hi & ~0xF000ULL) | 0x4000ULL;
  lo = (lo & ~(0xC0ULL << 56)) | (0x80ULL << 56);
  char buf[37];
  std::snprintf(buf, sizeof(buf), "%08x-%04x-%04x-%04x-%012llx", static_cast<unsigned>(hi >> 32),
                static_cast<unsigned>((hi >> 16) & 0xFFFF), static_cast<unsigned>(hi & 0xFFFF),
                static_cast<unsigned>(lo >> 48),
                static_cast<unsigned long long>(lo & 0xFFFFFFFFFFFFULL));
  return buf;
}

JoinGroupResponse join_error(std::string member_id, ErrorCode e) {
  JoinGroupResponse r;
  r.member_id = std::move(member_id);
  r.error_code = protocol::code(e);
  return r;
}

}  // namespace

void GroupManager::join(JoinRequest req, JoinCallback done) {
  if (const ConsumerGroup* cg = consumer_.group(req.group_id)) {
    // A group of the consumer protocol: members of the classic protocol cannot join it while it
    // has members (Kafka converts such groups; Kaffa does not); an empty one makes way.
    if (!cg->empty()) {
      return done(join_error(req.member_id, ErrorCode::inconsistent_group_protocol));
    }
    // When its tombstones cannot be written, both groups stay as they are.
    if (const ErrorCode e = make_way(req.group_id); e != ErrorCode::none) {
      return done(join_error(req.member_id, e));
    }
  }
  const bool unknown_member = req.member_id.empty();
  Group* g = find(req.group_id);
  const bool new_group = g == nullptr;
  if (new_group) {
    // Only a new member creates a group; a known member id for an absent group is stale.
    if (!unknown_member) return done(join_error(req.member_id, ErrorCode::unknown_member_id));
    auto created = std::make_unique<Group>(req.group_id, GroupState::empty, now(), next_token());
    g = created.get();
    groups_.emplace(req.group_id, std::move(created));
  }
  if (!accept_joining_member(*g, req.member_id)) {
    g->remove(req.member_id);
    done(join_error("", ErrorCode::group_max_size_reached));
  } else if (unknown_member) {
    join_new_member(*g, req, done);
  } else {
    join_existing_member(*g, req, done);
  }
  if (new_group) {
    // As Kafka: a group created by a join is recorded right away, as an empty generation 0.
    protocol::GroupMetadataValue v;
    v.protocol_type = g->protocol_type().value_or("");
    v.generation = 0;
    v.protocol = std::nullopt;
    v.leader = std::nullopt;
    v.current_state_timestamp = g->state_timestamp_ms();
    write_value(g->id(), v, {});
  }
}

bool GroupManager::accept_joining_member(const Group& g, std::string_view member_id) const {
  const auto max = static_cast<size_t>(std::max(config().group_max_size, 0));
  switch (g.state()) {
    case GroupState::empty:
    case GroupState::dead:
      return true;
    case GroupState::preparing_rebalance: {
      // Counting parked members lets the last rejoiners be refused if the limit was lowered.
      const GroupMember* m = g.member(member_id);
      return (m && m->is_awaiting_join()) || g.num_awaiting_join() < max;
    }
    case GroupState::completing_rebalance:
    case GroupState::stable:
      return g.has_member(member_id) || g.size() < max;
  }
  return false;
}

void GroupManager::join_new_member(Group& g, JoinRequest& req, JoinCallback& done) {
  if (g.is(GroupState::dead)) return done(join_error("", ErrorCode::coordinator_not_available));
  if (!g.supports_protocols(req.protocol_type, req.protocols)) {
    return done(join_error("", ErrorCode::inconsistent_group_protocol));
  }
  const std::string new_id =
      (req.group_instance_id ? *req.group_instance_id : req.client_id) + "-" + random_uuid();
  if (req.group_instance_id) {
    if (const std::string* existing = g.static_member_id(*req.group_instance_id)) {
      const std::string old_id = *existing;
      log::info("group coordinator: static member {} of group {} rejoins; {} replaces {}",
                *req.group_instance_id, g.id(), new_id, old_id);
      return replace_static_member_then_rebalance(g, req, old_id, new_id, std::move(done));
    }
    return add_member_then_rebalance(g, req, new_id, std::move(done));
  }
  if (req.api_version >= 4) {
    // KIP-394: hand out the id first; the member is only added when it joins with it, so a
    // client that never comes back leaves no member behind (its pending id expires).
    const uint64_t token = next_token();
    g.add_pending_member(new_id, token);
    env_.schedule(req.session_timeout_ms,
                  [this, id = g.id(), new_id, token] { expire_heartbeat(id, new_id, token); });
    return done(join_error(new_id, ErrorCode::member_id_required));
  }
  add_member_then_rebalance(g, req, new_id, std::move(done));
}

void GroupManager::join_existing_member(Group& g, JoinRequest& req, JoinCallback& done) {
  const std::string& member_id = req.member_id;
  if (g.is(GroupState::dead)) {
    return done(join_error(member_id, ErrorCode::coordinator_not_available));
  }
  if (!g.supports_protocols(req.protocol_type, req.protocols)) {
    return done(join_error(member_id, ErrorCode::inconsistent_group_protocol));
  }
  if (g.is_pending_member(member_id)) {
    // Pending ids are only given to dynamic members (Kafka treats this as a broken client).
    if (req.group_instance_id) return done(join_error(member_id, ErrorCode::unknown_server_error));
    return add_member_then_rebalance(g, req, member_id, std::move(done));
  }
  if (auto e = g.validate_member(member_id, req.group_instance_id); e != ErrorCode::none) {
    JoinGroupResponse r = join_error(member_id, e);
    r.protocol_type = std::nullopt;
    r.protocol_name = std::nullopt;
    return done(std::move(r));
  }
  GroupMember& m = *g.member(member_id);
  auto update_and_rebalance = [&] {
    g.update_member(m, std::move(req.protocols), req.rebalance_timeout_ms, req.session_timeout_ms,
                    std::move(done));
    maybe_prepare_rebalance_or_complete_join(g);
  };
  switch (g.state()) {
    case GroupState::preparing_rebalance:
      return update_and_rebalance();
    case GroupState::completing_rebalance:
      // Same metadata: the member missed its JoinGroup answer; give it again.
      if (m.protocols == req.protocols) return done(g.join_response_for(m, g.is_leader(member_id)));
      return update_and_rebalance();
    case GroupState::stable:
      // The leader's rejoin forces a rebalance (e.g. topic metadata changed); a follower's only
      // when its metadata changed.
      if (g.is_leader(member_id) || m.protocols != req.protocols) return update_and_rebalance();
      return done(g.join_response_for(m, false));
    default:
      log::warn("group coordinator: member {} rejoins group {} in state {}", member_id, g.id(),
                state_name(g.state()));
      return done(join_error(member_id, ErrorCode::unknown_member_id));
  }
}

void GroupManager::add_member_then_rebalance(Group& g, JoinRequest& req,
                                             const std::string& member_id, JoinCallback done) {
  GroupMember m;
  m.member_id = member_id;
  m.group_instance_id = req.group_instance_id;
  m.client_id = req.client_id;
  m.client_host = req.client_host;
  m.rebalance_timeout_ms = req.rebalance_timeout_ms;
  m.session_timeout_ms = req.session_timeout_ms;
  m.protocol_type = req.protocol_type;
  m.protocols = std::move(req.protocols);
  m.is_new = true;
  if (g.is(GroupState::preparing_rebalance) && g.previous_state() == GroupState::empty) {
    g.new_member_added = true;  // extends the initial rebalance delay
  }
  g.add(std::move(m), std::move(done));
  // A parked new member cannot heartbeat; if it vanished it must not stall the group forever.
  reschedule_heartbeat(g, *g.member(member_id), kNewMemberJoinTimeoutMs);
  maybe_prepare_rebalance_or_complete_join(g);
}

void GroupManager::replace_static_member_then_rebalance(Group& g, JoinRequest& req,
                                                        const std::string& old_id,
                                                        const std::string& new_id,
                                                        JoinCallback done) {
  const std::optional<std::string> old_leader = g.leader();
  const std::string instance_id = *req.group_instance_id;
  GroupMember& m = g.replace_static_member(instance_id, old_id, new_id);
  reschedule_heartbeat(g, m);
  std::vector<MemberProtocol> old_protocols = m.protocols;
  const int32_t old_rebalance = m.rebalance_timeout_ms;
  const int32_t old_session = m.session_timeout_ms;
  g.update_member(m, std::move(req.protocols), req.rebalance_timeout_ms, req.session_timeout_ms,
                  std::move(done));

  if (g.is(GroupState::completing_rebalance)) {
    // The leader may be assigning to the old id: start over.
    return prepare_rebalance(g);
  }
  if (!g.is(GroupState::stable)) return maybe_complete_join_phase(g);
  if (g.protocol_name().value_or("") != g.select_protocol()) {
    return maybe_prepare_rebalance_or_complete_join(g);
  }
  // Stable and the protocol choice holds: no rebalance, just record the new member id.
  const int16_t version = req.api_version;
  persist(g, nullptr,
          [this, id = g.id(), inc = g.incarnation(), instance_id, old_id, new_id,
           old_protocols = std::move(old_protocols), old_rebalance, old_session, old_leader,
           version](ErrorCode e) mutable {
            Group* g = find(id);
            if (!g || g->incarnation() != inc) return;
            GroupMember* m = g->member(new_id);
            if (!m || !m->awaiting_join) return;
            if (e != ErrorCode::none) {
              // Undo: the old member id stays the valid one.
              JoinCallback cb = std::move(m->awaiting_join);
              m->awaiting_join = nullptr;
              g->update_member(*m, std::move(old_protocols), old_rebalance, old_session, nullptr);
              GroupMember& restored = g->replace_static_member(instance_id, new_id, old_id);
              reschedule_heartbeat(*g, restored);
              JoinGroupResponse r = g->join_response_for(restored, false);
              r.member_id.clear();
              r.leader = old_leader.value_or("");
              r.error_code = protocol::code(group_write_error(e));
              return cb(std::move(r));
            }
            if (version >= 9) {
              // The leader may keep its assignment without running the assignor again.
              const bool leader = g->is_leader(new_id);
              JoinGroupResponse r = g->join_response_for(*m, leader);
              r.skip_assignment = leader;
              g->complete_join(*m, std::move(r));
            } else {
              // Older clients would reassign if told they lead: name the old leader id.
              JoinGroupResponse r = g->join_response_for(*m, false);
              r.leader = old_leader.value_or("");
              g->complete_join(*m, std::move(r));
            }
          });
}

}  // namespace kaffa::coordinator
