// The fetching side of an incremental fetch session (KIP-227), as Kafka's FetchSessionHandler:
// what a follower's fetcher thread keeps about its session with one leader.
//
// The caller builds each Fetch with every partition it wants now; prepare() turns it into the
// request to send. Without a session that is a full fetch asking for one (epoch 0). With one, it
// is incremental: the session's id and next epoch, only the partitions that are new or whose
// parameters (fetch offset, leader epoch, log start, max bytes) changed since the leader last
// heard them, and forgotten_topics_data for the session's partitions no longer wanted. handle()
// reads the answer: the leader's session id (0: it made none, so the next fetch asks again) and,
// from an incremental answer, that the partitions it leaves out have nothing new. Any top-level
// error, and a lost answer (reset()), make the next fetch a full one.
//
// Threading: one fetcher thread owns an instance.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <utility>

#include "protocol/messages/fetch.h"

namespace kaffa::cluster {

class FetchSessionClient {
 public:
  void prepare(protocol::FetchRequest& req);
  // False when the answer is a session error (FETCH_SESSION_ID_NOT_FOUND,
  // INVALID_FETCH_SESSION_EPOCH, FETCH_SESSION_TOPIC_ID_ERROR): it carries no partitions and the
  // next request, a full one, may follow at once.
  bool handle(const protocol::FetchResponse& resp);
  void reset();

  int32_t session_id() const { return id_; }
  int32_t next_epoch() const { return epoch_; }

 private:
  using Key = std::pair<std::string, int32_t>;  // topic name, partition (Fetch v12)
  using Partitions = std::map<Key, protocol::FetchRequest::FetchPartition>;

  int32_t id_ = 0;
  int32_t epoch_ = 0;   // of the next request
  Partitions session_;  // the session's partitions as the leader holds them
  Partitions pending_;  // what the session becomes once the request in flight is answered
  bool pending_full_ = false;
};

}  // namespace kaffa::cluster
