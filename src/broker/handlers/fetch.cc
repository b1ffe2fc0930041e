// Fetch (key 1), versions 4-17 (flexible from 12).
//
// Topics are named up to v12 and given by id from v13 (KIP-516): an id this broker does not know
// answers UNKNOWN_TOPIC_ID for each of its partitions. v15 moves the replica id into the tagged
// replica_state (KIP-903); v16 adds leader hints (KIP-951, leader_hints.h) to partitions answered
// NOT_LEADER_OR_FOLLOWER or FENCED_LEADER_EPOCH; v17 the follower's directory id (ignored: one
// log directory per broker is all Kaffa reports). Kaffa's own followers fetch with v12, in
// sessions.
//
// The request's budget: max_bytes overall (v3+, capped by the broker's fetch.max.bytes) and
// partition_max_bytes each, spent on the partitions in request order; the first non-empty
// partition may exceed both by one whole batch (KIP-74). Records are file ranges of the segment
// files: on a plaintext listener they go to the socket with sendfile(), never through user space.
//
// Reading: each loop owning partitions of the request reads them, 256 per task so that its
// other work gets turns, the loops at the same time, each partition up to
// min(partition_max_bytes, max_bytes) as if it came first. The last loop to finish then spends the
// budget in request order, cutting each partition's file ranges after its last whole batch that
// fits (a 12-byte header pread per batch boundary it crosses). The answer is the one reading in
// request order gives, with one hop per loop instead of one per partition (a 128-partition fetch
// took 128 cross-thread hops).
//
// When fewer than min_bytes are available and max_wait_ms > 0, the fetch parks: it registers as
// a waiter on each partition and arms one timer; the first append past a fetch offset (or the
// timer) wakes it to read again. No polling. Errors answer at once.
//
// Replication: a fetch with replica_id >= 0 comes from a follower (Partition::read_for_follower):
// it reads up to the log end (not the high watermark), records the follower's position, which
// moves the high watermark and the ISR, and parks until the log end passes its offset. Consumers
// read from the leader, or (v11+, KIP-392) from a follower up to its high watermark; with
// replica.selector.class set to the rack-aware selector, the leader answers a consumer that
// gives its rack_id with preferred_read_replica (an in-sync replica in that rack) and no records.
// current_leader_epoch (v9+) older than the partition's is FENCED_LEADER_EPOCH, newer
// UNKNOWN_LEADER_EPOCH. Replication quotas (KIP-73): a follower out of the ISR of a partition
// whose leader.replication.throttled.replicas names this broker gets no records while
// leader.replication.throttled.rate is exceeded; what such replicas get is counted towards it.
//
// Isolation (v4+): read_uncommitted reads up to the high watermark; read_committed up to the last
// stable offset, with the aborted transactions (producer id, first offset) the returned data may
// hold records of (cluster::Partition::read). last_stable_offset is sent at both levels, as Kafka
// does; aborted_transactions is null for read_uncommitted. When the request's budget cuts a
// partition's data, its list loses the transactions that begin in what was cut.
//
// Fetch sessions (KIP-227, broker/fetch_sessions.h): a full fetch with epoch 0 gets a session; an
// incremental one reads the session's partitions and answers those with something new.
//
// Authorization: READ on each topic (a consumer), or CLUSTER_ACTION on the cluster for a request
// from a replica (replica_id >= 0); refused partitions answer TOPIC_AUTHORIZATION_FAILED, checked
// before existence, as Kafka.
#include "protocol/messages/fetch.h"

#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>

#include "base/clock.h"
#include "broker/authorize.h"
#include "broker/broker.h"
#include "broker/fetch_sessions.h"
#include "broker/handlers/handlers.h"
#include "broker/handlers/leader_hints.h"
#include "cluster/controller_rules.h"
#include "protocol/error_codes.h"
#include "record/batch.h"
#include "record/wire.h"

namespace kaffa::broker {
namespace {

using protocol::ErrorCode;
using protocol::FetchRequest;
using protocol::FetchResponse;

// Partitions of one Fetch a loop reads before its other connections get a turn (a read costs
// a few microseconds: 256 of them hold the loop about a millisecond).
constexpr size_t kReadsPerTurn = 256;

// Cuts `records` (file ranges of whole batches) after the last whole batch within `limit`
// bytes; with `min_one` a first batch larger than `limit` is kept alone. Reads each crossed
// batch's offset and length (12 bytes) from the file; a short read or a length that overruns
// its range ends the records there. Returns the bytes kept; *first_left_out is the base offset
// of the first batch cut off (-1 if the records ended early instead).
int64_t keep_whole_batches(protocol::Records& records, int64_t limit, bool min_one,
                           int64_t* first_left_out) {
  *first_left_out = -1;
  constexpr size_t kOffsetAndLength = record::kBatchOverhead;  // baseOffset + batchLength
  int64_t kept = 0;
  for (size_t i = 0; i < records.files.size(); ++i) {
    auto& range = records.files[i];
    size_t pos = 0;
    while (pos < range.length) {
      unsigned char head[kOffsetAndLength];
      if (range.length - pos < kOffsetAndLength ||
          ::pread(range.fd, head, kOffsetAndLength, range.offset + static_cast<off_t>(pos)) !=
              static_cast<ssize_t>(kOffsetAndLength)) {
        break;
      }
      const size_t batch =
          kOffsetAndLength + record::wire::load_be32(head + record::batch_offset::kBatchLength);
      if (batch > range.length - pos) break;
      if (kept + static_cast<int64_t>(batch) > limit && !(min_one && kept == 0)) {
        *first_left_out = static_cast<int64_t>(record::wire::load_be64(head));
        break;
      }
      pos += batch;
      kept += static_cast<int64_t>(batch);
    }
    if (pos < range.length) {
      range.length = pos;
      records.files.resize(pos > 0 ? i + 1 : i);
      break;
    }
  }
  return kept;
}

class FetchOp : public cluster::FetchWaiter, public std::enable_shared_from_this<FetchOp> {
 public:
  FetchOp(Broker& broker, size_t home, Responder respond, int16_t version, std::string listener)
      : broker_(broker),
        home_(home),
        respond_(std::move(respond)),
        version_(version),
        listener_(std::move(listener)) {}

  FetchRequest req;  // v13+: each topic's name resolved from its id ("" when unknown)
  FetchResponse resp;
  FetchSessions::Context session;      // req.topics are the session's for an incremental one
  std::vector<ErrorCode> topic_error;  // per request topic: refused or unknown
  std::optional<Broker::QuotaIdentity> quota_who;  // set while client quotas exist
  bool follower_ok = false;  // a consumer fetch v11+: followers may serve it (KIP-392)
  cluster::Partition::Isolation isolation = cluster::Partition::Isolation::read_uncommitted;

  void start();
  // KIP-392: the replica this consumer should read `topic`-`index` from instead of this leader,
  // or -1.
  int32_t preferred_replica(const std::string& topic, int32_t index, const cluster::Partition& p);
  void fire() override { wake(); }

 private:
  struct Target {
    FetchResponse::PartitionData* out;
    std::shared_ptr<cluster::Partition> partition;
    int64_t offset;
    int32_t max_bytes;
    int64_t bytes = 0;       // of the latest read, after the budget (metrics)
    bool throttled = false;  // a follower's read of a leader-throttled replica (KIP-73)
    bool held_back = false;  // ... answered empty: over the quota (a park waits for the timer)
  };
  enum State : int { reading = 0, parked = 1, done = 2 };

  void read_all();
  void read_group(size_t g, size_t from);  // by_shard_[g] from its from-th target, on its loop
  void read_one(Target& t);                // on the partition's loop
  void spend_budget();                     // once every loop has read
  void finished(int64_t total, bool read_error);
  void park();
  void wake();
  void add_leader_hints();  // v16+

  Broker& broker_;
  const size_t home_;
  Responder respond_;
  const int16_t version_;
  const std::string listener_;
  std::vector<Target> targets_;
  // Targets by owning loop, in request order: (shard, indexes into targets_).
  std::vector<std::pair<size_t, std::vector<size_t>>> by_shard_;
  cluster::ImagePtr image_;  // taken once, for preferred_replica
  std::atomic<size_t> loops_reading_{0};
  bool any_error_ = false;  // a partition refused in start()
  bool timer_armed_ = false;
  std::atomic<int> state_{reading};
  std::atomic<bool> expired_{false};
};

void FetchOp::start() {
  for (size_t i = 0; i < req.topics.size(); ++i) {
    const auto& topic = req.topics[i];
    auto& t = resp.responses.emplace_back();
    t.topic = topic.topic;
    t.topic_id = topic.topic_id;
    t.partitions.reserve(topic.partitions.size());
    for (const auto& p : topic.partitions) {
      auto& out = t.partitions.emplace_back();
      out.partition_index = p.partition;
      out.high_watermark = -1;
      out.records = protocol::Records{};
      if (req.isolation_level == 1) out.aborted_transactions.emplace();
      if (topic_error[i] != ErrorCode::none) {
        out.error_code = protocol::code(topic_error[i]);
        any_error_ = true;
        continue;
      }
      auto partition = broker_.partitions().get(topic.topic, p.partition);
      if (!partition) {
        out.error_code = protocol::code(broker_.no_replica_error(topic.topic, p.partition));
        any_error_ = true;
      } else if (p.current_leader_epoch > partition->leader_epoch()) {
        out.error_code = protocol::code(ErrorCode::unknown_leader_epoch);
        any_error_ = true;
      } else if (p.current_leader_epoch >= 0 &&
                 p.current_leader_epoch < partition->leader_epoch()) {
        out.error_code = protocol::code(ErrorCode::fenced_leader_epoch);
        any_error_ = true;
      } else if (const int32_t to = preferred_replica(topic.topic, p.partition, *partition);
                 to >= 0) {
        out.preferred_read_replica = to;  // no records: the consumer goes there
        out.high_watermark = partition->high_watermark_snapshot();
        out.last_stable_offset = partition->last_stable_offset_snapshot();
        out.log_start_offset = partition->log_start_snapshot();
      } else {
        targets_.push_back({&out, std::move(partition), p.fetch_offset, p.partition_max_bytes});
      }
    }
  }
  for (size_t k = 0; k < targets_.size(); ++k) {
    const size_t shard = targets_[k].partition->shard();
    auto it = std::find_if(by_shard_.begin(), by_shard_.end(),
                           [shard](const auto& g) { return g.first == shard; });
    if (it == by_shard_.end()) it = by_shard_.insert(by_shard_.end(), {shard, {}});
    it->second.push_back(k);
  }
  read_all();
}

int32_t FetchOp::preferred_replica(const std::string& topic, int32_t index,
                                   const cluster::Partition& p) {
  if (!follower_ok || req.rack_id.empty() || !p.is_leader() ||
      !broker_.config().rack_aware_replica_selector) {
    return -1;
  }
  if (!image_) image_ = broker_.image();
  const cluster::PartitionState* state = image_ ? image_->partition(topic, index) : nullptr;
  if (state == nullptr) return -1;
  return cluster::preferred_read_replica(*image_, *state, req.rack_id, broker_.config().node_id);
}

void FetchOp::read_all() {
  if (targets_.empty()) return finished(0, false);
  loops_reading_.store(by_shard_.size(), std::memory_order_relaxed);
  for (size_t g = 0; g < by_shard_.size(); ++g) read_group(g, 0);
}

void FetchOp::read_group(size_t g, size_t from) {
  auto self = shared_from_this();
  broker_.post(by_shard_[g].first, [self, g, from] {
    const auto& ks = self->by_shard_[g].second;
    const size_t to = std::min(ks.size(), from + kReadsPerTurn);
    for (size_t i = from; i < to; ++i) self->read_one(self->targets_[ks[i]]);
    if (to < ks.size()) return self->read_group(g, to);  // the loop's other work goes first
    // The last loop to finish sees every other loop's reads (acq_rel) and carries on.
    if (self->loops_reading_.fetch_sub(1, std::memory_order_acq_rel) == 1) self->spend_budget();
  });
}

void FetchOp::read_one(Target& t) {
  const int64_t limit = std::max<int64_t>(std::min<int64_t>(t.max_bytes, req.max_bytes), 0);
  const int32_t replica = req.replica_id;
  auto r = replica >= 0
               ? t.partition->read_for_follower(replica, t.offset, limit, true, clock::wall_ms())
               : t.partition->read(t.offset, limit, true, follower_ok, isolation);
  t.out->error_code = protocol::code(r.error);
  t.out->high_watermark = r.high_watermark;
  t.out->last_stable_offset = r.last_stable_offset;
  if (t.out->aborted_transactions) {  // read_committed
    t.out->aborted_transactions->clear();
    for (const auto& a : r.aborted) {
      auto& e = t.out->aborted_transactions->emplace_back();
      e.producer_id = a.producer_id;
      e.first_offset = a.first_offset;
    }
  }
  t.out->log_start_offset = r.log_start_offset;
  t.out->records = std::move(r.records);
  t.bytes = r.bytes;
  // KIP-73, as Kafka's shouldLeaderThrottle: a listed replica out of the ISR gets no records
  // while the leader quota is exceeded (its position was recorded by the read).
  t.throttled = replica >= 0 && t.partition->leader_throttled();
  t.held_back = false;
  if (t.throttled && t.bytes > 0 && !t.partition->in_isr(replica)) {
    auto& quota = broker_.leader_replication_quota();
    if (quota.exceeded(clock::steady_ms())) {
      quota.count_held_back();
      t.out->records = protocol::Records{};
      t.bytes = 0;
      t.held_back = true;
    }
  }
}

void FetchOp::spend_budget() {
  int64_t budget = req.max_bytes;
  int64_t total = 0;
  bool min_one = true;
  bool read_error = false;
  for (auto& t : targets_) {
    if (t.out->error_code != 0) read_error = true;
    const int64_t limit = std::max<int64_t>(std::min<int64_t>(t.max_bytes, budget), 0);
    if (t.bytes > limit) {
      int64_t upper = -1;
      t.bytes = keep_whole_batches(*t.out->records, limit, min_one, &upper);
      // The aborted transactions of what is sent, as Kafka bounds its list by the read's end:
      // none once nothing is, and none that begins at or after the first batch cut off.
      if (auto& aborted = t.out->aborted_transactions; aborted && (t.bytes == 0 || upper >= 0)) {
        std::erase_if(*aborted,
                      [&](const auto& a) { return t.bytes == 0 || a.first_offset >= upper; });
      }
    }
    if (t.bytes > 0) min_one = false;
    budget -= t.bytes;
    total += t.bytes;
  }
  finished(total, read_error);
}

void FetchOp::finished(int64_t total, bool read_error) {
  if (total >= req.min_bytes || any_error_ || read_error || req.max_wait_ms <= 0 ||
      targets_.empty() || expired_.load(std::memory_order_acquire)) {
    state_.store(done, std::memory_order_release);
    // consumer_byte_rate: what this answer sends (followers are not throttled here). As in Kafka,
    // an answer that takes the rate over the quota is sent empty with the throttle time, and its
    // bytes are taken back: the records are fetched again once the throttle time is over.
    if (quota_who && req.replica_id < 0) {
      const int32_t ms = broker_.throttle(*quota_who, quotas::kConsumerByteRate, total);
      resp.throttle_time_ms = ms;
      respond_.mute_after(ms);
      if (ms > 0) {
        broker_.unrecord(*quota_who, quotas::kConsumerByteRate, total);
        broker_.fetch_sessions().throttled(session, resp);
        respond_.send(resp);
        return;
      }
    }
    int64_t throttled_bytes = 0;  // what listed replicas get counts towards the leader quota
    for (const auto& t : targets_) {
      if (t.bytes > 0) t.partition->count_bytes_out(t.bytes);
      if (t.throttled) throttled_bytes += t.bytes;
    }
    if (throttled_bytes > 0) {  // no clock read for the answers of consumers
      broker_.leader_replication_quota().record(throttled_bytes, clock::steady_ms());
    }
    if (version_ >= 16 && (any_error_ || read_error)) add_leader_hints();
    broker_.fetch_sessions().close(session, req, resp, clock::wall_ms());
    respond_.send(resp);
    return;
  }
  park();
}

void FetchOp::add_leader_hints() {
  const cluster::ImagePtr image = broker_.image();
  for (size_t i = 0; i < resp.responses.size(); ++i) {
    for (auto& out : resp.responses[i].partitions) {
      if (out.error_code != protocol::code(ErrorCode::not_leader_or_follower) &&
          out.error_code != protocol::code(ErrorCode::fenced_leader_epoch)) {
        continue;
      }
      apply_leader_hint(
          leader_hint(broker_, image.get(), listener_, req.topics[i].topic, out.partition_index),
          out, resp.node_endpoints);
    }
  }
}

void FetchOp::park() {
  state_.store(parked, std::memory_order_release);
  auto self = shared_from_this();
  for (const auto& t : targets_) {
    // A held-back partition has data already: waiting on it would wake this fetch at once.
    if (t.held_back) continue;
    broker_.post(t.partition->shard(), [self, p = t.partition, offset = t.offset] {
      if (self->req.replica_id >= 0) {
        p->add_replica_waiter(offset, self);
      } else {
        p->add_waiter(offset, self, self->follower_ok, self->isolation);
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
  read_all();
}

}  // namespace

void handle_fetch(RequestContext& ctx, Responder respond) {
  FetchRequest req;
  if (!ctx.decode(req)) return respond.close();
  const int16_t v = ctx.version();
  if (v >= 15) req.replica_id = req.replica_state.replica_id;
  auto& sessions = ctx.broker.fetch_sessions();
  FetchSessions::Context session = sessions.open(req, v, clock::wall_ms());
  if (session.kind == FetchSessions::Context::Kind::error) {
    FetchResponse resp;
    sessions.close(session, req, resp, 0);
    return respond.send(resp);
  }
  // fetch.max.bytes caps what any fetch asks for, as in Kafka (min_bytes never above it).
  req.max_bytes = std::min(req.max_bytes, ctx.broker.config().fetch_max_bytes);
  req.min_bytes = std::min(req.min_bytes, req.max_bytes);
  // The listener is kept only for the versions that carry leader hints.
  auto op = std::make_shared<FetchOp>(ctx.broker, ctx.conn.thread_index, std::move(respond), v,
                                      v >= 16 ? ctx.conn.listener_name : std::string());
  op->req = std::move(req);
  op->session = session;
  op->quota_who = ctx.broker.quota_identity(ctx);
  // Kafka: a consumer asks for at most what its quota lets it fetch in the measured span, so that
  // an answer fits in the quota (the first batch is still sent whole).
  if (op->quota_who && op->req.replica_id < 0) {
    if (auto most = ctx.broker.quota_window_bytes(*op->quota_who, quotas::kConsumerByteRate)) {
      op->req.max_bytes = static_cast<int32_t>(
          std::clamp<int64_t>(*most, 0, static_cast<int64_t>(op->req.max_bytes)));
      op->req.min_bytes = std::min(op->req.min_bytes, op->req.max_bytes);
    }
  }
  op->follower_ok = op->req.replica_id < 0 && v >= 11;
  if (op->req.replica_id < 0 && op->req.isolation_level == 1) {
    op->isolation = cluster::Partition::Isolation::read_committed;
  }
  const bool from_replica = op->req.replica_id >= 0;
  const bool replica_allowed = from_replica && authorize_cluster(ctx, AclOperation::cluster_action);
  for (auto& topic : op->req.topics) {
    if (v >= 13) {
      auto name = ctx.broker.topics().name_of(topic.topic_id);
      if (!name) {
        op->topic_error.push_back(ErrorCode::unknown_topic_id);
        continue;
      }
      topic.topic = std::move(*name);
    }
    const bool allowed = from_replica
                             ? replica_allowed
                             : authorize(ctx, AclOperation::read, ResourceType::topic, topic.topic);
    op->topic_error.push_back(allowed ? ErrorCode::none : ErrorCode::topic_authorization_failed);
  }
  op->start();
}

}  // namespace kaffa::broker
