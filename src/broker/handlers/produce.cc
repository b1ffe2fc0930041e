// Produce (key 0), versions 3-11 (flexible from 9). Versions 0-2 are advertised, because
// librdkafka turns compression off when Produce 0 is missing from the range, and answered with
// UNSUPPORTED_VERSION per partition (they carry the legacy message formats, not stored here).
//
// Each partition's batches are validated and appended on the partition's owner loop, in place in
// the request buffer (only base offsets, the leader epoch and, for LogAppendTime, the max
// timestamp change). acks=1 answers after the append, acks=-1 (all) on a single node once the
// bytes are on disk (fdatasync shared with every append since the last: group commit) and, for a
// replicated partition, once the high watermark passed them (every in-sync replica has them;
// on disk too when the leader is alone in its ISR: Partition::when_replicated), acks=0 gets no
// response. A follower answers
// NOT_LEADER_OR_FOLLOWER, from v10 with the leader hints of KIP-951 (leader_hints.h); acks=all to a
// leader whose ISR is below min.insync.replicas NOT_ENOUGH_REPLICAS (nothing written), or
// NOT_ENOUGH_REPLICAS_AFTER_APPEND when the ISR shrank below it while the batch was being
// replicated, REQUEST_TIMED_OUT when the ISR did not get it within the request's timeout_ms.
// Partitions of one request are independent: an error in one does not affect the others.
// Authorization: WRITE on each topic, checked before the topic's existence (TOPIC_AUTHORIZATION_
// FAILED per partition, as Kafka); idempotent batches need nothing more, since Kafka 3.0 checks
// IDEMPOTENT_WRITE (or WRITE on any topic) at InitProducerId instead. A request carrying a
// transactional id also needs WRITE on that id (TRANSACTIONAL_ID_AUTHORIZATION_FAILED for every
// partition). Transactions (KIP-890 part 1, transaction.partition.verification.enable, on by
// default): a transactional batch of a producer with no transaction ongoing on the partition is
// appended only once the transactional id's coordinator confirmed that the partition is in the
// producer's transaction (txn/partition_verifier.h, with a guard from the partition so that a
// marker written meanwhile voids the answer), else refused with the verifier's error
// (INVALID_TXN_STATE for a partition outside the transaction, NOT_ENOUGH_REPLICAS for what to
// retry); without a transactional id such a batch is refused. The partition then tracks the
// open transaction (cluster/partition.h).
#include "protocol/messages/produce.h"

#include <algorithm>
#include <atomic>
#include <chrono>
#include <memory>
#include <optional>
#include <utility>

#include "base/clock.h"
#include "broker/authorize.h"
#include "broker/broker.h"
#include "broker/handlers/handlers.h"
#include "broker/handlers/leader_hints.h"
#include "protocol/error_codes.h"

namespace kaffa::broker {
namespace {

using protocol::ErrorCode;
using protocol::ProduceRequest;
using protocol::ProduceResponse;

// One request in flight: owns the frame (the record bytes are appended from it) and the response
// being filled in. Each partition slot is written by exactly one owner loop; the last partition
// to finish sends the response.
struct ProduceOp {
  ProduceOp(Broker& b, int16_t v, std::string l) : broker(b), version(v), listener(std::move(l)) {}

  Broker& broker;
  const int16_t version;
  const std::string listener;  // the client's, for the leader hints' addresses
  net::RequestFrame frame;
  ProduceRequest req;
  ProduceResponse resp;
  std::optional<Responder> respond;   // empty for acks=0
  std::atomic<size_t> pending{1};     // partitions + 1 for the dispatching thread
  std::atomic<size_t> unappended{1};  // partitions not appended (nor refused) yet, + 1 likewise

  // Once every partition's records are in the log (or refused), the request's share of
  // queued.max.request.bytes goes back, as Kafka releases a request's buffer once handled:
  // an acks=all wait must not hold back the followers' fetches that end it.
  void appended_one() {
    if (unappended.fetch_sub(1, std::memory_order_acq_rel) == 1) frame.memory.reset();
  }

  void finish_one() {
    if (pending.fetch_sub(1, std::memory_order_acq_rel) != 1 || !respond) return;
    if (version >= 10) add_leader_hints();
    respond->send(resp);
  }

  // KIP-951 (v10+): where the partitions answered NOT_LEADER_OR_FOLLOWER are led now.
  void add_leader_hints() {
    cluster::ImagePtr image;
    for (size_t i = 0; i < resp.responses.size(); ++i) {
      for (auto& out : resp.responses[i].partition_responses) {
        if (out.error_code != protocol::code(ErrorCode::not_leader_or_follower)) continue;
        if (!image) image = broker.image();
        apply_leader_hint(
            leader_hint(broker, image.get(), listener, req.topic_data[i].name, out.index), out,
            resp.node_endpoints);
      }
    }
  }
};

void fill(ProduceResponse::PartitionProduceResponse& out,
          const cluster::Partition::AppendOutcome& r) {
  out.error_code = protocol::code(r.error);
  if (r.error != ErrorCode::none) {
    out.base_offset = -1;
    if (!r.message.empty()) out.error_message = r.message;
    if (r.record_index >= 0) out.record_errors.push_back({r.record_index, r.message, {}});
    return;
  }
  out.base_offset = r.base_offset;
  out.log_append_time_ms = r.log_append_time;
  out.log_start_offset = r.log_start_offset;
}

// Kafka's internal topics: only the broker itself appends to them.
bool is_internal(const std::string& topic) {
  return topic == coordinator::kOffsetsTopic || topic == "__transaction_state";
}

// On the partition's owner loop: appends partition j of topic i and answers it (or registers the
// acks=all waiters). `txn_guard` as Partition::append.
void append_partition(const std::shared_ptr<ProduceOp>& op,
                      const std::shared_ptr<cluster::Partition>& partition, size_t i, size_t j,
                      int16_t acks, Broker& broker, std::optional<uint64_t> txn_guard) {
  auto& out = op->resp.responses[i].partition_responses[j];
  const std::string_view bytes = op->req.topic_data[i].partition_data[j].records->bytes;
  // The frame buffer is ours (moved into the op): the bytes may be patched in place.
  auto* data = reinterpret_cast<uint8_t*>(const_cast<char*>(bytes.data()));
  const auto r = partition->append(data, bytes.size(), clock::wall_ms(), acks == -1,
                                   cluster::Partition::AppendOrigin::client, txn_guard);
  op->appended_one();
  fill(out, r);
  if (acks != -1 || r.error != ErrorCode::none) return op->finish_one();
  if (!partition->replicated()) {  // a single node: acks=all means on disk
    return partition->when_durable(r.last_offset + 1, [op, &out](bool ok) {
      if (!ok) {
        out.error_code = protocol::code(ErrorCode::kafka_storage_error);
        out.base_offset = -1;
      }
      op->finish_one();
    });
  }
  // Replicated: answered when the ISR has the batch, or REQUEST_TIMED_OUT after the
  // request's timeout_ms (Kafka's DelayedProduce); both run on this owner loop.
  auto settled = std::make_shared<bool>(false);
  partition->when_replicated(r.last_offset + 1, [op, &out, settled](ErrorCode e) {
    if (std::exchange(*settled, true)) return;
    if (e != ErrorCode::none) {
      out.error_code = protocol::code(e);
      out.base_offset = -1;
    }
    op->finish_one();
  });
  if (*settled) return;
  broker.post_after(partition->shard(), std::chrono::milliseconds(std::max(op->req.timeout_ms, 0)),
                    [op, &out, settled] {
                      if (std::exchange(*settled, true)) return;
                      out.error_code = protocol::code(ErrorCode::request_timed_out);
                      out.base_offset = -1;
                      op->finish_one();
                    });
}

// On the partition's owner loop. With KIP-890 verification (`verify`): a transactional batch of a
// producer with no transaction ongoing here is appended once its coordinator confirmed that the
// partition is in the transaction (txn/partition_verifier.h), or answered the coordinator's error.
void dispatch_partition(const std::shared_ptr<ProduceOp>& op,
                        const std::shared_ptr<cluster::Partition>& partition, size_t i, size_t j,
                        int16_t acks, bool verify, Broker& broker) {
  if (!verify) return append_partition(op, partition, i, j, acks, broker, std::nullopt);
  // Without a transactional id there is nothing to ask: append() refuses its transactional
  // batches unless their transaction is ongoing here.
  if (!op->req.transactional_id) return append_partition(op, partition, i, j, acks, broker, 0);
  const auto& part = op->req.topic_data[i].partition_data[j];
  const auto* data = reinterpret_cast<const uint8_t*>(part.records->bytes.data());
  const auto v =
      partition->begin_txn_verification(data, part.records->bytes.size(), clock::wall_ms());
  if (v.guard == 0) return append_partition(op, partition, i, j, acks, broker, 0);
  broker.txn_verifier().verify(
      *op->req.transactional_id, v.producer_id, v.producer_epoch,
      {op->req.topic_data[i].name, part.index},
      [op, partition, i, j, acks, &broker, guard = v.guard](ErrorCode verified) {
        broker.post(partition->shard(), [op, partition, i, j, acks, &broker, guard, verified] {
          if (verified == ErrorCode::none) {
            return append_partition(op, partition, i, j, acks, broker, guard);
          }
          op->appended_one();
          auto [e, message] = txn::PartitionVerifier::for_produce(verified);
          auto& out = op->resp.responses[i].partition_responses[j];
          out.error_code = protocol::code(e);
          out.base_offset = -1;
          if (!message.empty()) out.error_message = std::move(message);
          op->finish_one();
        });
      });
}

}  // namespace

void handle_produce(RequestContext& ctx, Responder respond) {
  // The listener is kept only for the versions that carry leader hints.
  auto op = std::make_shared<ProduceOp>(
      ctx.broker, ctx.version(), ctx.version() >= 10 ? ctx.conn.listener_name : std::string());
  if (!ctx.decode(op->req)) return respond.close();
  op->frame = std::move(*ctx.frame);  // the records views point into this buffer
  const int16_t v = ctx.version();
  const int16_t acks = op->req.acks;

  ErrorCode request_error = ErrorCode::none;
  if (v < 3) {
    request_error = ErrorCode::unsupported_version;
  } else if (acks != 0 && acks != 1 && acks != -1) {
    request_error = ErrorCode::invalid_required_acks;
  } else if (op->req.transactional_id.has_value() &&
             !authorize(ctx, AclOperation::write, ResourceType::transactional_id,
                        *op->req.transactional_id)) {
    request_error = ErrorCode::transactional_id_authorization_failed;
  }

  // Build the response skeleton first so that owner loops only fill their own slots.
  for (const auto& topic : op->req.topic_data) {
    auto& t = op->resp.responses.emplace_back();
    t.name = topic.name;
    for (const auto& part : topic.partition_data) {
      auto& p = t.partition_responses.emplace_back();
      p.index = part.index;
      p.base_offset = -1;
      p.error_code = protocol::code(request_error);
    }
  }
  // acks=0: the client expects no response at all, errors included.
  if (acks != 0) op->respond.emplace(std::move(respond));
  // producer_byte_rate: the request's size counts when it arrives, as in Kafka. (acks=0 has no
  // answer to carry the throttle time: not throttled.)
  if (auto who = ctx.broker.quota_identity(ctx); who && op->respond) {
    const int32_t ms =
        ctx.broker.throttle(*who, quotas::kProducerByteRate, static_cast<int64_t>(ctx.body.size()));
    op->resp.throttle_time_ms = ms;
    op->respond->mute_after(ms);
  }
  if (request_error != ErrorCode::none) {
    if (acks == 0) respond.none();
    return op->finish_one();
  }

  Broker& broker = ctx.broker;
  const bool verify = broker.config().txn.verify_partitions;
  for (size_t i = 0; i < op->req.topic_data.size(); ++i) {
    auto& topic = op->req.topic_data[i];
    const bool allowed = authorize(ctx, AclOperation::write, ResourceType::topic, topic.name);
    for (size_t j = 0; j < topic.partition_data.size(); ++j) {
      auto& part = topic.partition_data[j];
      auto& out = op->resp.responses[i].partition_responses[j];
      if (!allowed) {
        out.error_code = protocol::code(ErrorCode::topic_authorization_failed);
        continue;
      }
      auto partition = broker.partitions().get(topic.name, part.index);
      if (partition && is_internal(topic.name)) {
        out.error_code = protocol::code(ErrorCode::invalid_topic_exception);
        out.error_message = "Cannot append to internal topic " + topic.name;
        continue;
      }
      if (!partition) {
        out.error_code = protocol::code(broker.no_replica_error(topic.name, part.index));
        continue;
      }
      if (!part.records.has_value() || part.records->bytes.empty()) {
        out.error_code = protocol::code(ErrorCode::invalid_record);
        out.error_message = "Produce request without records";
        continue;
      }
      op->pending.fetch_add(1, std::memory_order_relaxed);
      op->unappended.fetch_add(1, std::memory_order_relaxed);
      broker.post(partition->shard(), [op, partition, i, j, acks, verify, &broker] {
        dispatch_partition(op, partition, i, j, acks, verify, broker);
      });
    }
  }
  op->appended_one();
  op->finish_one();
  if (acks == 0) respond.none();
}

}  // namespace kaffa::broker
