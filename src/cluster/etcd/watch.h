// A watch on a key or range (a prefix, typically) from a revision, delivering event batches in
// revision order, surviving reconnects.
//
// Stream format (etcd 3.4 gateway): POST /v3/watch with {"create_request": {...}} as the body;
// the answer is chunked and never ends by itself: a sequence of JSON objects, each
// {"result": WatchResponse} (one per line). The first has "created": true; later ones carry
// "events": [{"type": "DELETE"?, "kv": {...}, "prev_kv": {...}?}] (type absent = PUT). A watch
// whose start revision was compacted gets "created" and then {"canceled": true,
// "compact_revision": "N"} (its header has no revision); the stream stays open after that.
//
// Resuming: the watch remembers the revision after the last event it delivered; when the
// stream breaks (etcd restarted, member gone) it reconnects (moving through the endpoints,
// backing off from 100 ms to 2 s) and asks again from that revision, so no event is lost or
// repeated. A compacted start revision ends the watch with Error::Code::compacted (its
// compact_revision says from where to re-list).
//
// Heartbeat: the request body is sent chunked and left open, so the gateway's stream stays
// two-way; once created, the watch sends {"progress_request": {}} every `heartbeat` (default:
// the client's request timeout). etcd answers with the store's revision (watch_id -1) when the
// watch has caught up; that revision becomes the resume point (a quiet watch does not fall
// behind compaction). No message at all for two heartbeats means the member stalled (frozen,
// partitioned): the watch moves to another endpoint. The stream is opened with etcd's
// "require leader" metadata, so a member that lost its raft leader ends it (then: reconnect).
//
// Threading: like Client. Callbacks run on the client's executor; after cancel() none runs.
#pragma once

#include <asio/steady_timer.hpp>
#include <chrono>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "cluster/etcd/client.h"
#include "cluster/etcd/watch_message.h"

namespace kaffa::etcd {

struct WatchOptions {
  std::string key;
  std::string range_end;       // empty: only `key`; prefix_range_end(key) for a prefix
  int64_t start_revision = 0;  // 0: changes after the watch is created
  bool prev_kv = false;
  std::chrono::milliseconds heartbeat{0};  // 0: the client's request timeout
  static WatchOptions prefix(std::string prefix, int64_t start_revision);
};

class Watch : public std::enable_shared_from_this<Watch> {
 public:
  using EventsHandler = std::function<void(const WatchBatch&)>;
  // Called once when the watch ends on its own: compacted, or the client was closed.
  using EndHandler = std::function<void(const Error&)>;

  static std::shared_ptr<Watch> start(std::shared_ptr<Client> client, WatchOptions options,
                                      EventsHandler on_events, EndHandler on_end);

  // Stops for good; no callback runs after it.
  void cancel();
  // The revision the watch would resume from.
  int64_t next_revision() const { return next_revision_; }
  // Whether the current stream has been created (events are flowing).
  bool connected() const { return created_; }

  Watch(std::shared_ptr<Client> client, WatchOptions options, EventsHandler on_events,
        EndHandler on_end);

 private:
  void connect();
  void on_body(std::string_view bytes);
  void handle(const json::Value& v);
  void broken(const std::string& why);
  void heartbeat(uint64_t gen);
  std::chrono::milliseconds heartbeat_interval() const;
  void end(Error e);
  std::string create_request() const;

  std::shared_ptr<Client> client_;
  WatchOptions options_;
  EventsHandler on_events_;
  EndHandler on_end_;
  std::shared_ptr<HttpConnection> conn_;
  std::shared_ptr<HttpResponseParser> parser_;
  asio::steady_timer timer_;
  asio::steady_timer heartbeat_timer_;
  std::chrono::steady_clock::time_point last_message_;
  std::string pending_;  // stream bytes not yet forming a whole JSON object
  int64_t next_revision_;
  uint64_t generation_ = 0;  // of the current stream; stale callbacks compare it
  std::chrono::milliseconds backoff_{100};
  bool created_ = false;
  bool stopped_ = false;
};

}  // namespace kaffa::etcd
