// ConsumerGroupManager: ConsumerGroupHeartbeat, timers and the consumer groups' views.
#include "coordinator/consumer_group_manager.h"

#include <re2/re2.h>

#include <algorithm>
#include <utility>

#include "base/log.h"
#include "coordinator/assignor.h"
#include "coordinator/group_manager.h"

namespace kaffa::coordinator {

using protocol::ErrorCode;
using protocol::Uuid;
using Response = protocol::ConsumerGroupHeartbeatResponse;

namespace {

Response error_response(ErrorCode e, std::string message = {}) {
  Response r;
  r.error_code = protocol::code(e);
  if (!message.empty()) r.error_message = std::move(message);
  return r;
}

// Whether every partition the member reports owning is in `assigned` (a lost answer's retry).
bool owned_subset(const OwnedPartitions& owned, const TopicAssignment& assigned) {
  if (!owned) return false;
  for (const auto& [topic, ps] : *owned) {
    auto it = assigned.find(topic);
    for (int32_t p : ps) {
      if (it == assigned.end() || !it->second.count(p)) return false;
    }
  }
  return true;
}

}  // namespace

ConsumerGroupManager::ConsumerGroupManager(GroupEnv& env) : env_(env) {}
ConsumerGroupManager::~ConsumerGroupManager() = default;

ConsumerGroup* ConsumerGroupManager::find(std::string_view id) {
  auto it = groups_.find(id);
  return it == groups_.end() ? nullptr : it->second.get();
}

const ConsumerGroup* ConsumerGroupManager::group(std::string_view id) const {
  auto it = groups_.find(id);
  return it == groups_.end() ? nullptr : it->second.get();
}

void ConsumerGroupManager::remove_group(std::string_view id) {
  auto it = groups_.find(id);
  if (it != groups_.end()) groups_.erase(it);
}

ConsumerGroup& ConsumerGroupManager::find_or_create(const std::string& id) {
  auto& slot = groups_[id];
  if (!slot) slot = std::make_unique<ConsumerGroup>(id);
  return *slot;
}

std::vector<CoordinatorShard::Record> ConsumerGroupManager::tombstones(std::string_view id) const {
  Records out;
  const ConsumerGroup* g = group(id);
  if (!g) return out;
  // Kafka's order: current assignments, targets, members, then the group's own records.
  for (const auto& [member, _] : g->members()) {
    out.push_back(consumer_records::current_assignment_tombstone(id, member));
  }
  for (const auto& [member, _] : g->members()) {
    out.push_back(consumer_records::target_member_tombstone(id, member));
  }
  for (const auto& [member, _] : g->members()) {
    out.push_back(consumer_records::member_metadata_tombstone(id, member));
  }
  out.push_back(consumer_records::target_epoch_tombstone(id));
  out.push_back(consumer_records::subscription_metadata_tombstone(id));
  out.push_back(consumer_records::group_epoch_tombstone(id));
  return out;
}

ErrorCode ConsumerGroupManager::write(Records records, std::function<void(ErrorCode)> done) {
  const uint64_t seq = ++writes_issued_;
  const ErrorCode refused =
      env_.append(std::move(records), [this, seq, done = std::move(done)](ErrorCode e) {
        writes_done_ = seq;
        done(e);
        while (!waiting_.empty() && waiting_.front().first <= writes_done_) {
          auto fn = std::move(waiting_.front().second);
          waiting_.pop_front();
          fn();
        }
      });
  if (refused != ErrorCode::none) --writes_issued_;  // nothing to wait for
  return refused;
}

void ConsumerGroupManager::after_writes(std::function<void()> fn) {
  if (writes_done_ == writes_issued_) return fn();
  waiting_.emplace_back(writes_issued_, std::move(fn));
}

std::vector<const ConsumerGroup*> ConsumerGroupManager::groups() const {
  std::vector<const ConsumerGroup*> out;
  for (const auto& [_, g] : groups_) out.push_back(g.get());
  return out;
}

ErrorCode ConsumerGroupManager::check(const HeartbeatRequest& req, std::string& message) const {
  auto invalid = [&](std::string why) {
    message = std::move(why);
    return ErrorCode::invalid_request;
  };
  if (req.group_id.empty()) return invalid("GroupId can't be empty.");
  if (req.instance_id && req.instance_id->empty()) return invalid("InstanceId can't be empty.");
  if (req.rack_id && req.rack_id->empty()) return invalid("RackId can't be empty.");
  // From v1 the client names itself (KIP-1082), also when it joins.
  if (req.api_version >= 1 && req.member_id.empty()) return invalid("MemberId can't be empty.");
  if (req.member_epoch > 0 || req.member_epoch == kLeaveEpoch) {
    if (req.member_id.empty()) return invalid("MemberId can't be empty.");
  } else if (req.member_epoch == 0) {
    if (req.rebalance_timeout_ms == -1) {
      return invalid("RebalanceTimeoutMs must be provided in first request.");
    }
    if (!req.owned || !req.owned->empty()) {
      return invalid("TopicPartitions must be empty when (re-)joining.");
    }
    const bool names = req.subscribed_topic_names && !req.subscribed_topic_names->empty();
    const bool regex = req.subscribed_topic_regex && !req.subscribed_topic_regex->empty();
    if (!names && !regex) {
      return invalid(req.api_version >= 1
                         ? "Either SubscribedTopicNames or SubscribedTopicRegex must be non-empty "
                           "in first request."
                         : "SubscribedTopicNames must be set in first request.");
    }
  } else if (req.member_epoch == kStaticLeaveEpoch) {
    if (req.member_id.empty()) return invalid("MemberId can't be empty.");
    if (!req.instance_id) return invalid("InstanceId can't be null.");
  } else {
    return invalid("MemberEpoch is invalid.");
  }
  if (req.subscribed_topic_regex && !req.subscribed_topic_regex->empty()) {
    const re2::RE2 re(*req.subscribed_topic_regex, re2::RE2::Quiet);
    if (!re.ok()) {
      message = "SubscribedTopicRegex `" + *req.subscribed_topic_regex +
                "` is not a valid regular expression: " + re.error() + ".";
      return ErrorCode::invalid_regular_expression;
    }
  }
  const auto& offered = env_.config().consumer_assignors;
  if (req.server_assignor &&
      std::find(offered.begin(), offered.end(), *req.server_assignor) == offered.end()) {
    std::string names;
    for (const auto& n : offered) names += (names.empty() ? "" : ", ") + n;
    message = "ServerAssignor " + *req.server_assignor +
              " is not supported. Supported assignors: " + names + ".";
    return ErrorCode::unsupported_assignor;
  }
  return ErrorCode::none;
}

ErrorCode ConsumerGroupManager::member_for(ConsumerGroup& g, HeartbeatRequest& req,
                                           ConsumerMember& out, std::string& message,
                                           Records& records) {
  const bool joining = req.member_epoch == 0;
  if (joining && req.instance_id) {
    // A static member (re)joining: it takes over the place its instance id holds, which must have
    // been left with epoch -2.
    if (const std::string* old_id = g.static_member(*req.instance_id)) {
      const ConsumerMember& old = *g.member(*old_id);
      if (old.member_epoch != kStaticLeaveEpoch) {
        message = "Static member " + *req.instance_id + " with epoch " +
                  std::to_string(old.member_epoch) + " is still in the group.";
        return ErrorCode::unreleased_instance_id;
      }
      out = old;
      out.member_id = req.member_id.empty() ? Uuid::random().to_base64() : req.member_id;
      out.member_epoch = g.assignment_epoch();  // it keeps the assignment of its instance
      out.previous_member_epoch = kStaticLeaveEpoch;
      out.session_token = out.rebalance_token = 0;
      const std::string old_key = *old_id;
      const auto target = g.target(old_key);
      g.remove_member(old_key);
      g.set_target(out.member_id, target);
      records.push_back(consumer_records::current_assignment_tombstone(g.id(), old_key));
      records.push_back(consumer_records::target_member_tombstone(g.id(), old_key));
      records.push_back(consumer_records::member_metadata_tombstone(g.id(), old_key));
      records.push_back(consumer_records::target_member(g.id(), out.member_id, target));
      return ErrorCode::none;
    }
  }
  if (req.member_id.empty()) req.member_id = Uuid::random().to_base64();
  const ConsumerMember* m = g.member(req.member_id);
  if (!m) {
    if (!joining) {
      message = "Member " + req.member_id + " is not a member of group " + g.id() + ".";
      return ErrorCode::unknown_member_id;
    }
    if (g.size() >= static_cast<size_t>(env_.config().consumer_max_size)) {
      message = "The consumer group has reached its maximum capacity of " +
                std::to_string(env_.config().consumer_max_size) + " members.";
      return ErrorCode::group_max_size_reached;
    }
    out = ConsumerMember{};
    out.member_id = req.member_id;
    return ErrorCode::none;
  }
  if (req.instance_id && m->instance_id && *m->instance_id != *req.instance_id) {
    message = "Member " + req.member_id + " has another instance id.";
    return ErrorCode::fenced_instance_id;
  }
  out = *m;
  if (joining) {
    // Rejoining under its old id after losing its place: it owns nothing now.
    out.member_epoch = 0;
    out.previous_member_epoch = -1;
    out.state = MemberState::stable;
    out.assigned.clear();
    out.pending_revocation.clear();
    return ErrorCode::none;
  }
  if (req.member_epoch > m->member_epoch ||
      (req.member_epoch < m->member_epoch &&
       (req.member_epoch != m->previous_member_epoch || !owned_subset(req.owned, m->assigned)))) {
    message = "The consumer group member has epoch " + std::to_string(req.member_epoch) +
              " where the group coordinator knows " + std::to_string(m->member_epoch) +
              ". The member must abandon all its partitions and rejoin.";
    return ErrorCode::fenced_member_epoch;
  }
  return ErrorCode::none;
}

bool ConsumerGroupManager::refresh_metadata(ConsumerGroup& g, const TopicLookup& lookup) {
  // What the members' regexes match now. The names version is read once per heartbeat, only when
  // some member has a regex; the names are read, and a member's regex compiled and matched again,
  // only when the version moved or the regex changed since its matches were computed.
  std::optional<uint64_t> version;
  std::optional<std::vector<std::string>> all;
  std::vector<ConsumerMember> changed;
  for (const auto& [_, m] : g.members()) {
    if (!m.subscribed_topic_regex || m.subscribed_topic_regex->empty()) {
      if (!m.regex_topics.empty() || m.resolved_regex) {
        changed.push_back(m);
        changed.back().regex_topics.clear();
        changed.back().resolved_regex.reset();
      }
      continue;
    }
    if (!version) version = lookup.names_version();
    if (*version == g.regex_version() && m.resolved_regex == m.subscribed_topic_regex) continue;
    if (!all) all = lookup.names();
    const re2::RE2 re(*m.subscribed_topic_regex, re2::RE2::Quiet);
    ConsumerMember c = m;
    c.regex_topics.clear();
    for (const auto& name : *all) {
      if (re.ok() && re2::RE2::FullMatch(name, re)) c.regex_topics.push_back(name);
    }
    c.resolved_regex = m.subscribed_topic_regex;
    changed.push_back(std::move(c));
  }
  if (version) g.set_regex_version(*version);
  for (auto& m : changed) g.put_member(std::move(m));
  std::map<std::string, TopicMeta, std::less<>> now;
  for (const auto& [name, _] : g.subscribed_names()) {
    if (auto t = lookup.find(name)) now.emplace(name, std::move(*t));
  }
  if (now == g.subscription_metadata()) return false;
  g.set_subscription_metadata(std::move(now));
  return true;
}

void ConsumerGroupManager::update_target(ConsumerGroup& g, Records& records) {
  AssignmentInput in;
  for (const auto& [id, m] : g.members()) in.subscriptions[id] = m.subscriptions();
  in.topics = &g.subscription_metadata();
  in.previous = &g.targets();
  const std::string name = g.preferred_assignor(env_.config().consumer_assignors.front());
  auto out = assign(name, in);
  if (!out) out = assign("uniform", in);
  for (const auto& [member, a] : *out) {
    auto before = g.targets().find(member);
    if (before == g.targets().end() || before->second != a) {
      records.push_back(consumer_records::target_member(g.id(), member, a));
    }
  }
  records.push_back(consumer_records::target_epoch(g.id(), g.group_epoch()));
  g.set_targets(g.group_epoch(), std::move(*out));
  log::info("group coordinator: consumer group {} has a new target assignment at epoch {} ({})",
            g.id(), g.group_epoch(), name);
}

void ConsumerGroupManager::heartbeat(HeartbeatRequest req, const TopicLookup& lookup, Done done) {
  // A heartbeat whose records the offsets partition refuses (not its leader, too few in-sync
  // replicas, a batch over max.message.bytes, a storage failure) is undone and answered with the
  // error, as Kafka's runtime reverts a failed write: the group puts back what it changed, a
  // group the heartbeat created goes. One that changes nothing is answered as usual.
  ConsumerGroup* existing = find(req.group_id);
  if (existing) existing->track_changes();
  Records records;
  Response r = apply(req, lookup, records);
  if (records.empty()) {
    if (existing) existing->keep_changes();
    return after_writes(
        [r = std::move(r), done = std::move(done)]() mutable { done(std::move(r)); });
  }
  const ErrorCode refused =
      write(std::move(records), [r = std::move(r), done](ErrorCode e) mutable {
        if (e != ErrorCode::none) return done(error_response(group_write_error(e)));
        done(std::move(r));
      });
  if (refused == ErrorCode::none) {
    if (existing) existing->keep_changes();
    return;
  }
  if (existing) {
    existing->undo_changes();
  } else {
    remove_group(req.group_id);
  }
  done(error_response(group_write_error(refused)));
}

Response ConsumerGroupManager::apply(HeartbeatRequest& req, const TopicLookup& lookup,
                                     Records& records) {
  ConsumerGroup* g = find(req.group_id);
  const bool new_group = g == nullptr;
  if (!g) {
    if (req.member_epoch != 0) {
      return error_response(ErrorCode::group_id_not_found,
                            "Consumer group " + req.group_id + " not found.");
    }
    g = &find_or_create(req.group_id);
  }
  if (req.member_epoch == kLeaveEpoch || req.member_epoch == kStaticLeaveEpoch) {
    return leave(*g, req, records);
  }
  ConsumerMember before;
  std::string message;
  if (ErrorCode e = member_for(*g, req, before, message, records); e != ErrorCode::none) {
    if (new_group) remove_group(req.group_id);
    return error_response(e, std::move(message));
  }
  const ConsumerMember* known = g->member(before.member_id);
  const bool is_new = known == nullptr;
  ConsumerMember m = before;
  if (req.instance_id) m.instance_id = req.instance_id;
  if (req.rack_id) m.rack_id = req.rack_id;
  if (req.rebalance_timeout_ms != -1) m.rebalance_timeout_ms = req.rebalance_timeout_ms;
  if (req.server_assignor) m.server_assignor = req.server_assignor;
  if (req.subscribed_topic_names) {
    auto names = *req.subscribed_topic_names;
    std::sort(names.begin(), names.end());
    names.erase(std::unique(names.begin(), names.end()), names.end());
    m.subscribed_topic_names = std::move(names);
  }
  if (req.subscribed_topic_regex) {
    m.subscribed_topic_regex = req.subscribed_topic_regex->empty()
                                   ? std::nullopt
                                   : std::optional<std::string>(*req.subscribed_topic_regex);
  }
  m.client_id = req.client_id;
  m.client_host = req.client_host;
  if (is_new || m.instance_id != before.instance_id || m.rack_id != before.rack_id ||
      m.rebalance_timeout_ms != before.rebalance_timeout_ms ||
      m.server_assignor != before.server_assignor || m.client_id != before.client_id ||
      m.client_host != before.client_host ||
      m.subscribed_topic_names != before.subscribed_topic_names ||
      m.subscribed_topic_regex != before.subscribed_topic_regex) {
    records.push_back(consumer_records::member_metadata(g->id(), m));
  }
  bool bump = is_new || m.subscribed_topic_names != before.subscribed_topic_names ||
              m.subscribed_topic_regex != before.subscribed_topic_regex ||
              m.server_assignor != before.server_assignor;
  g->put_member(m);
  if (refresh_metadata(*g, lookup)) {
    bump = true;
    records.push_back(consumer_records::subscription_metadata(g->id(), g->subscription_metadata()));
  }
  m = *g->member(m.member_id);  // with what its regex matches now
  if (bump) {
    g->set_group_epoch(g->group_epoch() + 1);
    records.push_back(consumer_records::group_epoch(g->id(), g->group_epoch()));
    log::info("group coordinator: consumer group {} bumped its epoch to {}", g->id(),
              g->group_epoch());
  }
  if (g->group_epoch() > g->assignment_epoch()) update_target(*g, records);

  ConsumerMember after = reconcile(
      m, g->assignment_epoch(), g->target(m.member_id),
      [g](const Uuid& t, int32_t p) { return g->partition_epoch(t, p); }, req.owned);
  if (is_new || after.member_epoch != before.member_epoch ||
      after.previous_member_epoch != before.previous_member_epoch || after.state != before.state ||
      after.assigned != before.assigned || after.pending_revocation != before.pending_revocation) {
    records.push_back(consumer_records::current_assignment(g->id(), after));
  }
  if (after.state == MemberState::unrevoked_partitions) {
    if (before.state != MemberState::unrevoked_partitions ||
        after.member_epoch != before.member_epoch || after.rebalance_token == 0) {
      arm_revocation(*g, after);
    }
  } else {
    after.rebalance_token = 0;
  }
  arm_session(*g, after);
  g->put_member(after);

  Response r;
  r.member_id = after.member_id;
  r.member_epoch = after.member_epoch;
  r.heartbeat_interval_ms = env_.config().heartbeat_interval_ms(g->id());
  const bool full = req.member_epoch == 0 ||
                    (req.rebalance_timeout_ms != -1 &&
                     (req.subscribed_topic_names || req.subscribed_topic_regex) && req.owned);
  if (full || after.assigned != before.assigned) {
    r.assignment.emplace(Response::Assignment{});
    r.assignment->topic_partitions = assignment_to_wire<Response::TopicPartitions>(after.assigned);
  }
  return r;
}

Response ConsumerGroupManager::leave(ConsumerGroup& g, const HeartbeatRequest& req,
                                     Records& records) {
  const ConsumerMember* m = g.member(req.member_id);
  if (!m && req.instance_id) {
    if (const std::string* id = g.static_member(*req.instance_id)) m = g.member(*id);
  }
  if (!m) {
    return error_response(ErrorCode::unknown_member_id,
                          "Member " + req.member_id + " is not a member of group " + g.id() + ".");
  }
  if (req.instance_id && m->instance_id && m->member_id != req.member_id) {
    return error_response(ErrorCode::fenced_instance_id,
                          "Static member " + *req.instance_id + " has another member id.");
  }
  Response r;
  r.member_id = m->member_id;
  r.member_epoch = req.member_epoch;
  if (req.member_epoch == kStaticLeaveEpoch) {
    // The static member keeps its place and partitions until its session ends.
    ConsumerMember kept = *m;
    kept.previous_member_epoch = kept.member_epoch;
    kept.member_epoch = kStaticLeaveEpoch;
    kept.rebalance_token = 0;
    records.push_back(consumer_records::current_assignment(g.id(), kept));
    g.put_member(std::move(kept));
    return r;
  }
  log::info("group coordinator: member {} left consumer group {}", m->member_id, g.id());
  remove_member(g, std::string(m->member_id), records);
  return r;
}

void ConsumerGroupManager::remove_member(ConsumerGroup& g, const std::string& member_id,
                                         Records& records) {
  records.push_back(consumer_records::current_assignment_tombstone(g.id(), member_id));
  records.push_back(consumer_records::target_member_tombstone(g.id(), member_id));
  records.push_back(consumer_records::member_metadata_tombstone(g.id(), member_id));
  g.remove_member(member_id);
  g.set_group_epoch(g.group_epoch() + 1);
  records.push_back(consumer_records::group_epoch(g.id(), g.group_epoch()));
}

bool ConsumerGroupManager::fence(ConsumerGroup& g, const std::string& member_id,
                                 std::string_view why) {
  g.track_changes();
  Records records;
  remove_member(g, member_id, records);
  const ErrorCode refused = write(std::move(records), [group = g.id(), member_id](ErrorCode e) {
    if (e != ErrorCode::none) {
      log::warn("group coordinator: failed to record the removal of member {} of {}: error {}",
                member_id, group, protocol::code(e));
    }
  });
  if (refused != ErrorCode::none) {
    g.undo_changes();
    return false;
  }
  g.keep_changes();
  log::info("group coordinator: member {} of consumer group {} is removed: {}", member_id, g.id(),
            why);
  return true;
}

void ConsumerGroupManager::arm_session(ConsumerGroup& g, ConsumerMember& m) {
  m.session_token = next_token();
  env_.schedule(env_.config().session_timeout_ms(g.id()),
                [this, id = g.id(), member = m.member_id, token = m.session_token] {
                  expire(id, member, token, Expiry::session);
                });
}

void ConsumerGroupManager::arm_revocation(ConsumerGroup& g, ConsumerMember& m) {
  m.rebalance_token = next_token();
  env_.schedule(std::max(m.rebalance_timeout_ms, 0),
                [this, id = g.id(), member = m.member_id, token = m.rebalance_token] {
                  expire(id, member, token, Expiry::revocation);
                });
}

void ConsumerGroupManager::expire(const std::string& id, const std::string& member, uint64_t token,
                                  Expiry why) {
  ConsumerGroup* cg = find(id);
  const ConsumerMember* cm = cg ? cg->member(member) : nullptr;
  if (!cm) return;
  if (why == Expiry::session && cm->session_token != token) return;
  if (why == Expiry::revocation &&
      (cm->rebalance_token != token || cm->state != MemberState::unrevoked_partitions)) {
    return;
  }
  // A removal the offsets partition refuses (checked first while it refuses every write) is
  // tried again later, as Kafka retries a timer whose write failed; the member stays meanwhile.
  if (env_.write_refusal() != ErrorCode::none ||
      !fence(*cg, member,
             why == Expiry::session
                 ? "its session timed out"
                 : "it did not revoke its partitions within its rebalance timeout")) {
    env_.schedule(kExpiryRetryMs,
                  [this, id, member, token, why] { expire(id, member, token, why); });
  }
}

void ConsumerGroupManager::replay(const consumer_records::Decoded& d) {
  using Kind = consumer_records::Decoded::Kind;
  ConsumerGroup* g = find(d.group_id);
  if (d.tombstone) {
    if (!g) return;
    switch (d.kind) {
      case Kind::group_epoch:
        remove_group(d.group_id);
        break;
      case Kind::member_metadata:
        g->remove_member(d.member_id);
        break;
      case Kind::target_member:
        g->erase_target(d.member_id);
        break;
      case Kind::current_assignment:
        if (const ConsumerMember* m = g->member(d.member_id)) {
          ConsumerMember cleared = *m;
          cleared.member_epoch = cleared.previous_member_epoch = kLeaveEpoch;
          cleared.state = MemberState::stable;
          cleared.assigned.clear();
          cleared.pending_revocation.clear();
          g->put_member(std::move(cleared));
        }
        break;
      case Kind::subscription_metadata:
        g->set_subscription_metadata({});
        break;
      case Kind::target_epoch:
        break;
    }
    return;
  }
  ConsumerGroup& group = g ? *g : find_or_create(d.group_id);
  auto member = [&]() {
    const ConsumerMember* m = group.member(d.member_id);
    ConsumerMember out = m ? *m : ConsumerMember{};
    out.member_id = d.member_id;
    return out;
  };
  switch (d.kind) {
    case Kind::group_epoch:
      group.set_group_epoch(d.epoch);
      break;
    case Kind::target_epoch:
      group.set_assignment_epoch(d.epoch);
      break;
    case Kind::target_member:
      group.set_target(d.member_id, d.target);
      break;
    case Kind::subscription_metadata:
      group.set_subscription_metadata(d.topics);
      break;
    case Kind::member_metadata: {
      ConsumerMember m = member();
      m.instance_id = d.member.instance_id;
      m.rack_id = d.member.rack_id;
      m.client_id = d.member.client_id;
      m.client_host = d.member.client_host;
      m.subscribed_topic_names = d.member.subscribed_topic_names;
      m.subscribed_topic_regex = d.member.subscribed_topic_regex;
      m.rebalance_timeout_ms = d.member.rebalance_timeout_ms;
      m.server_assignor = d.member.server_assignor;
      group.put_member(std::move(m));
      break;
    }
    case Kind::current_assignment: {
      ConsumerMember m = member();
      m.member_epoch = d.member.member_epoch;
      m.previous_member_epoch = d.member.previous_member_epoch;
      m.state = d.member.state;
      m.assigned = d.member.assigned;
      m.pending_revocation = d.member.pending_revocation;
      group.put_member(std::move(m));
      break;
    }
  }
}

void ConsumerGroupManager::on_loaded() {
  for (auto& [id, g] : groups_) {
    std::vector<ConsumerMember> members;
    for (const auto& [_, m] : g->members()) members.push_back(m);
    for (auto& m : members) {
      arm_session(*g, m);
      if (m.state == MemberState::unrevoked_partitions) arm_revocation(*g, m);
      g->put_member(std::move(m));
    }
  }
}

protocol::ConsumerGroupDescribeResponse::DescribedGroup ConsumerGroupManager::describe(
    std::string_view id, const TopicName& name_of) const {
  using Described = protocol::ConsumerGroupDescribeResponse::DescribedGroup;
  Described d;
  d.group_id = std::string(id);
  const ConsumerGroup* g = group(id);
  if (!g) {
    d.error_code = protocol::code(ErrorCode::group_id_not_found);
    d.error_message = "Group " + d.group_id + " not found.";
    return d;
  }
  d.group_state = std::string(state_name(g->state()));
  d.group_epoch = g->group_epoch();
  d.assignment_epoch = g->assignment_epoch();
  d.assignor_name = g->preferred_assignor(env_.config().consumer_assignors.front());
  std::map<Uuid, std::string> names;  // each topic looked up once
  auto name = [&](const Uuid& topic) -> const std::string& {
    auto it = names.find(topic);
    if (it == names.end()) it = names.emplace(topic, name_of(topic).value_or("")).first;
    return it->second;
  };
  auto wire = [&](const TopicAssignment& a) {
    std::vector<protocol::ConsumerGroupDescribeResponse::TopicPartitions> out;
    for (const auto& [topic, ps] : a) {
      protocol::ConsumerGroupDescribeResponse::TopicPartitions t;
      t.topic_id = topic;
      t.topic_name = name(topic);
      t.partitions.assign(ps.begin(), ps.end());
      out.push_back(std::move(t));
    }
    return out;
  };
  for (const auto& [member_id, m] : g->members()) {
    protocol::ConsumerGroupDescribeResponse::Member dm;
    dm.member_id = member_id;
    dm.instance_id = m.instance_id;
    dm.rack_id = m.rack_id;
    dm.member_epoch = m.member_epoch;
    dm.client_id = m.client_id;
    dm.client_host = m.client_host;
    dm.subscribed_topic_names = m.subscribed_topic_names;
    dm.subscribed_topic_regex = m.subscribed_topic_regex;
    dm.assignment.topic_partitions = wire(m.assigned);
    dm.target_assignment.topic_partitions = wire(g->target(member_id));
    dm.member_type = 1;  // KIP-1099: every member here speaks the consumer protocol
    d.members.push_back(std::move(dm));
  }
  return d;
}

ErrorCode ConsumerGroupManager::validate_offset_commit(const ConsumerGroup& g,
                                                       std::string_view member_id,
                                                       int32_t member_epoch, bool transactional,
                                                       int16_t api_version) const {
  if (member_epoch < 0 && g.empty()) return ErrorCode::none;
  const ConsumerMember* m = g.member(member_id);
  if (!m) return ErrorCode::unknown_member_id;
  if (!transactional && api_version < 9) return ErrorCode::unsupported_version;
  if (member_epoch != m->member_epoch) return ErrorCode::stale_member_epoch;
  return ErrorCode::none;
}

ErrorCode ConsumerGroupManager::validate_offset_fetch(const ConsumerGroup& g,
                                                      const std::optional<std::string>& member_id,
                                                      int32_t member_epoch) const {
  if (!member_id && member_epoch < 0) return ErrorCode::none;
  const ConsumerMember* m = member_id ? g.member(*member_id) : nullptr;
  if (!m) return ErrorCode::unknown_member_id;
  if (member_epoch != m->member_epoch) return ErrorCode::stale_member_epoch;
  return ErrorCode::none;
}

}  // namespace kaffa::coordinator
