#include "cluster/topic_registry.h"

#include <algorithm>

#include "base/log.h"

namespace kaffa::cluster {
namespace {

std::string normalized(std::string_view name) {
  std::string s(name);
  std::replace(s.begin(), s.end(), '.', '_');
  return s;
}

}  // namespace

std::optional<std::string> invalid_topic_name(std::string_view name) {
  if (name.empty()) return "Topic name is illegal, it can't be empty";
  if (name == "." || name == "..") return "Topic name cannot be \".\" or \"..\"";
  if (name.size() > 249) {
    return "Topic name is illegal, it can't be longer than 249 characters";
  }
  for (char c : name) {
    const bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                    c == '.' || c == '_' || c == '-';
    if (!ok) {
      return "Topic name contains a character other than ASCII alphanumerics, '.', '_' and '-'";
    }
  }
  return std::nullopt;
}

void TopicRegistry::load(std::vector<TopicInfo> topics) {
  std::unique_lock lock(mu_);
  for (auto& t : topics) {
    std::string name = t.name;
    topics_.emplace(std::move(name), std::move(t));
  }
  reindex_locked();
}

void TopicRegistry::replace_all(std::vector<TopicInfo> topics) {
  std::map<std::string, TopicInfo, std::less<>> fresh;
  for (auto& t : topics) {
    std::string name = t.name;
    fresh.emplace(std::move(name), std::move(t));
  }
  std::unique_lock lock(mu_);
  topics_.swap(fresh);
  reindex_locked();
}

void TopicRegistry::reindex_locked() {
  names_version_.fetch_add(1, std::memory_order_release);
  names_by_id_.clear();
  for (const auto& [name, t] : topics_) names_by_id_.emplace(t.id.bytes, name);
}

void TopicRegistry::set_persistence(Persist persist) {
  std::unique_lock lock(mu_);
  persist_ = std::move(persist);
}

bool TopicRegistry::persist_locked(std::string* error) const {
  if (!persist_) return true;
  std::vector<TopicInfo> all;
  all.reserve(topics_.size());
  for (const auto& [name, t] : topics_) all.push_back(t);
  return persist_(all, error);
}

TopicRegistry::CreateResult TopicRegistry::create(TopicInfo topic, TopicInfo* created) {
  std::unique_lock lock(mu_);
  if (topics_.count(topic.name) != 0) return CreateResult::exists;
  if (collision_locked(topic.name)) return CreateResult::collides;
  do {
    topic.id = protocol::Uuid::random();
  } while (names_by_id_.count(topic.id.bytes) != 0);
  if (created != nullptr) *created = topic;
  std::string name = topic.name;
  auto it = topics_.emplace(std::move(name), std::move(topic)).first;
  std::string error;
  if (!persist_locked(&error)) {
    log::error("cannot persist new topic {}: {}", it->first, error);
    topics_.erase(it);
    return CreateResult::storage_error;
  }
  names_by_id_.emplace(it->second.id.bytes, it->first);
  names_version_.fetch_add(1, std::memory_order_release);
  return CreateResult::created;
}

bool TopicRegistry::remove(std::string_view name, std::string* error) {
  std::unique_lock lock(mu_);
  auto it = topics_.find(name);
  if (it == topics_.end()) return false;
  TopicInfo saved = it->second;
  topics_.erase(it);
  std::string why;
  if (!persist_locked(&why)) {
    log::error("cannot persist deletion of topic {}: {}", saved.name, why);
    std::string key = saved.name;
    topics_.emplace(std::move(key), std::move(saved));
    if (error) *error = why;
    return false;
  }
  names_by_id_.erase(saved.id.bytes);
  names_version_.fetch_add(1, std::memory_order_release);
  return true;
}

std::optional<TopicInfo> TopicRegistry::find(std::string_view name) const {
  std::shared_lock lock(mu_);
  auto it = topics_.find(name);
  if (it == topics_.end()) return std::nullopt;
  return it->second;
}

std::optional<TopicInfo> TopicRegistry::find(const protocol::Uuid& id) const {
  std::shared_lock lock(mu_);
  auto named = names_by_id_.find(id.bytes);
  if (named == names_by_id_.end()) return std::nullopt;
  auto it = topics_.find(named->second);
  if (it == topics_.end()) return std::nullopt;
  return it->second;
}

std::optional<std::string> TopicRegistry::name_of(const protocol::Uuid& id) const {
  std::shared_lock lock(mu_);
  auto it = names_by_id_.find(id.bytes);
  if (it == names_by_id_.end()) return std::nullopt;
  return it->second;
}

std::optional<TopicRegistry::Shape> TopicRegistry::shape_of(std::string_view name) const {
  std::shared_lock lock(mu_);
  auto it = topics_.find(name);
  if (it == topics_.end()) return std::nullopt;
  return Shape{it->second.id, it->second.partitions};
}

std::vector<TopicInfo> TopicRegistry::list() const {
  std::shared_lock lock(mu_);
  std::vector<TopicInfo> out;
  out.reserve(topics_.size());
  for (const auto& [name, t] : topics_) out.push_back(t);
  return out;
}

std::vector<std::string> TopicRegistry::user_topic_names() const {
  std::shared_lock lock(mu_);
  std::vector<std::string> out;
  out.reserve(topics_.size());
  for (const auto& [name, t] : topics_) {
    if (!t.internal) out.push_back(name);
  }
  return out;
}

std::optional<std::string> TopicRegistry::collision(std::string_view name) const {
  std::shared_lock lock(mu_);
  return collision_locked(name);
}

std::optional<std::string> TopicRegistry::collision_locked(std::string_view name) const {
  const std::string n = normalized(name);
  for (const auto& [existing, t] : topics_) {
    if (existing != name && normalized(existing) == n) return existing;
  }
  return std::nullopt;
}

}  // namespace kaffa::cluster
