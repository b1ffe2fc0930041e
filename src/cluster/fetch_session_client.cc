#include "cluster/fetch_session_client.h"

#include <climits>

#include "protocol/error_codes.h"

namespace kaffa::cluster {

namespace {

bool same_params(const protocol::FetchRequest::FetchPartition& a,
                 const protocol::FetchRequest::FetchPartition& b) {
  return a.fetch_offset == b.fetch_offset && a.current_leader_epoch == b.current_leader_epoch &&
         a.log_start_offset == b.log_start_offset &&
         a.partition_max_bytes == b.partition_max_bytes &&
         a.last_fetched_epoch == b.last_fetched_epoch;
}

}  // namespace

void FetchSessionClient::prepare(protocol::FetchRequest& req) {
  pending_.clear();
  for (const auto& t : req.topics) {
    for (const auto& p : t.partitions) pending_[{t.topic, p.partition}] = p;
  }
  pending_full_ = id_ == 0;
  req.session_id = id_;
  req.session_epoch = epoch_;
  req.forgotten_topics_data.clear();
  if (pending_full_) return;  // every partition, epoch 0: a full fetch asking for a session
  // Incremental: the new or changed partitions, and the ones no longer wanted.
  req.topics.clear();
  for (const auto& [key, p] : pending_) {
    auto known = session_.find(key);
    if (known != session_.end() && same_params(known->second, p)) continue;
    if (req.topics.empty() || req.topics.back().topic != key.first) {
      req.topics.emplace_back().topic = key.first;
    }
    req.topics.back().partitions.push_back(p);
  }
  for (const auto& [key, p] : session_) {
    if (pending_.count(key) != 0) continue;
    if (req.forgotten_topics_data.empty() || req.forgotten_topics_data.back().topic != key.first) {
      req.forgotten_topics_data.emplace_back().topic = key.first;
    }
    req.forgotten_topics_data.back().partitions.push_back(key.second);
  }
}

bool FetchSessionClient::handle(const protocol::FetchResponse& resp) {
  using protocol::ErrorCode;
  if (resp.error_code != 0) {
    const auto e = static_cast<ErrorCode>(resp.error_code);
    reset();
    return e != ErrorCode::fetch_session_id_not_found &&
           e != ErrorCode::invalid_fetch_session_epoch &&
           e != ErrorCode::fetch_session_topic_id_error;
  }
  if (resp.session_id == 0) {  // no session (the leader's cache is full, or it closed ours)
    reset();
    return true;
  }
  if (pending_full_) id_ = resp.session_id;
  epoch_ = pending_full_ ? 1 : (epoch_ == INT32_MAX ? 1 : epoch_ + 1);
  session_ = std::move(pending_);
  pending_.clear();
  return true;
}

void FetchSessionClient::reset() {
  id_ = 0;
  epoch_ = 0;
  session_.clear();
  pending_.clear();
}

}  // namespace kaffa::cluster
