// ConsumerGroup: bookkeeping of a KIP-848 group and the reconciliation step.
#include "coordinator/consumer_group.h"

#include <algorithm>
#include <iterator>

namespace kaffa::coordinator {

using protocol::Uuid;

std::string_view state_name(ConsumerGroupState s) {
  switch (s) {
    case ConsumerGroupState::empty:
      return "Empty";
    case ConsumerGroupState::assigning:
      return "Assigning";
    case ConsumerGroupState::reconciling:
      return "Reconciling";
    case ConsumerGroupState::stable:
      return "Stable";
  }
  return "Unknown";
}

namespace {

// Whether the member still reports owning any of `partitions` (not saying counts as owning).
bool owns_any(const OwnedPartitions& owned, const TopicAssignment& partitions) {
  if (!owned) return true;
  for (const auto& [topic, ps] : *owned) {
    auto it = partitions.find(topic);
    if (it == partitions.end()) continue;
    for (int32_t p : ps) {
      if (it->second.count(p)) return true;
    }
  }
  return false;
}

ConsumerMember next_assignment(const ConsumerMember& m, int32_t epoch, int32_t target_epoch,
                               const TopicAssignment& target,
                               const std::function<int32_t(const Uuid&, int32_t)>& partition_epoch,
                               const OwnedPartitions& owned) {
  TopicAssignment kept, revoked, added;
  bool unreleased = false;
  std::set<Uuid> topics;
  for (const auto& [t, _] : target) topics.insert(t);
  for (const auto& [t, _] : m.assigned) topics.insert(t);
  static const std::set<int32_t> kNone;
  for (const Uuid& t : topics) {
    auto ti = target.find(t);
    auto ci = m.assigned.find(t);
    const auto& want = ti == target.end() ? kNone : ti->second;
    const auto& have = ci == m.assigned.end() ? kNone : ci->second;
    for (int32_t p : have) (want.count(p) ? kept : revoked)[t].insert(p);
    for (int32_t p : want) {
      if (have.count(p)) continue;
      if (partition_epoch(t, p) != -1) {
        unreleased = true;
      } else {
        added[t].insert(p);
      }
    }
  }
  ConsumerMember out = m;
  if (!revoked.empty() && owns_any(owned, revoked)) {
    out.state = MemberState::unrevoked_partitions;
    if (epoch != m.member_epoch) {
      out.previous_member_epoch = m.member_epoch;
      out.member_epoch = epoch;
    }
    out.assigned = std::move(kept);
    out.pending_revocation = std::move(revoked);
    return out;
  }
  for (auto& [t, ps] : added) kept[t].insert(ps.begin(), ps.end());
  out.state = unreleased ? MemberState::unreleased_partitions : MemberState::stable;
  if (target_epoch != m.member_epoch) {
    out.previous_member_epoch = m.member_epoch;
    out.member_epoch = target_epoch;
  }
  out.assigned = std::move(kept);
  out.pending_revocation.clear();
  return out;
}

}  // namespace

ConsumerMember reconcile(const ConsumerMember& m, int32_t target_epoch,
                         const TopicAssignment& target,
                         const std::function<int32_t(const Uuid&, int32_t)>& partition_epoch,
                         const OwnedPartitions& owned) {
  switch (m.state) {
    case MemberState::stable:
      if (m.member_epoch == target_epoch) return m;
      return next_assignment(m, m.member_epoch, target_epoch, target, partition_epoch, owned);
    case MemberState::unrevoked_partitions:
      if (owns_any(owned, m.pending_revocation)) return m;
      return next_assignment(m, m.member_epoch + 1, target_epoch, target, partition_epoch, owned);
    case MemberState::unreleased_partitions:
      return next_assignment(m, m.member_epoch, target_epoch, target, partition_epoch, owned);
  }
  return m;
}

std::vector<std::string> ConsumerMember::subscriptions() const {
  if (regex_topics.empty()) return subscribed_topic_names;
  std::vector<std::string> out;
  std::set_union(subscribed_topic_names.begin(), subscribed_topic_names.end(), regex_topics.begin(),
                 regex_topics.end(), std::back_inserter(out));
  return out;
}

ConsumerGroupState ConsumerGroup::state() const {
  if (members_.empty()) return ConsumerGroupState::empty;
  if (group_epoch_ > assignment_epoch_) return ConsumerGroupState::assigning;
  for (const auto& [_, m] : members_) {
    if (m.state != MemberState::stable || m.member_epoch != assignment_epoch_) {
      return ConsumerGroupState::reconciling;
    }
  }
  return ConsumerGroupState::stable;
}

const ConsumerMember* ConsumerGroup::member(std::string_view id) const {
  auto it = members_.find(id);
  return it == members_.end() ? nullptr : &it->second;
}

const std::string* ConsumerGroup::static_member(std::string_view instance_id) const {
  for (const auto& [id, m] : members_) {
    if (m.instance_id && *m.instance_id == instance_id) return &id;
  }
  return nullptr;
}

void ConsumerGroup::own(const ConsumerMember& m, bool add) {
  for (const auto* a : {&m.assigned, &m.pending_revocation}) {
    for (const auto& [t, ps] : *a) {
      for (int32_t p : ps) {
        if (add) {
          owners_[{t, p}] = m.member_epoch;
        } else {
          owners_.erase({t, p});
        }
      }
    }
  }
}

void ConsumerGroup::put_member(ConsumerMember m) {
  save_member(m.member_id);
  auto it = members_.find(m.member_id);
  if (it != members_.end()) {
    own(it->second, false);
    it->second = std::move(m);
    own(it->second, true);
    return;
  }
  own(m, true);
  std::string id = m.member_id;
  members_.emplace(std::move(id), std::move(m));
}

void ConsumerGroup::remove_member(std::string_view member_id) {
  auto it = members_.find(member_id);
  if (it == members_.end()) return;
  save_member(member_id);
  own(it->second, false);
  members_.erase(it);
  erase_target(member_id);
}

int32_t ConsumerGroup::partition_epoch(const Uuid& topic, int32_t partition) const {
  auto it = owners_.find({topic, partition});
  return it == owners_.end() ? -1 : it->second;
}

std::map<std::string, int, std::less<>> ConsumerGroup::subscribed_names() const {
  std::map<std::string, int, std::less<>> out;
  for (const auto& [_, m] : members_) {
    for (const auto& n : m.subscriptions()) ++out[n];
  }
  return out;
}

void ConsumerGroup::set_subscription_metadata(Metadata m) {
  if (saved_ && !saved_->metadata) saved_->metadata = std::move(metadata_);
  metadata_ = std::move(m);
}

void ConsumerGroup::set_targets(int32_t epoch, Targets t) {
  if (saved_ && !saved_->targets) saved_->targets = std::move(targets_);
  assignment_epoch_ = epoch;
  targets_ = std::move(t);
}

void ConsumerGroup::set_target(const std::string& member_id, TopicAssignment t) {
  save_targets();
  targets_[member_id] = std::move(t);
}

void ConsumerGroup::erase_target(std::string_view member_id) {
  auto it = targets_.find(member_id);
  if (it == targets_.end()) return;
  save_targets();
  targets_.erase(it);  // still valid: saving copied the map
}

void ConsumerGroup::track_changes() {
  saved_.emplace();
  saved_->group_epoch = group_epoch_;
  saved_->assignment_epoch = assignment_epoch_;
  saved_->regex_version = regex_version_;
}

void ConsumerGroup::save_member(std::string_view member_id) {
  if (!saved_ || saved_->members.contains(member_id)) return;
  const ConsumerMember* m = member(member_id);
  saved_->members.emplace(std::string(member_id),
                          m ? std::optional<ConsumerMember>(*m) : std::nullopt);
}

void ConsumerGroup::save_targets() {
  if (saved_ && !saved_->targets) saved_->targets = targets_;
}

void ConsumerGroup::undo_changes() {
  if (!saved_) return;
  Saved s = std::move(*saved_);
  saved_.reset();
  group_epoch_ = s.group_epoch;
  assignment_epoch_ = s.assignment_epoch;
  regex_version_ = s.regex_version;
  if (s.metadata) metadata_ = std::move(*s.metadata);
  if (s.targets) targets_ = std::move(*s.targets);
  for (auto& [id, m] : s.members) {
    if (m) {
      members_.insert_or_assign(id, std::move(*m));
    } else if (auto it = members_.find(id); it != members_.end()) {
      members_.erase(it);
    }
  }
  // The owners follow from the members; rebuilt, as members may have handed partitions over.
  owners_.clear();
  for (const auto& [_, m] : members_) own(m, true);
}

const TopicAssignment& ConsumerGroup::target(std::string_view member_id) const {
  static const TopicAssignment kNone;
  auto it = targets_.find(member_id);
  return it == targets_.end() ? kNone : it->second;
}

std::string ConsumerGroup::preferred_assignor(const std::string& fallback) const {
  std::map<std::string, int> votes;
  for (const auto& [_, m] : members_) {
    if (m.server_assignor) ++votes[*m.server_assignor];
  }
  std::string best = fallback;
  int most = 0;
  for (const auto& [name, n] : votes) {
    if (n > most) {
      best = name;
      most = n;
    }
  }
  return best;
}

}  // namespace kaffa::coordinator
