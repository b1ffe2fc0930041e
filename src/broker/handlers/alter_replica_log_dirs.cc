// AlterReplicaLogDirs (key 34), versions 0-2 (flexible from 2): moves this broker's replicas to
// other log directories (cluster::PartitionManager::move_log, Kafka's future replicas). The answer
// comes once each move has started; DescribeLogDirs shows the copy (is_future_key) until it is
// swapped in. Per partition, as Kafka's ReplicaManager.alterReplicaLogDirs:
//   a path that is not one of `log.dirs` (absolute)         LOG_DIR_NOT_FOUND
//   an unknown topic or partition                           UNKNOWN_TOPIC_OR_PARTITION
//   a partition of a known topic this broker does not host  REPLICA_NOT_AVAILABLE (the directory
//                                                           is used if it is created here later)
//   a future log that cannot be created                     KAFKA_STORAGE_ERROR
//   a topic name too long for a future directory's name     INVALID_TOPIC_EXCEPTION
// The log's own directory cancels a move under way. Authorization: ALTER on the cluster, else
// CLUSTER_AUTHORIZATION_FAILED for every partition.
#include "protocol/messages/alter_replica_log_dirs.h"

#include <map>

#include "broker/authorize.h"
#include "broker/broker.h"
#include "broker/handlers/handlers.h"
#include "protocol/error_codes.h"

namespace kaffa::broker {

using protocol::ErrorCode;

void handle_alter_replica_log_dirs(RequestContext& ctx, Responder respond) {
  protocol::AlterReplicaLogDirsRequest req;
  if (!ctx.decode(req)) return respond.close();
  Broker& broker = ctx.broker;
  const bool allowed = authorize_cluster(ctx, AclOperation::alter);

  protocol::AlterReplicaLogDirsResponse resp;
  std::map<std::string, size_t> topic_slot;  // the response lists each topic once
  auto answer = [&](const std::string& topic, int32_t partition, ErrorCode error) {
    auto [it, added] = topic_slot.emplace(topic, resp.results.size());
    if (added) resp.results.emplace_back().topic_name = topic;
    auto& out = resp.results[it->second].partitions.emplace_back();
    out.partition_index = partition;
    out.error_code = protocol::code(error);
  };
  for (const auto& dir : req.dirs) {
    const auto target = broker.partitions().find_log_dir(dir.path);
    for (const auto& topic : dir.topics) {
      const auto info = broker.topics().find(topic.name);
      for (const int32_t p : topic.partitions) {
        if (!allowed) {
          answer(topic.name, p, ErrorCode::cluster_authorization_failed);
        } else if (!target) {
          answer(topic.name, p, ErrorCode::log_dir_not_found);
        } else if (!info || p < 0 || p >= info->partitions) {
          answer(topic.name, p, ErrorCode::unknown_topic_or_partition);
        } else {
          answer(topic.name, p, broker.partitions().move_log(topic.name, p, *target));
        }
      }
    }
  }
  respond.send(resp);
}

}  // namespace kaffa::broker
