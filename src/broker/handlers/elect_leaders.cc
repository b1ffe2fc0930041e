// ElectLeaders (key 43), versions 0-2 (flexible from 2; v1 adds the election type and a top-level
// error, KIP-460). Type 0 (preferred, the only one of v0) makes each partition's first replica
// its leader when it is alive and in sync (ELECTION_NOT_NEEDED when it leads already,
// PREFERRED_LEADER_NOT_AVAILABLE otherwise); type 1 (unclean) gives a partition without leader any
// live replica (ELIGIBLE_LEADERS_NOT_AVAILABLE when none is alive, ELECTION_NOT_NEEDED when it has
// a leader). Unknown partitions are UNKNOWN_TOPIC_OR_PARTITION; a null partition list means every
// partition, and then partitions needing no election are left out of the answer (as Kafka).
// In a cluster the elections are compare-and-swaps in the metadata store; on a single node this
// broker leads everything, so no election is ever needed.
// Authorization: ALTER on the cluster, else CLUSTER_AUTHORIZATION_FAILED for every partition (and
// at the top for v1+).
#include "protocol/messages/elect_leaders.h"

#include <map>

#include "broker/authorize.h"
#include "broker/broker.h"
#include "broker/handlers/handlers.h"
#include "cluster/etcd_metadata.h"
#include "protocol/error_codes.h"

namespace kaffa::broker {
namespace {

using protocol::ElectLeadersRequest;
using protocol::ElectLeadersResponse;
using protocol::ErrorCode;

struct Result {
  ErrorCode error;
  std::optional<std::string> message;
};
using Results = std::map<std::string, std::map<int32_t, Result>>;

ElectLeadersResponse answer(const Results& results) {
  ElectLeadersResponse resp;
  for (const auto& [topic, partitions] : results) {
    auto& t = resp.replica_election_results.emplace_back();
    t.topic = topic;
    for (const auto& [p, r] : partitions) {
      auto& out = t.partition_result.emplace_back();
      out.partition_id = p;
      out.error_code = protocol::code(r.error);
      out.error_message = r.message;
    }
  }
  return resp;
}

}  // namespace

void handle_elect_leaders(RequestContext& ctx, Responder respond) {
  ElectLeadersRequest req;
  if (!ctx.decode(req)) return respond.close();
  Broker& broker = ctx.broker;
  const bool unclean = ctx.version() >= 1 && req.election_type == 1;
  if (ctx.version() >= 1 && req.election_type != 0 && req.election_type != 1) {
    ElectLeadersResponse resp;
    resp.error_code = protocol::code(ErrorCode::invalid_request);
    return respond.send(resp);
  }
  if (!authorize_cluster(ctx, AclOperation::alter)) {
    Results denied;
    if (req.topic_partitions) {
      for (const auto& t : *req.topic_partitions) {
        for (int32_t p : t.partition_id) {
          denied[t.topic][p] = {ErrorCode::cluster_authorization_failed, "Authorization failed."};
        }
      }
    }
    auto resp = answer(denied);
    resp.error_code = protocol::code(ErrorCode::cluster_authorization_failed);
    return respond.send(resp);
  }

  // The partitions asked for that exist; the others are answered here.
  Results results;
  std::vector<std::pair<std::string, int32_t>> wanted;
  if (req.topic_partitions) {
    for (const auto& t : *req.topic_partitions) {
      const auto topic = broker.topics().find(t.topic);
      for (int32_t p : t.partition_id) {
        if (!topic || p < 0 || p >= topic->partitions) {
          results[t.topic][p] = {ErrorCode::unknown_topic_or_partition,
                                 "The partition does not exist."};
        } else {
          wanted.emplace_back(t.topic, p);
        }
      }
    }
  }
  const bool all = !req.topic_partitions.has_value();
  if (!broker.clustered()) {
    // One broker leads every partition: nothing to elect.
    for (const auto& [topic, p] : wanted) {
      results[topic][p] = unclean ? Result{ErrorCode::election_not_needed, "Leader is alive."}
                                  : Result{ErrorCode::election_not_needed,
                                           "The preferred replica is already the leader."};
    }
    return respond.send(answer(results));
  }
  if (!all && wanted.empty()) return respond.send(answer(results));
  auto out = std::make_shared<Responder>(std::move(respond));
  broker.metadata_store()->elect_leaders(
      unclean, std::move(wanted),
      [out, results = std::move(results),
       all](std::vector<cluster::EtcdMetadata::Election> elections) mutable {
        for (auto& e : elections) {
          if (all && e.error == ErrorCode::election_not_needed) continue;
          results[e.topic][e.partition] = {
              e.error, e.error == ErrorCode::none ? std::nullopt : std::optional(e.message)};
        }
        out->send(answer(results));
      });
}

}  // namespace kaffa::broker
