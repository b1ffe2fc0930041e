#include "coordinator/group.h"

#include <utility>

namespace kaffa::coordinator {

using protocol::ErrorCode;

std::string_view state_name(GroupState s) {
  switch (s) {
    case GroupState::empty:
      return "Empty";
    case GroupState::preparing_rebalance:
      return "PreparingRebalance";
    case GroupState::completing_rebalance:
      return "CompletingRebalance";
    case GroupState::stable:
      return "Stable";
    case GroupState::dead:
      return "Dead";
  }
  return "Dead";
}

const std::string* GroupMember::metadata(std::string_view protocol) const {
  for (const auto& p : protocols) {
    if (p.name == protocol) return &p.metadata;
  }
  return nullptr;
}

bool GroupMember::has_satisfied_heartbeat() const {
  if (is_new) return false;
  return is_awaiting_join() || is_awaiting_sync();
}

Group::Group(std::string id, GroupState state, int64_t now_ms, uint64_t incarnation)
    : id_(std::move(id)), incarnation_(incarnation), state_(state), state_timestamp_ms_(now_ms) {}

GroupMember* Group::member(std::string_view id) {
  auto it = members_.find(id);
  return it == members_.end() ? nullptr : &it->second;
}

const GroupMember* Group::member(std::string_view id) const {
  auto it = members_.find(id);
  return it == members_.end() ? nullptr : &it->second;
}

void Group::add(GroupMember m, JoinCallback join) {
  if (members_.empty()) protocol_type_ = m.protocol_type;
  if (m.group_instance_id) static_members_[*m.group_instance_id] = m.member_id;
  if (!leader_) leader_ = m.member_id;
  pending_join_.erase(m.member_id);
  m.awaiting_join = std::move(join);
  std::string id = m.member_id;
  members_.insert_or_assign(std::move(id), std::move(m));
}

void Group::remove(std::string_view member_id) {
  auto it = members_.find(member_id);
  const std::string id(member_id);
  if (it != members_.end()) {
    GroupMember gone = std::move(it->second);
    if (gone.group_instance_id) static_members_.erase(*gone.group_instance_id);
    members_.erase(it);
    // A parked answer must still go out (responses leave a connection in order).
    if (gone.awaiting_join) {
      protocol::JoinGroupResponse r;
      r.error_code = protocol::code(ErrorCode::unknown_member_id);
      gone.awaiting_join(std::move(r));
    }
    if (gone.awaiting_sync) {
      protocol::SyncGroupResponse r;
      r.error_code = protocol::code(ErrorCode::unknown_member_id);
      gone.awaiting_sync(std::move(r));
    }
  }
  if (is_leader(id)) {
    if (members_.empty()) {
      leader_.reset();
    } else {
      leader_ = members_.begin()->first;
    }
  }
  pending_join_.erase(id);
  pending_sync_.erase(id);
}

GroupMember& Group::replace_static_member(const std::string& instance_id, std::string_view old_id,
                                          const std::string& new_id) {
  auto it = members_.find(old_id);
  GroupMember old = std::move(it->second);
  members_.erase(it);
  // Whoever still waits under the old id is a duplicate of this instance: fence it now.
  if (old.awaiting_join) {
    protocol::JoinGroupResponse r;
    r.member_id = old.member_id;
    r.protocol_type = std::nullopt;
    r.protocol_name = std::nullopt;
    r.error_code = protocol::code(ErrorCode::fenced_instance_id);
    auto cb = std::move(old.awaiting_join);
    old.awaiting_join = nullptr;
    cb(std::move(r));
  }
  if (old.awaiting_sync) {
    protocol::SyncGroupResponse r;
    r.error_code = protocol::code(ErrorCode::fenced_instance_id);
    auto cb = std::move(old.awaiting_sync);
    old.awaiting_sync = nullptr;
    cb(std::move(r));
  }
  GroupMember fresh;
  fresh.member_id = new_id;
  fresh.group_instance_id = old.group_instance_id;
  fresh.client_id = std::move(old.client_id);
  fresh.client_host = std::move(old.client_host);
  fresh.rebalance_timeout_ms = old.rebalance_timeout_ms;
  fresh.session_timeout_ms = old.session_timeout_ms;
  fresh.protocol_type = std::move(old.protocol_type);
  fresh.protocols = std::move(old.protocols);
  fresh.assignment = std::move(old.assignment);
  if (is_leader(old.member_id)) leader_ = new_id;
  // A pending sync of the old id carries over, or the sync deadline would drop the new one.
  if (pending_sync_.erase(old.member_id) > 0) pending_sync_.insert(new_id);
  static_members_[instance_id] = new_id;
  return members_.insert_or_assign(new_id, std::move(fresh)).first->second;
}

void Group::update_member(GroupMember& m, std::vector<MemberProtocol> protocols,
                          int32_t rebalance_timeout_ms, int32_t session_timeout_ms,
                          JoinCallback join) {
  if (m.awaiting_join && join) {
    // A second JoinGroup while the first is parked: the first one must still be answered.
    protocol::JoinGroupResponse r;
    r.member_id = m.member_id;
    r.error_code = protocol::code(ErrorCode::rebalance_in_progress);
    complete_join(m, std::move(r));
  }
  m.protocols = std::move(protocols);
  m.rebalance_timeout_ms = rebalance_timeout_ms;
  m.session_timeout_ms = session_timeout_ms;
  m.awaiting_join = std::move(join);
}

void Group::add_pending_member(const std::string& id, uint64_t session_token) {
  pending_join_[id] = session_token;
}

uint64_t Group::pending_member_token(std::string_view id) const {
  auto it = pending_join_.find(id);
  return it == pending_join_.end() ? 0 : it->second;
}

const std::string* Group::static_member_id(std::string_view instance_id) const {
  auto it = static_members_.find(instance_id);
  return it == static_members_.end() ? nullptr : &it->second;
}

ErrorCode Group::validate_member(std::string_view member_id,
                                 const std::optional<std::string>& instance_id) const {
  if (instance_id) {
    const std::string* existing = static_member_id(*instance_id);
    if (!existing) return ErrorCode::unknown_member_id;
    if (*existing != member_id) return ErrorCode::fenced_instance_id;
  }
  if (!has_member(member_id)) return ErrorCode::unknown_member_id;
  return ErrorCode::none;
}

size_t Group::num_awaiting_join() const {
  size_t n = 0;
  for (const auto& [id, m] : members_) n += m.is_awaiting_join() ? 1 : 0;
  return n;
}

bool Group::has_all_members_joined() const {
  return num_awaiting_join() == members_.size() && pending_join_.empty();
}

bool Group::maybe_elect_new_joined_leader() {
  if (!leader_) return false;
  const GroupMember* current = member(*leader_);
  if (current && current->is_awaiting_join()) return true;
  for (const auto& [id, m] : members_) {
    if (m.is_awaiting_join()) {
      leader_ = id;
      return true;
    }
  }
  return false;
}

int32_t Group::rebalance_timeout_ms() const {
  int32_t out = 0;
  for (const auto& [id, m] : members_) out = std::max(out, m.rebalance_timeout_ms);
  return out;
}

bool Group::supports_protocols(std::string_view type, const std::vector<MemberProtocol>& ps) const {
  if (is(GroupState::empty)) return !type.empty() && !ps.empty();
  if (!protocol_type_ || *protocol_type_ != type) return false;
  for (const auto& p : ps) {
    size_t supported = 0;
    for (const auto& [id, m] : members_) supported += m.metadata(p.name) ? 1 : 0;
    if (supported == members_.size()) return true;
  }
  return false;
}

std::string Group::select_protocol() const {
  if (members_.empty()) return {};
  // Candidates: the protocols every member supports.
  std::set<std::string, std::less<>> candidates;
  for (const auto& p : members_.begin()->second.protocols) {
    bool everyone = true;
    for (const auto& [id, m] : members_) everyone = everyone && m.metadata(p.name) != nullptr;
    if (everyone) candidates.insert(p.name);
  }
  std::map<std::string, int, std::less<>> votes;
  for (const auto& [id, m] : members_) {
    for (const auto& p : m.protocols) {
      if (candidates.count(p.name)) {
        ++votes[p.name];
        break;
      }
    }
  }
  std::string best;
  int best_votes = 0;
  for (const auto& [name, n] : votes) {
    if (n > best_votes) {
      best = name;
      best_votes = n;
    }
  }
  return best;
}

bool Group::can_rebalance() const {
  return is(GroupState::stable) || is(GroupState::completing_rebalance) || is(GroupState::empty);
}

void Group::transition_to(GroupState s, int64_t now_ms) {
  previous_state_ = state_;
  state_ = s;
  state_timestamp_ms_ = now_ms;
}

void Group::init_next_generation(int64_t now_ms) {
  ++generation_;
  if (!members_.empty()) {
    protocol_name_ = select_protocol();
    refresh_subscribed_topics();
    transition_to(GroupState::completing_rebalance, now_ms);
  } else {
    protocol_name_.reset();
    refresh_subscribed_topics();
    transition_to(GroupState::empty, now_ms);
  }
  pending_sync_.clear();
}

void Group::remove_pending_sync(std::string_view id) {
  auto it = pending_sync_.find(id);
  if (it != pending_sync_.end()) pending_sync_.erase(it);
}

bool Group::complete_join(GroupMember& m, protocol::JoinGroupResponse r) {
  if (!m.awaiting_join) return false;
  auto cb = std::move(m.awaiting_join);
  m.awaiting_join = nullptr;
  cb(std::move(r));
  return true;
}

bool Group::complete_sync(GroupMember& m, protocol::SyncGroupResponse r) {
  if (!m.awaiting_sync) return false;
  auto cb = std::move(m.awaiting_sync);
  m.awaiting_sync = nullptr;
  cb(std::move(r));
  return true;
}

std::vector<protocol::JoinGroupResponse::JoinGroupResponseMember> Group::current_members() const {
  std::vector<protocol::JoinGroupResponse::JoinGroupResponseMember> out;
  out.reserve(members_.size());
  for (const auto& [id, m] : members_) {
    auto& o = out.emplace_back();
    o.member_id = id;
    o.group_instance_id = m.group_instance_id;
    if (protocol_name_) {
      if (const std::string* md = m.metadata(*protocol_name_)) o.metadata = *md;
    }
  }
  return out;
}

protocol::JoinGroupResponse Group::join_response_for(const GroupMember& m,
                                                     bool with_members) const {
  protocol::JoinGroupResponse r;
  if (with_members) r.members = current_members();
  r.member_id = m.member_id;
  r.generation_id = generation_;
  r.protocol_name = protocol_name_;
  r.protocol_type = protocol_type_;
  r.leader = leader_.value_or("");
  r.skip_assignment = false;
  r.error_code = protocol::code(ErrorCode::none);
  return r;
}

std::optional<std::vector<std::string>> parse_consumer_subscription(std::string_view b) {
  size_t pos = 0;
  auto need = [&](size_t n) { return b.size() - pos >= n; };
  auto be16 = [&] {
    auto v = static_cast<uint16_t>((static_cast<uint8_t>(b[pos]) << 8) |
                                   static_cast<uint8_t>(b[pos + 1]));
    pos += 2;
    return static_cast<int16_t>(v);
  };
  if (!need(2)) return std::nullopt;
  if (be16() < 0) return std::nullopt;  // version
  if (!need(4)) return std::nullopt;
  uint32_t count = 0;
  for (int i = 0; i < 4; ++i) count = (count << 8) | static_cast<uint8_t>(b[pos++]);
  if (static_cast<int32_t>(count) < 0 || count > (b.size() - pos) / 2) return std::nullopt;
  std::vector<std::string> topics;
  topics.reserve(count);
  for (uint32_t i = 0; i < count; ++i) {
    if (!need(2)) return std::nullopt;
    const int16_t len = be16();
    if (len < 0 || !need(static_cast<size_t>(len))) return std::nullopt;
    topics.emplace_back(b.substr(pos, static_cast<size_t>(len)));
    pos += static_cast<size_t>(len);
  }
  return topics;
}

void Group::refresh_subscribed_topics() {
  subscribed_topics_.reset();
  if (!uses_consumer_protocol()) return;
  if (members_.empty()) {
    subscribed_topics_.emplace();
    return;
  }
  if (!protocol_name_) return;
  std::set<std::string, std::less<>> all;
  for (const auto& [id, m] : members_) {
    const std::string* md = m.metadata(*protocol_name_);
    if (!md) return;
    auto topics = parse_consumer_subscription(*md);
    if (!topics) return;
    for (auto& t : *topics) all.insert(std::move(t));
  }
  subscribed_topics_ = std::move(all);
}

protocol::GroupMetadataValue Group::to_record(
    const std::map<std::string, std::string, std::less<>>* assignment) const {
  protocol::GroupMetadataValue v;
  v.protocol_type = protocol_type_.value_or("");
  v.generation = generation_;
  v.protocol = protocol_name_;
  v.leader = leader_;
  v.current_state_timestamp = state_timestamp_ms_;
  for (const auto& [id, m] : members_) {
    auto& o = v.members.emplace_back();
    o.member_id = id;
    o.group_instance_id = m.group_instance_id;
    o.client_id = m.client_id;
    o.client_host = m.client_host;
    o.rebalance_timeout = m.rebalance_timeout_ms;
    o.session_timeout = m.session_timeout_ms;
    if (protocol_name_) {
      if (const std::string* md = m.metadata(*protocol_name_)) o.subscription = *md;
    }
    if (assignment) {
      auto it = assignment->find(id);
      if (it != assignment->end()) o.assignment = it->second;
    } else {
      o.assignment = m.assignment;
    }
  }
  return v;
}

Group Group::from_record(const std::string& id, const protocol::GroupMetadataValue& v,
                         int64_t now_ms, uint64_t incarnation) {
  Group g(id, v.members.empty() ? GroupState::empty : GroupState::stable,
          v.current_state_timestamp >= 0 ? v.current_state_timestamp : now_ms, incarnation);
  g.generation_ = v.generation;
  if (!v.protocol_type.empty()) g.protocol_type_ = v.protocol_type;
  g.protocol_name_ = v.protocol;
  g.leader_ = v.leader;
  for (const auto& rm : v.members) {
    GroupMember m;
    m.member_id = rm.member_id;
    m.group_instance_id = rm.group_instance_id;
    m.client_id = rm.client_id;
    m.client_host = rm.client_host;
    m.rebalance_timeout_ms = rm.rebalance_timeout == -1 ? rm.session_timeout : rm.rebalance_timeout;
    m.session_timeout_ms = rm.session_timeout;
    m.protocol_type = v.protocol_type;
    m.protocols.push_back({v.protocol.value_or(""), rm.subscription});
    m.assignment = rm.assignment;
    if (m.group_instance_id) g.static_members_[*m.group_instance_id] = m.member_id;
    std::string mid = m.member_id;
    g.members_.insert_or_assign(std::move(mid), std::move(m));
  }
  if (g.leader_ && !g.has_member(*g.leader_) && !g.members_.empty()) {
    g.leader_ = g.members_.begin()->first;
  }
  g.refresh_subscribed_topics();
  return g;
}

}  // namespace kaffa::coordinator
