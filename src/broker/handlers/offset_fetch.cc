// OffsetFetch (key 9), versions 0-9 (flexible from 6).
// v0-7 ask for one group; v8+ for several (each on its own shard; answered once all are done).
// Null topics (v2+) means every committed partition of the group. A partition without a committed
// offset (unknown topics included) answers offset -1, leader epoch -1 and metadata "" with no
// error, as Kafka. require_stable (v7+): a partition with transactional offsets awaiting their
// transaction's marker (TxnOffsetCommit) answers UNSTABLE_OFFSET_COMMIT with offset -1 (the
// client retries), as Kafka; without it the committed offset is answered (pending ones are never
// shown). A plain commit is visible once durable, so it is never unstable. Group errors
// (COORDINATOR_LOAD_IN_PROGRESS while the shard loads) are the group-level error_code from v2 on,
// and each requested partition's error in v0-1. The member id / epoch of v9 concern KIP-848 groups:
// a member of a consumer group must give its current epoch (UNKNOWN_MEMBER_ID, STALE_MEMBER_EPOCH
// as the group error), while no member id and an epoch < 0 is an admin's read; classic groups
// ignore them (as Kafka). Authorization: DESCRIBE on each group (else that group's
// error GROUP_AUTHORIZATION_FAILED) and on each topic: a named topic's partitions answer
// TOPIC_AUTHORIZATION_FAILED, and "all partitions" leaves such topics out, as Kafka.
#include "protocol/messages/offset_fetch.h"

#include <atomic>
#include <functional>
#include <memory>
#include <set>

#include "broker/authorize.h"
#include "broker/broker.h"
#include "broker/handlers/handlers.h"
#include "coordinator/group_coordinator.h"
#include "coordinator/group_manager.h"
#include "coordinator/offset_store.h"
#include "protocol/error_codes.h"

namespace kaffa::broker {
namespace {

using coordinator::CommittedOffset;
using coordinator::CoordinatorShard;
using protocol::ErrorCode;
using protocol::OffsetFetchRequest;
using protocol::OffsetFetchResponse;

struct PartitionResult {
  int32_t partition = 0;
  int64_t offset = -1;
  int32_t leader_epoch = -1;
  std::string metadata;
  int16_t error = 0;
};

struct TopicResult {
  std::string name;
  std::vector<PartitionResult> partitions;
};

struct WantedTopic {
  std::string name;
  std::vector<int32_t> partitions;
};

// One group of the request; filled on its shard's loop only.
struct GroupFetch {
  std::string group_id;
  std::optional<std::vector<WantedTopic>> topics;  // nullopt: all committed partitions
  std::optional<std::string> member_id;            // v9
  int32_t member_epoch = -1;
  std::vector<TopicResult> result;
  int16_t error = 0;
};

struct OffsetFetchOp {
  std::vector<GroupFetch> groups;
  std::function<bool(const std::string&)> may_describe_topic;  // any thread
  std::optional<Responder> respond;
  int16_t version = 0;
  bool require_stable = false;
  std::atomic<size_t> pending{0};
};

PartitionResult result_of(int32_t partition, const CommittedOffset* v) {
  PartitionResult r;
  r.partition = partition;
  if (v) {
    r.offset = v->offset;
    r.leader_epoch = v->leader_epoch;
    r.metadata = v->metadata;
  }
  return r;
}

// On the group's shard loop.
void fetch_on_shard(GroupFetch& g, CoordinatorShard* shard, ErrorCode why, bool require_stable,
                    const std::function<bool(const std::string&)>& may_describe_topic) {
  if (!shard) {
    g.error = protocol::code(why);
    return;
  }
  if (auto e = shard->groups().validate_offset_fetch(g.group_id, g.member_id, g.member_epoch);
      e != ErrorCode::none) {
    g.error = protocol::code(e);
    return;
  }
  const auto& store = shard->offsets();
  const bool check_pending = require_stable && store.has_pending(g.group_id);
  auto stable_result = [&](const std::string& topic, int32_t p, const CommittedOffset* v) {
    if (check_pending && store.has_pending(g.group_id, topic, p)) {
      PartitionResult r = result_of(p, nullptr);
      r.error = protocol::code(ErrorCode::unstable_offset_commit);
      return r;
    }
    return result_of(p, v);
  };
  if (!g.topics) {
    const auto* all = store.group_offsets(g.group_id);
    if (!all) return;
    for (const auto& [topic, partitions] : *all) {
      if (!may_describe_topic(topic)) continue;
      auto& t = g.result.emplace_back();
      t.name = topic;
      for (const auto& [partition, value] : partitions) {
        t.partitions.push_back(stable_result(topic, partition, &value));
      }
    }
    return;
  }
  for (const auto& want : *g.topics) {
    auto& t = g.result.emplace_back();
    t.name = want.name;
    const bool allowed = may_describe_topic(want.name);
    for (int32_t p : want.partitions) {
      if (!allowed) {
        t.partitions.push_back(result_of(p, nullptr));
        t.partitions.back().error = protocol::code(ErrorCode::topic_authorization_failed);
        continue;
      }
      t.partitions.push_back(stable_result(want.name, p, store.get(g.group_id, want.name, p)));
    }
  }
}

template <class Topic>
void fill_topics(const GroupFetch& g, std::vector<Topic>& out) {
  for (const auto& t : g.result) {
    auto& topic = out.emplace_back();
    topic.name = t.name;
    for (const auto& p : t.partitions) {
      auto& part = topic.partitions.emplace_back();
      part.partition_index = p.partition;
      part.committed_offset = p.offset;
      part.committed_leader_epoch = p.leader_epoch;
      part.metadata = p.metadata;
      part.error_code = p.error;
    }
  }
}

void answer(OffsetFetchOp& op) {
  OffsetFetchResponse resp;
  if (op.version >= 8) {
    for (const auto& g : op.groups) {
      auto& out = resp.groups.emplace_back();
      out.group_id = g.group_id;
      out.error_code = g.error;
      if (g.error == 0) fill_topics(g, out.topics);
    }
    return op.respond->send(resp);
  }
  auto& g = op.groups.front();
  if (g.error != 0 && op.version < 2) {
    // No group-level error before v2: every requested partition carries it.
    g.result.clear();
    for (const auto& want : g.topics.value_or(std::vector<WantedTopic>{})) {
      auto& t = g.result.emplace_back();
      t.name = want.name;
      for (int32_t p : want.partitions) {
        t.partitions.push_back(result_of(p, nullptr));
        t.partitions.back().error = g.error;
      }
    }
  }
  resp.error_code = g.error;
  if (g.error == 0 || op.version < 2) fill_topics(g, resp.topics);
  op.respond->send(resp);
}

template <class Topic>
std::optional<std::vector<WantedTopic>> wanted(const std::optional<std::vector<Topic>>& topics) {
  if (!topics) return std::nullopt;
  std::vector<WantedTopic> out;
  out.reserve(topics->size());
  for (const auto& t : *topics) out.push_back({t.name, t.partition_indexes});
  return out;
}

}  // namespace

void handle_offset_fetch(RequestContext& ctx, Responder respond) {
  OffsetFetchRequest req;
  if (!ctx.decode(req)) return respond.close();
  auto op = std::make_shared<OffsetFetchOp>();
  op->respond.emplace(std::move(respond));
  op->version = ctx.version();
  op->require_stable = req.require_stable;
  if (op->version >= 8) {
    for (auto& g : req.groups) {
      op->groups.push_back(
          {std::move(g.group_id), wanted(g.topics), std::move(g.member_id), g.member_epoch, {}, 0});
    }
  } else {
    op->groups.push_back({std::move(req.group_id), wanted(req.topics), std::nullopt, -1, {}, 0});
  }
  if (op->groups.empty()) return answer(*op);

  // Topic checks run on the shards: the principal and host are captured now. Named topics are
  // checked (and a refusal logged) here, once per topic.
  std::set<std::string> named_denied;
  for (const auto& g : op->groups) {
    for (const auto& t : g.topics.value_or(std::vector<WantedTopic>{})) {
      if (!named_denied.contains(t.name) &&
          !authorize(ctx, AclOperation::describe, ResourceType::topic, t.name)) {
        named_denied.insert(t.name);
      }
    }
  }
  op->may_describe_topic = [authorizer = ctx.broker.authorizer(), principal = ctx.principal(),
                            host = client_host(ctx.conn),
                            named_denied = std::move(named_denied)](const std::string& topic) {
    return !named_denied.contains(topic) &&
           (authorizer == nullptr || authorizer->authorize(principal, host, AclOperation::describe,
                                                           ResourceType::topic, topic));
  };
  // Slots are fixed before any shard runs; each shard writes only its own group's slot, and the
  // last one to finish (acq_rel on `pending`) answers.
  op->pending.store(op->groups.size(), std::memory_order_relaxed);
  auto& coordinator = ctx.broker.coordinator();
  for (size_t i = 0; i < op->groups.size(); ++i) {
    if (!authorize(ctx, AclOperation::describe, ResourceType::group, op->groups[i].group_id)) {
      op->groups[i].error = protocol::code(ErrorCode::group_authorization_failed);
      if (op->pending.fetch_sub(1, std::memory_order_acq_rel) == 1) answer(*op);
      continue;
    }
    coordinator.with_shard(op->groups[i].group_id, [op, i](CoordinatorShard* shard, ErrorCode why) {
      fetch_on_shard(op->groups[i], shard, why, op->require_stable, op->may_describe_topic);
      if (op->pending.fetch_sub(1, std::memory_order_acq_rel) == 1) answer(*op);
    });
  }
}

}  // namespace kaffa::broker
