// DescribeLogDirs (key 35), versions 0-4 (flexible from 2): each log directory of this broker
// (`log.dirs`, absolute, in their order) with the size of each of its partitions' segments and
// their offset lag (0 for a log; for a future log, being moved here by AlterReplicaLogDirs,
// is_future_key and how far its end is behind the log's, as Kafka answers), and from v4 the file
// system's total and usable bytes (statvfs). A null topic list means every partition;
// named partitions this broker does not host are left out, as Kafka does. An offline directory
// (an I/O error took it offline: cluster::PartitionManager::fail_log_dir) is listed with
// KAFKA_STORAGE_ERROR and nothing else, as Kafka lists one.
// Authorization: DESCRIBE on the cluster, else no directories (v3+: CLUSTER_AUTHORIZATION_FAILED).
#include "protocol/messages/describe_log_dirs.h"

#include <algorithm>
#include <filesystem>
#include <map>
#include <set>

#include "base/file.h"
#include "broker/authorize.h"
#include "broker/broker.h"
#include "broker/handlers/handlers.h"

namespace kaffa::broker {

void handle_describe_log_dirs(RequestContext& ctx, Responder respond) {
  protocol::DescribeLogDirsRequest req;
  if (!ctx.decode(req)) return respond.close();
  Broker& broker = ctx.broker;
  if (!authorize_cluster(ctx, AclOperation::describe)) {
    // Kafka: no directories; v3+ also say why.
    protocol::DescribeLogDirsResponse refused;
    refused.error_code = protocol::code(protocol::ErrorCode::cluster_authorization_failed);
    return respond.send(refused);
  }
  std::set<std::pair<std::string, int32_t>> wanted;
  if (req.topics) {
    for (const auto& t : *req.topics) {
      for (const int32_t p : t.partitions) wanted.emplace(t.topic, p);
    }
  }
  using Partitions = std::vector<protocol::DescribeLogDirsResponse::DescribeLogDirsPartition>;
  const auto& dirs = broker.partitions().log_dirs();
  std::vector<std::map<std::string, Partitions>> by_dir(dirs.size());
  for (const auto& [d, p] : broker.partitions().all_by_dir()) {
    if (req.topics && !wanted.count({p->topic(), p->index()})) continue;
    auto& out = by_dir[d][p->topic()].emplace_back();
    out.partition_index = p->index();
    out.partition_size = p->size_snapshot();
    out.offset_lag = 0;
    out.is_future_key = false;
  }
  for (const auto& [d, p] : broker.partitions().moving()) {
    const int64_t size = p->future_size_snapshot();
    if (size < 0 || (req.topics && !wanted.count({p->topic(), p->index()}))) continue;
    auto& out = by_dir[d][p->topic()].emplace_back();
    out.partition_index = p->index();
    out.partition_size = size;
    out.offset_lag = p->future_lag_snapshot();
    out.is_future_key = true;
  }
  protocol::DescribeLogDirsResponse resp;
  for (size_t d = 0; d < dirs.size(); ++d) {
    auto& dir = resp.results.emplace_back();
    dir.log_dir = broker.partitions().log_dir_names()[d];
    if (broker.partitions().log_dir_offline(d)) {
      dir.error_code = protocol::code(protocol::ErrorCode::kafka_storage_error);
      continue;
    }
    if (const auto space = file::space_of(dirs[d])) {
      dir.total_bytes = space->total_bytes;
      dir.usable_bytes = space->usable_bytes;
    }
    for (auto& [name, partitions] : by_dir[d]) {
      auto& t = dir.topics.emplace_back();
      t.name = name;
      std::sort(partitions.begin(), partitions.end(), [](const auto& a, const auto& b) {
        return std::pair(a.partition_index, a.is_future_key) <
               std::pair(b.partition_index, b.is_future_key);
      });
      t.partitions = std::move(partitions);
    }
  }
  respond.send(resp);
}

}  // namespace kaffa::broker
