// `kaffa cluster log-dirs [-B ID]... [-t TOPIC]...`: each broker's log directories with the
// partitions they hold and their size, and the file system's total and usable bytes, as
// `kafka-log-dirs.sh --describe` shows them. DescribeLogDirs v4 is sent to each broker (it
// answers for its own directories only), found in the metadata, through RawClient (librdkafka
// 2.0 has no API for it). A directory a broker reports failed shows its error.
#include <librdkafka/rdkafka.h>

#include <CLI/CLI.hpp>
#include <algorithm>
#include <cstdio>

#include "protocol/messages/describe_log_dirs.h"
#include "tools/cli_common.h"
#include "tools/raw_client.h"

namespace kaffa::cli {
namespace {

constexpr int16_t kDescribeLogDirs = 35;

struct LogDirsOpts {
  std::vector<int32_t> brokers;     // none: every broker
  std::vector<std::string> topics;  // none: every partition
};

struct BrokerAddress {
  int32_t id;
  std::string host_port;
};

std::vector<BrokerAddress> brokers_of(const rd_kafka_metadata_t* md,
                                      const std::vector<int32_t>& wanted) {
  std::vector<BrokerAddress> out;
  for (int i = 0; i < md->broker_cnt; ++i) {
    const auto& b = md->brokers[i];
    if (wanted.empty() || std::find(wanted.begin(), wanted.end(), b.id) != wanted.end()) {
      out.push_back({b.id, std::string(b.host) + ":" + std::to_string(b.port)});
    }
  }
  for (const int32_t id : wanted) {
    if (std::none_of(out.begin(), out.end(), [id](const auto& b) { return b.id == id; })) {
      throw Failure(kExitKafka, "log-dirs: no broker " + std::to_string(id) + " in the cluster");
    }
  }
  std::sort(out.begin(), out.end(), [](const auto& a, const auto& b) { return a.id < b.id; });
  return out;
}

// The request's topic filter: every partition of the named topics (their counts from the
// metadata), or null for all.
protocol::DescribeLogDirsRequest request_for(const rd_kafka_metadata_t* md,
                                             const std::vector<std::string>& topics) {
  protocol::DescribeLogDirsRequest req;
  if (topics.empty()) return req;
  req.topics.emplace();
  for (const auto& name : topics) {
    const auto& t = require_topic(md, name);
    auto& entry = req.topics->emplace_back();
    entry.topic = name;
    for (int p = 0; p < t.partition_cnt; ++p) entry.partitions.push_back(t.partitions[p].id);
  }
  return req;
}

int log_dirs(Globals& g, const LogDirsOpts& o) {
  const Metadata md = [&] {
    Client c(g, RD_KAFKA_PRODUCER);
    return fetch_metadata(c);
  }();
  const auto req = request_for(md.get(), o.topics);
  Json j;
  j.begin_array();
  Table t({"BROKER", "DIRECTORY", "TOPIC", "PARTITION", "SIZE", "LAG", "FUTURE"});
  Table space({"BROKER", "DIRECTORY", "TOTAL", "USABLE", "ERROR"});
  for (const auto& b : brokers_of(md.get(), o.brokers)) {
    Globals at = g;  // RawClient speaks to the first bootstrap server: this broker
    at.brokers = b.host_port;
    RawClient c(at);
    protocol::DescribeLogDirsResponse resp;
    c.call(kDescribeLogDirs, 4, req, resp);
    if (resp.error_code != 0) {
      kafka_error("describe log dirs of broker " + std::to_string(b.id),
                  static_cast<rd_kafka_resp_err_t>(resp.error_code));
    }
    const std::string id = std::to_string(b.id);
    for (const auto& dir : resp.results) {
      const std::string error =
          dir.error_code == 0 ? ""
                              : rd_kafka_err2name(static_cast<rd_kafka_resp_err_t>(dir.error_code));
      space.row({id, dir.log_dir, std::to_string(dir.total_bytes), std::to_string(dir.usable_bytes),
                 error});
      j.begin_object().key("broker").num(b.id).key("log_dir").str(dir.log_dir);
      j.key("error").str(error).key("total_bytes").num(dir.total_bytes);
      j.key("usable_bytes").num(dir.usable_bytes).key("partitions").begin_array();
      for (const auto& topic : dir.topics) {
        for (const auto& p : topic.partitions) {
          t.row({id, dir.log_dir, topic.name, std::to_string(p.partition_index),
                 std::to_string(p.partition_size), std::to_string(p.offset_lag),
                 p.is_future_key ? "yes" : "no"});
          j.begin_object().key("topic").str(topic.name).key("partition").num(p.partition_index);
          j.key("size").num(p.partition_size).key("offset_lag").num(p.offset_lag);
          j.key("future").boolean(p.is_future_key).end_object();
        }
      }
      j.end_array().end_object();
    }
  }
  j.end_array();
  if (g.json) {
    j.print();
  } else {
    space.print();
    std::printf("\n");
    t.print();
  }
  return 0;
}

}  // namespace

void add_log_dirs_command(CLI::App* cluster, Globals& g) {
  auto o = std::make_shared<LogDirsOpts>();
  auto* cmd = cluster->add_subcommand(
      "log-dirs", "Each broker's log directories, their space and the partitions they hold");
  cmd->add_option("-B,--broker", o->brokers, "Only this broker (repeatable)");
  cmd->add_option("-t,--topic", o->topics, "Only the partitions of this topic (repeatable)");
  on_run(cmd, g, [&g, o] { return log_dirs(g, *o); });
}

}  // namespace kaffa::cli
