#include "broker/fetch_sessions.h"

#include <climits>
#include <string_view>

namespace kaffa::broker {

using protocol::ErrorCode;
using protocol::FetchRequest;
using protocol::FetchResponse;
using Kind = FetchSessions::Context::Kind;

namespace {

constexpr int32_t kInitialEpoch = 0;
constexpr int32_t kFinalEpoch = -1;

int32_t next_epoch(int32_t epoch) {
  if (epoch < 0) return kFinalEpoch;
  return epoch == INT32_MAX ? 1 : epoch + 1;
}

bool has_records(const FetchResponse::PartitionData& p) {
  return p.records && p.records->size() > 0;
}

}  // namespace

FetchSessions::Key FetchSessions::key_of(bool uses_topic_ids, const std::string& topic,
                                         const protocol::Uuid& id, int32_t partition) {
  if (uses_topic_ids) return {id, {}, partition};
  return {{}, topic, partition};
}

FetchSessions::Context FetchSessions::open(FetchRequest& req, int16_t version, int64_t now_ms) {
  Context ctx;
  ctx.uses_topic_ids = version >= 13;
  ctx.privileged = req.replica_id >= 0;
  if (version < 7) return ctx;
  if (req.session_epoch == kInitialEpoch || req.session_epoch == kFinalEpoch) {
    // Any session a full fetch names is closed. (Most clients send id 0 and epoch -1: no lock.)
    if (req.session_id != 0) {
      std::lock_guard lock(mu_);
      if (auto it = sessions_.find(req.session_id); it != sessions_.end()) {
        partitions_ -= it->second->parts.size();
        sessions_.erase(it);
      }
    }
    if (req.session_epoch == kInitialEpoch) ctx.kind = Kind::full;
    return ctx;
  }
  std::lock_guard lock(mu_);
  auto found = sessions_.find(req.session_id);
  ctx.kind = Kind::error;
  if (found == sessions_.end()) {
    ctx.error = ErrorCode::fetch_session_id_not_found;
    return ctx;
  }
  Session& s = *found->second;
  if (s.epoch != req.session_epoch) {
    ctx.error = ErrorCode::invalid_fetch_session_epoch;
    return ctx;
  }
  if (s.uses_topic_ids != ctx.uses_topic_ids) {
    ctx.error = ErrorCode::fetch_session_topic_id_error;
    return ctx;
  }
  // Added or updated partitions, then the forgotten ones.
  const size_t before = s.parts.size();
  for (const auto& t : req.topics) {
    for (const auto& p : t.partitions) {
      const Key k = key_of(s.uses_topic_ids, t.topic, t.topic_id, p.partition);
      if (auto it = s.index.find(k); it != s.index.end()) {
        it->second->params = p;
        continue;
      }
      s.parts.push_back(Cached{t.topic, t.topic_id, p});
      s.index.emplace(k, std::prev(s.parts.end()));
    }
  }
  for (const auto& t : req.forgotten_topics_data) {
    for (int32_t p : t.partitions) {
      auto it = s.index.find(key_of(s.uses_topic_ids, t.topic, t.topic_id, p));
      if (it == s.index.end()) continue;
      s.parts.erase(it->second);
      s.index.erase(it);
    }
  }
  partitions_ = partitions_ - before + s.parts.size();
  if (s.parts.empty()) {  // closed: a full fetch of what the request lists
    sessions_.erase(found);
    ctx.kind = Kind::sessionless;
    return ctx;
  }
  s.last_used_ms = now_ms;
  s.epoch = next_epoch(s.epoch);
  ctx.kind = Kind::incremental;
  ctx.session_id = s.id;
  ctx.epoch = s.epoch;
  // The session's partitions, in its order; consecutive partitions of a topic share an entry.
  req.topics.clear();
  for (const auto& c : s.parts) {
    if (req.topics.empty() || (s.uses_topic_ids ? req.topics.back().topic_id != c.topic_id
                                                : req.topics.back().topic != c.topic)) {
      auto& t = req.topics.emplace_back();
      t.topic = c.topic;
      t.topic_id = c.topic_id;
    }
    req.topics.back().partitions.push_back(c.params);
  }
  return ctx;
}

void FetchSessions::throttled(const Context& ctx, FetchResponse& resp) const {
  resp.responses.clear();
  resp.node_endpoints.clear();
  resp.session_id = ctx.kind == Kind::incremental ? ctx.session_id : 0;
}

void FetchSessions::close(const Context& ctx, const FetchRequest& req, FetchResponse& resp,
                          int64_t now_ms) {
  switch (ctx.kind) {
    case Kind::sessionless:
      resp.session_id = 0;
      return;
    case Kind::error:
      resp.error_code = protocol::code(ctx.error);
      resp.session_id = 0;
      resp.responses.clear();
      return;
    case Kind::full:
      return close_full(ctx, req, resp, now_ms);
    case Kind::incremental:
      return close_incremental(ctx, resp);
  }
}

void FetchSessions::close_full(const Context& ctx, const FetchRequest& req, FetchResponse& resp,
                               int64_t now_ms) {
  size_t size = 0;
  for (const auto& t : req.topics) size += t.partitions.size();
  std::lock_guard lock(mu_);
  resp.session_id = 0;
  if (sessions_.size() >= max_slots_ && !try_evict_locked(ctx.privileged, size, now_ms)) return;
  auto s = std::make_unique<Session>();
  s->id = new_id_locked();
  s->privileged = ctx.privileged;
  s->uses_topic_ids = ctx.uses_topic_ids;
  s->created_ms = s->last_used_ms = now_ms;
  s->epoch = next_epoch(kInitialEpoch);
  for (size_t i = 0; i < req.topics.size() && i < resp.responses.size(); ++i) {
    const auto& t = req.topics[i];
    const auto& out = resp.responses[i].partitions;
    for (size_t j = 0; j < t.partitions.size() && j < out.size(); ++j) {
      const Key k = key_of(s->uses_topic_ids, t.topic, t.topic_id, t.partitions[j].partition);
      if (s->index.count(k) != 0) continue;  // listed twice: the first one counts
      s->parts.push_back(Cached{t.topic, t.topic_id, t.partitions[j], out[j].high_watermark,
                                out[j].log_start_offset});
      s->index.emplace(k, std::prev(s->parts.end()));
    }
  }
  partitions_ += s->parts.size();
  resp.session_id = s->id;
  sessions_.emplace(s->id, std::move(s));
}

void FetchSessions::close_incremental(const Context& ctx, FetchResponse& resp) {
  std::lock_guard lock(mu_);
  resp.session_id = ctx.session_id;
  auto found = sessions_.find(ctx.session_id);
  if (found == sessions_.end()) return;  // evicted meanwhile: the next request learns it
  Session& s = *found->second;
  if (s.epoch != ctx.epoch) {  // a request of the same epoch came in between
    resp.error_code = protocol::code(ErrorCode::invalid_fetch_session_epoch);
    resp.responses.clear();
    return;
  }
  std::vector<FetchResponse::FetchableTopicResponse> kept;
  for (auto& t : resp.responses) {
    for (auto& p : t.partitions) {
      auto it = s.index.find(key_of(s.uses_topic_ids, t.topic, t.topic_id, p.partition_index));
      if (it == s.index.end()) continue;
      Cached& c = *it->second;
      bool must = has_records(p) || p.preferred_read_replica >= 0 || p.diverging_epoch.epoch >= 0 ||
                  p.error_code != 0;
      if (c.high_watermark != p.high_watermark || c.log_start_offset != p.log_start_offset) {
        must = true;
        c.high_watermark = p.high_watermark;
        c.log_start_offset = p.log_start_offset;
      }
      // After an error, the partition is sent again once it has none.
      if (p.error_code != 0) c.high_watermark = -1;
      if (!must) continue;
      if (has_records(p)) s.parts.splice(s.parts.end(), s.parts, it->second);
      if (kept.empty() || kept.back().topic != t.topic || kept.back().topic_id != t.topic_id) {
        auto& k = kept.emplace_back();
        k.topic = t.topic;
        k.topic_id = t.topic_id;
      }
      kept.back().partitions.push_back(std::move(p));
    }
  }
  resp.responses = std::move(kept);
}

bool FetchSessions::try_evict_locked(bool privileged, size_t size, int64_t now_ms) {
  if (sessions_.empty()) return false;
  auto erase = [this](std::unordered_map<int32_t, std::unique_ptr<Session>>::iterator it) {
    partitions_ -= it->second->parts.size();
    sessions_.erase(it);
    ++evictions_;
    return true;
  };
  // The least recently used session, if stale.
  auto oldest = sessions_.begin();
  for (auto it = sessions_.begin(); it != sessions_.end(); ++it) {
    const auto& a = *it->second;
    const auto& b = *oldest->second;
    if (std::pair(a.last_used_ms, a.id) < std::pair(b.last_used_ms, b.id)) oldest = it;
  }
  if (now_ms - oldest->second->last_used_ms > eviction_ms_) return erase(oldest);
  // Else the least valuable evictable one (privileged, size, id), if less than the new one.
  auto victim = sessions_.end();
  for (auto it = sessions_.begin(); it != sessions_.end(); ++it) {
    const Session& s = *it->second;
    const bool aged = now_ms - s.created_ms > eviction_ms_;
    if (!(privileged ? (!s.privileged || aged) : aged)) continue;
    if (victim == sessions_.end() ||
        std::tuple(s.privileged, s.parts.size(), s.id) < std::tuple(victim->second->privileged,
                                                                    victim->second->parts.size(),
                                                                    victim->second->id)) {
      victim = it;
    }
  }
  if (victim == sessions_.end()) return false;
  // The new session's key has id 0, below any session's: it must win on (privileged, size).
  if (std::pair(privileged, size) <=
      std::pair(victim->second->privileged, victim->second->parts.size())) {
    return false;
  }
  return erase(victim);
}

int32_t FetchSessions::new_id_locked() {
  std::uniform_int_distribution<int32_t> pick(1, INT32_MAX);
  int32_t id = 0;
  do {
    id = pick(rng_);
  } while (sessions_.count(id) != 0);
  return id;
}

size_t FetchSessions::size() const {
  std::lock_guard lock(mu_);
  return sessions_.size();
}

size_t FetchSessions::partitions() const {
  std::lock_guard lock(mu_);
  return partitions_;
}

uint64_t FetchSessions::evictions() const {
  std::lock_guard lock(mu_);
  return evictions_;
}

}  // namespace kaffa::broker
