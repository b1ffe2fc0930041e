// DescribeProducers (key 61), version 0 (flexible): the producers a partition's log tracks
// (idempotent and transactional: storage::ProducerStateManager), each with its epoch, the last
// sequence of its newest data batch (-1 when it only wrote markers), the timestamp of its last
// batch, the coordinator epoch of its last marker and the first offset of its ongoing
// transaction (-1 when none). This is how kafka-transactions.sh finds a hanging transaction: an
// open transaction no coordinator knows of.
//
// Kafka's rules (KafkaApis.handleDescribeProducersRequest): an invalid topic name answers
// INVALID_TOPIC_EXCEPTION, then READ on the topic (TOPIC_AUTHORIZATION_FAILED), then the topic's
// existence (UNKNOWN_TOPIC_OR_PARTITION); a partition this broker has no replica of answers as
// Broker::no_replica_error says. Any replica answers, the leader or a follower (its log tracks the
// same producers), read on the partition's owner loop.
#include "protocol/messages/describe_producers.h"

#include "broker/authorize.h"
#include "broker/broker.h"
#include "broker/handlers/gathered_response.h"
#include "broker/handlers/handlers.h"
#include "protocol/error_codes.h"

namespace kaffa::broker {
namespace {

using protocol::DescribeProducersResponse;
using protocol::ErrorCode;

void describe(const cluster::Partition& partition,
              DescribeProducersResponse::PartitionResponse& out) {
  for (const auto& [id, e] : partition.producers().entries()) {
    auto& p = out.active_producers.emplace_back();
    p.producer_id = id;
    p.producer_epoch = e.epoch;
    p.last_sequence = e.batches.empty() ? -1 : e.batches.back().last_seq;
    p.last_timestamp = e.last_timestamp;
    p.coordinator_epoch = e.coordinator_epoch;
    p.current_txn_start_offset = e.txn_first_offset;
  }
}

}  // namespace

void handle_describe_producers(RequestContext& ctx, Responder respond) {
  protocol::DescribeProducersRequest req;
  if (!ctx.decode(req)) return respond.close();
  auto op = std::make_shared<GatheredResponse<DescribeProducersResponse>>();
  op->respond.emplace(std::move(respond));
  // Every slot exists before any partition is read: the reads fill them from other loops.
  for (const auto& t : req.topics) {
    auto& topic = op->resp.topics.emplace_back();
    topic.name = t.name;
    for (int32_t index : t.partition_indexes)
      topic.partitions.emplace_back().partition_index = index;
  }
  for (size_t i = 0; i < req.topics.size(); ++i) {
    const auto& t = req.topics[i];
    ErrorCode topic_error = ErrorCode::none;
    std::optional<std::string> message;
    if (auto why = cluster::invalid_topic_name(t.name)) {
      topic_error = ErrorCode::invalid_topic_exception;
      message = std::move(*why);
    } else if (!authorize(ctx, AclOperation::read, ResourceType::topic, t.name)) {
      topic_error = ErrorCode::topic_authorization_failed;
    } else if (!ctx.broker.topics().find(t.name)) {
      topic_error = ErrorCode::unknown_topic_or_partition;
    }
    for (auto& out : op->resp.topics[i].partitions) {
      if (topic_error != ErrorCode::none) {
        out.error_code = protocol::code(topic_error);
        out.error_message = message;
        continue;
      }
      auto partition = ctx.broker.partitions().get(t.name, out.partition_index);
      if (!partition) {
        out.error_code = protocol::code(ctx.broker.no_replica_error(t.name, out.partition_index));
        continue;
      }
      op->pending.fetch_add(1, std::memory_order_relaxed);
      ctx.broker.post(partition->shard(), [op, partition, &out] {
        describe(*partition, out);
        op->finish_one();
      });
    }
  }
  op->finish_one();
}

}  // namespace kaffa::broker
