// Consumer-group helpers shared by cli_group.cc and cli_group_offsets.cc.
#pragma once

#include <map>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "tools/cli_common.h"

namespace kaffa::cli {

using TP = std::pair<std::string, int32_t>;

struct Member {
  std::string id, client_id, host;
  std::vector<TP> assignment;
};

struct GroupInfo {
  std::string state, assignor, type;
  std::string protocol = "classic";  // or "consumer" (KIP-848)
  int32_t group_epoch = -1;          // consumer protocol only
  int32_t assignment_epoch = -1;     // consumer protocol only
  int32_t coordinator = -1;
  std::string coordinator_host;
  int coordinator_port = 0;
  std::vector<Member> members;
};

struct PartitionList {
  rd_kafka_topic_partition_list_t* p;
  explicit PartitionList(int n = 0) : p(rd_kafka_topic_partition_list_new(n)) {}
  ~PartitionList() {
    if (p) rd_kafka_topic_partition_list_destroy(p);
  }
  PartitionList(PartitionList&& o) noexcept : p(std::exchange(o.p, nullptr)) {}
  PartitionList(const PartitionList&) = delete;
  PartitionList& operator=(const PartitionList&) = delete;
};

// DescribeConsumerGroups of one group (state "Dead" for a group that does not exist).
GroupInfo describe_group(Client& c, const std::string& group);
// librdkafka 2.0 describes groups with DescribeGroups, which shows a group of the consumer
// protocol (KIP-848) as Dead: ConsumerGroupDescribe asks its coordinator (from `dead`, what
// describe_group said). nullopt when the coordinator has no such group.
std::optional<GroupInfo> describe_consumer_protocol_group(const Globals& g, const GroupInfo& dead,
                                                          const std::string& group);
// Committed offsets of the group: all of them (`parts` null) or of these partitions (-1: none).
std::map<TP, int64_t> committed(Client& c, const std::string& group,
                                const rd_kafka_topic_partition_list_t* parts);
// Throws on a group-level or partition-level error of an admin group result.
void check_group_result(const rd_kafka_group_result_t* r, const std::string& what);

int group_delete_offsets(Globals& g, const std::string& group,
                         const std::vector<std::string>& topics);
int group_reset_offsets(Globals& g, const std::string& group,
                        const std::vector<std::string>& topics, int mode, int64_t to_offset,
                        bool execute);

}  // namespace kaffa::cli
