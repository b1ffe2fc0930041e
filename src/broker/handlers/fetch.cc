// Fetch (key 1), versions 4-12 (flexible from 12; 13+ use topic ids).
//
// Partitions are read in request order, each on its owner loop, with the request's budget:
// max_bytes overall (v3+, capped by the broker's fetch.max.bytes) and partition_max_bytes each;
// the first non-empty partition may exceed both by one whole batch (KIP-74). Records are file
// ranges of the segment files: on a plaintext listener they go to the socket with sendfile(), never
// through user space.
//
// When fewer than min_bytes are available and max_wait_ms > 0, the fetch parks: it registers as
// a waiter on each partition and arms one timer; the first append past a fetch offset (or the
// timer) wakes it to read again. No polling. Errors answer at once.
//
// Replication: a fetch with replica_id >= 0 comes from a follower (Partition::read_for_follower):
// it reads up to the log end (not the high watermark), records the follower's position, which
// moves the high watermark and the ISR, and parks until the log end passes its offset. Consumers
// read only from the leader (NOT_LEADER_OR_FOLLOWER on a follower). current_leader_epoch (v9+)
// older than the partition's is FENCED_LEADER_EPOCH, newer UNKNOWN_LEADER_EPOCH.
//
// Fetch sessions (KIP-227): the answer is always session id 0, which makes clients send full
// fetches; a request naming a session id gets FETCH_SESSION_ID_NOT_FOUND.
//
// Authorization: READ on each topic (a consumer), or CLUSTER_ACTION on the cluster for a request
// from a replica (replica_id >= 0); refused partitions answer TOPIC_AUTHORIZATION_FAILED, checked
// before existence, as Kafka.
#include "protocol/messages/fetch.h"

#include <algorithm>
#include <atomic>
#include <chrono>

#include "base/clock.h"
#include "broker/authorize.h"
#include "broker/broker.h"
#include "broker/handlers/handlers.h"
#include "protocol/error_codes.h"

namespace kaffa::broker {
namespace {

using protocol::ErrorCode;
using protocol::FetchRequest;
using protocol::FetchResponse;

constexpr int16_t kFetchSessionIdNotFound = 70;

class FetchOp : public cluster::FetchWaiter, public std::enable_shared_from_this<FetchOp> {
 public:
  FetchOp(Broker& broker, size_t home, Responder respond)
      : broker_(broker), home_(home), respond_(std::move(respond)) {}

  FetchRequest req;
  FetchResponse resp;
  std::vector<bool> topic_allowed;  // per request topic

  void start();
  void fire() override { wake(); }

 private:
  struct Target {
    FetchResponse::PartitionData* out;
    std::shared_ptr<cluster::Partition> partition;  // null: answered with an error already
    int64_t offset;
    int32_t max_bytes;
    int64_t bytes = 0;  // of the latest read (metrics)
  };
  enum State : int { reading = 0, parked = 1, done = 2 };

  void read_from(size_t k, int64_t budget, bool min_one, int64_t total);
  void finished(int64_t total);
  void park();
  void wake();

  Broker& broker_;
  const size_t home_;
  Responder respond_;
  std::vector<Target> targets_;
  bool any_error_ = false;
  bool timer_armed_ = false;
  std::atomic<int> state_{reading};
  std::atomic<bool> expired_{false};
};

void FetchOp::start() {
  for (size_t i = 0; i < req.topics.size(); ++i) {
    const auto& topic = req.topics[i];
    auto& t = resp.responses.emplace_back();
    t.topic = topic.topic;
    t.partitions.reserve(topic.partitions.size());
    for (const auto& p : topic.partitions) {
      auto& out = t.partitions.emplace_back();
      out.partition_index = p.partition;
      out.high_watermark = -1;
      out.records = protocol::Records{};
      if (req.isolation_level == 1) out.aborted_transactions.emplace();
      auto partition = broker_.partitions().get(topic.topic, p.partition);
      if (!topic_allowed[i]) {
        out.error_code = protocol::code(ErrorCode::topic_authorization_failed);
        any_error_ = true;
      } else if (!partition) {
        out.error_code = protocol::code(ErrorCode::unknown_topic_or_partition);
        any_error_ = true;
      } else if (p.current_leader_epoch > partition->leader_epoch()) {
        out.error_code = protocol::code(ErrorCode::unknown_leader_epoch);
        any_error_ = true;
      } else if (p.current_leader_epoch >= 0 &&
                 p.current_leader_epoch < partition->leader_epoch()) {
        out.error_code = protocol::code(ErrorCode::fenced_leader_epoch);
        any_error_ = true;
      } else {
        targets_.push_back({&out, std::move(partition), p.fetch_offset, p.partition_max_bytes});
      }
    }
  }
  read_from(0, req.max_bytes, true, 0);
}

void FetchOp::read_from(size_t k, int64_t budget, bool min_one, int64_t total) {
  if (k == targets_.size()) return finished(total);
  auto self = shared_from_this();
  broker_.post(targets_[k].partition->shard(), [self, k, budget, min_one, total] {
    Target& t = self->targets_[k];
    const int64_t limit = std::max<int64_t>(std::min<int64_t>(t.max_bytes, budget), 0);
    const int32_t replica = self->req.replica_id;
    auto r = replica >= 0 ? t.partition->read_for_follower(replica, t.offset, limit, min_one,
                                                           clock::wall_ms())
                          : t.partition->read(t.offset, limit, min_one);
    t.out->error_code = protocol::code(r.error);
    t.out->high_watermark = r.high_watermark;
    t.out->last_stable_offset = r.high_watermark;
    t.out->log_start_offset = r.log_start_offset;
    t.out->records = std::move(r.records);
    t.bytes = r.bytes;
    if (r.error != ErrorCode::none) self->any_error_ = true;
    const bool got = r.bytes > 0;
    self->read_from(k + 1, budget - r.bytes, min_one && !got, total + r.bytes);
  });
}

void FetchOp::finished(int64_t total) {
  if (total >= req.min_bytes || any_error_ || req.max_wait_ms <= 0 || targets_.empty() ||
      expired_.load(std::memory_order_acquire)) {
    state_.store(done, std::memory_order_release);
    for (const auto& t : targets_) {
      if (t.partition && t.bytes > 0) t.partition->count_bytes_out(t.bytes);
    }
    respond_.send(resp);
    return;
  }
  park();
}

void FetchOp::park() {
  state_.store(parked, std::memory_order_release);
  auto self = shared_from_this();
  for (const auto& t : targets_) {
    broker_.post(t.partition->shard(), [self, p = t.partition, offset = t.offset] {
      if (self->req.replica_id >= 0) {
        p->add_replica_waiter(offset, self);
      } else {
        p->add_waiter(offset, self);
      }
    });
  }
  if (!timer_armed_) {
    timer_armed_ = true;
    broker_.post_after(home_, std::chrono::milliseconds(req.max_wait_ms), [self] {
      self->expired_.store(true, std::memory_order_release);
      self->wake();
    });
  }
}

void FetchOp::wake() {
  int expected = parked;
  if (!state_.compare_exchange_strong(expected, reading, std::memory_order_acq_rel)) return;
  read_from(0, req.max_bytes, true, 0);
}

}  // namespace

void handle_fetch(RequestContext& ctx, Responder respond) {
  FetchRequest req;
  if (!ctx.decode(req)) return respond.close();
  if (ctx.version() >= 7 && req.session_id != 0) {
    FetchResponse resp;
    resp.error_code = kFetchSessionIdNotFound;
    return respond.send(resp);
  }
  // fetch.max.bytes caps what any fetch asks for, as in Kafka (min_bytes never above it).
  req.max_bytes = std::min(req.max_bytes, ctx.broker.config().fetch_max_bytes);
  req.min_bytes = std::min(req.min_bytes, req.max_bytes);
  auto op = std::make_shared<FetchOp>(ctx.broker, ctx.conn.thread_index, std::move(respond));
  op->req = std::move(req);
  const bool from_replica = op->req.replica_id >= 0;
  const bool replica_allowed = from_replica && authorize_cluster(ctx, AclOperation::cluster_action);
  for (const auto& topic : op->req.topics) {
    op->topic_allowed.push_back(
        from_replica ? replica_allowed
                     : authorize(ctx, AclOperation::read, ResourceType::topic, topic.topic));
  }
  op->start();
}

}  // namespace kaffa::broker
