// GroupManager: start-up replay and the queries other handlers and the shard use.
#include "base/log.h"
#include "coordinator/group_manager.h"
#include "coordinator/records.h"

namespace kaffa::coordinator {

using protocol::ErrorCode;

// --- Start-up ---

void GroupManager::replay(const std::string& group_id,
                          const std::optional<protocol::GroupMetadataValue>& v) {
  if (!v) {
    groups_.erase(group_id);
    return;
  }
  groups_.insert_or_assign(
      group_id, std::make_unique<Group>(Group::from_record(group_id, *v, now(), next_token())));
}

void GroupManager::on_loaded() {
  consumer_.on_loaded();
  for (auto& [id, g] : groups_) {
    for (auto& [mid, m] : g->members()) reschedule_heartbeat(*g, m);
    if (static_cast<int64_t>(g->size()) > config().group_max_size) {
      log::info("group coordinator: loaded group {} has {} members, over group.max.size {}", id,
                g->size(), config().group_max_size);
      prepare_rebalance(*g);
    }
  }
}

// --- Queries ---

protocol::DescribeGroupsResponse::DescribedGroup GroupManager::describe(
    std::string_view group_id) const {
  protocol::DescribeGroupsResponse::DescribedGroup d;
  d.group_id = std::string(group_id);
  const Group* g = group(group_id);
  if (!g) {
    d.group_state = std::string(state_name(GroupState::dead));
    return d;
  }
  const bool stable = g->is(GroupState::stable);
  d.group_state = std::string(state_name(g->state()));
  d.protocol_type = g->protocol_type().value_or("");
  if (stable) d.protocol_data = g->protocol_name().value_or("");
  for (const auto& [id, m] : g->members()) {
    auto& o = d.members.emplace_back();
    o.member_id = id;
    o.group_instance_id = m.group_instance_id;
    o.client_id = m.client_id;
    o.client_host = m.client_host;
    if (stable && g->protocol_name()) {
      if (const std::string* md = m.metadata(*g->protocol_name())) o.member_metadata = *md;
    }
    o.member_assignment = m.assignment;
  }
  return d;
}

std::vector<GroupManager::Listed> GroupManager::list() const {
  std::vector<Listed> out;
  out.reserve(groups_.size());
  for (const auto& [id, g] : groups_) {
    out.push_back({id, g->protocol_type().value_or(""), std::string(state_name(g->state())),
                   "classic", g->size()});
  }
  for (const ConsumerGroup* g : consumer_.groups()) {
    out.push_back(
        {g->id(), "consumer", std::string(state_name(g->state())), "consumer", g->size()});
  }
  return out;
}

bool GroupManager::has_group(std::string_view group_id) const {
  return group(group_id) != nullptr || consumer_.group(group_id) != nullptr;
}

ErrorCode GroupManager::validate_delete(std::string_view group_id) const {
  if (const ConsumerGroup* cg = consumer_.group(group_id)) {
    return cg->empty() ? ErrorCode::none : ErrorCode::non_empty_group;
  }
  const Group* g = group(group_id);
  if (!g || g->is(GroupState::dead)) return ErrorCode::group_id_not_found;
  if (!g->is(GroupState::empty)) return ErrorCode::non_empty_group;
  return ErrorCode::none;
}

CoordinatorShard::Record GroupManager::tombstone(const std::string& group_id) {
  return {records::group_metadata_key(group_id), std::nullopt};
}

std::vector<CoordinatorShard::Record> GroupManager::tombstones(const std::string& group_id) const {
  std::vector<CoordinatorShard::Record> out = consumer_.tombstones(group_id);
  out.push_back(tombstone(group_id));
  return out;
}

ErrorCode GroupManager::make_way(const std::string& group_id) {
  const ErrorCode e = env_.append(tombstones(group_id), [group_id](ErrorCode e) {
    if (e != ErrorCode::none) {
      log::warn("group coordinator: failed to delete empty group {}: error {}", group_id,
                protocol::code(e));
    }
  });
  if (e != ErrorCode::none) return group_write_error(e);
  remove_group(group_id);
  return ErrorCode::none;
}

void GroupManager::remove_group(std::string_view group_id) {
  consumer_.remove_group(group_id);
  auto it = groups_.find(group_id);
  if (it == groups_.end()) return;
  it->second->transition_to(GroupState::dead, now());
  groups_.erase(it);
}

ErrorCode GroupManager::validate_offset_commit(std::string_view group_id,
                                               std::string_view member_id,
                                               const std::optional<std::string>& group_instance_id,
                                               int32_t generation_id, int16_t api_version) const {
  if (const ConsumerGroup* cg = consumer_.group(group_id)) {
    return consumer_.validate_offset_commit(*cg, member_id, generation_id, false, api_version);
  }
  const Group* g = group(group_id);
  if (!g) {
    if (generation_id < 0) return ErrorCode::none;  // a simple (non-member) commit
    return api_version >= 9 ? ErrorCode::group_id_not_found : ErrorCode::illegal_generation;
  }
  if (g->is(GroupState::dead)) return ErrorCode::coordinator_not_available;
  if (generation_id < 0 && g->is(GroupState::empty)) return ErrorCode::none;
  if (generation_id >= 0 || !member_id.empty() || group_instance_id) {
    if (auto e = g->validate_member(member_id, group_instance_id); e != ErrorCode::none) return e;
    if (generation_id != g->generation()) return ErrorCode::illegal_generation;
  } else if (!g->is(GroupState::empty)) {
    return ErrorCode::unknown_member_id;
  }
  if (g->is(GroupState::completing_rebalance)) return ErrorCode::rebalance_in_progress;
  return ErrorCode::none;
}

ErrorCode GroupManager::validate_txn_offset_commit(
    std::string_view group_id, std::string_view member_id,
    const std::optional<std::string>& group_instance_id, int32_t generation_id) const {
  if (const ConsumerGroup* cg = consumer_.group(group_id)) {
    return consumer_.validate_offset_commit(*cg, member_id, generation_id, true, 0);
  }
  const bool member_commit = generation_id >= 0 || !member_id.empty() || group_instance_id;
  const Group* g = group(group_id);
  if (!g) return member_commit ? ErrorCode::unknown_member_id : ErrorCode::none;
  if (g->is(GroupState::dead)) return ErrorCode::coordinator_not_available;
  if (generation_id < 0 && g->is(GroupState::empty)) return ErrorCode::none;
  if (!member_commit) return ErrorCode::none;
  if (auto e = g->validate_member(member_id, group_instance_id); e != ErrorCode::none) return e;
  return generation_id == g->generation() ? ErrorCode::none : ErrorCode::illegal_generation;
}

bool GroupManager::is_subscribed(std::string_view group_id, std::string_view topic) const {
  if (const ConsumerGroup* cg = consumer_.group(group_id)) {
    const auto names = cg->subscribed_names();
    return names.find(topic) != names.end();
  }
  const Group* g = group(group_id);
  if (!g) return false;
  if (const auto& topics = g->subscribed_topics()) return topics->find(topic) != topics->end();
  return g->uses_consumer_protocol();
}

bool GroupManager::has_members(std::string_view group_id) const {
  if (const ConsumerGroup* cg = consumer_.group(group_id)) return !cg->empty();
  const Group* g = group(group_id);
  return g && g->size() > 0;
}

OffsetStore::ExpiryBase GroupManager::offset_expiry(std::string_view group_id) const {
  if (const ConsumerGroup* cg = consumer_.group(group_id)) return {cg->empty(), std::nullopt};
  const Group* g = group(group_id);
  if (!g) return {true, std::nullopt};
  if (!g->is(GroupState::empty)) return {false, std::nullopt};
  if (!g->protocol_type()) return {true, std::nullopt};
  return {true, g->state_timestamp_ms()};
}

void GroupManager::consumer_heartbeat(ConsumerGroupManager::HeartbeatRequest req,
                                      const ConsumerGroupManager::TopicLookup& lookup,
                                      ConsumerGroupManager::Done done) {
  if (const Group* g = group(req.group_id)) {
    if (g->size() > 0 || req.member_epoch != 0) {
      protocol::ConsumerGroupHeartbeatResponse r;
      r.error_code = protocol::code(ErrorCode::group_id_not_found);
      r.error_message = "Group " + req.group_id + " is not a consumer group.";
      return done(std::move(r));
    }
    // Its offsets stay; when its tombstones cannot be written, both groups stay as they are.
    if (const ErrorCode e = make_way(req.group_id); e != ErrorCode::none) {
      protocol::ConsumerGroupHeartbeatResponse r;
      r.error_code = protocol::code(e);
      return done(std::move(r));
    }
  }
  consumer_.heartbeat(std::move(req), lookup, std::move(done));
}

ErrorCode GroupManager::validate_offset_fetch(std::string_view group_id,
                                              const std::optional<std::string>& member_id,
                                              int32_t member_epoch) const {
  const ConsumerGroup* cg = consumer_.group(group_id);
  return cg ? consumer_.validate_offset_fetch(*cg, member_id, member_epoch) : ErrorCode::none;
}

ErrorCode GroupManager::check_join(const GroupConfig& config, std::string_view group_id,
                                   int32_t session_timeout_ms) {
  if (group_id.empty()) return ErrorCode::invalid_group_id;
  if (session_timeout_ms < config.group_min_session_timeout_ms ||
      session_timeout_ms > config.group_max_session_timeout_ms) {
    return ErrorCode::invalid_session_timeout;
  }
  return ErrorCode::none;
}

}  // namespace kaffa::coordinator
