// Incremental fetch sessions (KIP-227), Kafka's FetchSessionCache and FetchManager rules.
//
// A Fetch v7+ with session epoch 0 is a full fetch that asks for a session: its answer names a new
// session (a random positive id) holding each partition's request parameters and the high
// watermark and log start offset last sent, unless the cache is full and nothing may be evicted
// (then the id is 0 and the client keeps sending full fetches). Epoch -1 is a full fetch without
// a session. Either closes a session the request names. A later request with the session's id
// and its next epoch (1, 2, ...) is incremental: it lists only the partitions added or whose
// parameters changed, and forgotten_topics_data those to drop; the broker reads every partition
// of the session, in the session's order, and answers only those with something new: records,
// an error, a preferred read replica, or a high watermark or log start offset other than last
// sent. A partition that returned records moves to the end of the session's order, so that the
// others get the budget first next time. An incremental request that empties its session
// closes it and is answered as a full fetch of what it lists.
//
// Errors (the whole answer, no partitions, session id 0): an unknown id FETCH_SESSION_ID_NOT_FOUND,
// another epoch INVALID_FETCH_SESSION_EPOCH, a session made with topic ids (v13+) used by a
// request without them, or the reverse, FETCH_SESSION_TOPIC_ID_ERROR.
//
// The cache holds at most max.incremental.fetch.session.cache.slots sessions. When it is full, a
// new session evicts the least recently used one idle for more than 120 s; else, for a follower
// (privileged), the smallest consumer session, or a follower session older than 120 s; else, for
// a consumer, the smallest session older than 120 s, in both cases only if it holds fewer
// partitions than the new one (Kafka's EvictableKey order: privileged, size, id).
//
// Threading: any event loop; one mutex guards the cache and its sessions, held only while a
// request's session fields are applied and while an answer is filtered.
#pragma once

#include <cstdint>
#include <list>
#include <map>
#include <memory>
#include <mutex>
#include <random>
#include <string>
#include <unordered_map>
#include <utility>

#include "protocol/error_codes.h"
#include "protocol/messages/fetch.h"

namespace kaffa::broker {

class FetchSessions {
 public:
  static constexpr int64_t kEvictionMs =
      120000;  // Kafka's MIN_INCREMENTAL_FETCH_SESSION_EVICTION_MS

  explicit FetchSessions(size_t max_slots, int64_t eviction_ms = kEvictionMs)
      : max_slots_(max_slots), eviction_ms_(eviction_ms) {}

  // What a request's session fields make of it.
  struct Context {
    enum class Kind { sessionless, full, incremental, error };
    Kind kind = Kind::sessionless;
    protocol::ErrorCode error = protocol::ErrorCode::none;  // Kind::error
    int32_t session_id = 0;                                 // Kind::incremental
    int32_t epoch = 0;            // Kind::incremental: the epoch the request moved the session to
    bool uses_topic_ids = false;  // v13+
    bool privileged = false;      // from a follower
  };

  // Applies a Fetch request's session fields (v7+; older versions are sessionless). For an
  // incremental request, req.topics becomes the session's partitions, in its order.
  Context open(protocol::FetchRequest& req, int16_t version, int64_t now_ms);
  // Before the answer goes out; `resp` is `req`'s answer, partition for partition. A full fetch
  // asking for a session gets one made of its partitions (resp.session_id, 0 when the cache
  // has no room); an incremental one keeps only the partitions with something new.
  void close(const Context& ctx, const protocol::FetchRequest& req, protocol::FetchResponse& resp,
             int64_t now_ms);
  // A throttled answer instead (Kafka's getThrottledResponse): no partitions; an incremental
  // fetch keeps its session (its epoch has moved, its partitions are sent again next time), a
  // full fetch makes none.
  void throttled(const Context& ctx, protocol::FetchResponse& resp) const;

  size_t size() const;
  size_t partitions() const;
  uint64_t evictions() const;

 private:
  struct Cached {
    std::string topic;        // the name (sessions without topic ids)
    protocol::Uuid topic_id;  // sessions with topic ids
    protocol::FetchRequest::FetchPartition params;
    int64_t high_watermark = -1;    // as last sent
    int64_t log_start_offset = -1;  // as last sent
  };
  // A partition's identity in a session: the topic's id (sessions with topic ids; the name is then
  // empty, so that a lookup copies nothing) or its name, and the index.
  struct Key {
    protocol::Uuid id;
    std::string name;
    int32_t partition = 0;
    auto operator<=>(const Key&) const = default;
  };
  struct Session {
    int32_t id = 0;
    bool privileged = false;
    bool uses_topic_ids = false;
    int64_t created_ms = 0;
    int64_t last_used_ms = 0;
    int32_t epoch = 1;
    std::list<Cached> parts;  // the session's order
    std::map<Key, std::list<Cached>::iterator> index;
  };

  static Key key_of(bool uses_topic_ids, const std::string& topic, const protocol::Uuid& id,
                    int32_t partition);
  void close_full(const Context& ctx, const protocol::FetchRequest& req,
                  protocol::FetchResponse& resp, int64_t now_ms);
  void close_incremental(const Context& ctx, protocol::FetchResponse& resp);
  // Makes room for a session of `size` partitions (mu_ held).
  bool try_evict_locked(bool privileged, size_t size, int64_t now_ms);
  int32_t new_id_locked();

  const size_t max_slots_;
  const int64_t eviction_ms_;
  mutable std::mutex mu_;
  std::unordered_map<int32_t, std::unique_ptr<Session>> sessions_;
  size_t partitions_ = 0;  // over all sessions
  uint64_t evictions_ = 0;
  std::mt19937 rng_{std::random_device{}()};
};

}  // namespace kaffa::broker
