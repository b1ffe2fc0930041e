// `kaffa cluster log-dirs [-B ID]... [-t TOPIC]...`: each broker's log directories with the
// partitions they hold and their size, and the file system's total and usable bytes, as
// `kafka-log-dirs.sh --describe` shows them; a log being moved into a directory shows as FUTURE
// with its lag. DescribeLogDirs v4 is sent to each broker (it answers for its own directories
// only), found in the metadata, through RawClient (librdkafka 2.0 has no API for it). A directory
// a broker reports failed shows its error.
//
// `kaffa cluster move-log-dir -B ID --dir PATH TOPIC:PARTITION...`: moves those replicas of
// broker ID to its log directory PATH (AlterReplicaLogDirs v1, what kafka-reassign-partitions.sh
// sends for a plan's "log_dirs"; `kaffa reassign start --plan` sends it too, through
// move_replica_dirs); the move goes on in the background, log-dirs shows it.
#include <librdkafka/rdkafka.h>

#include <CLI/CLI.hpp>
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <iterator>
#include <thread>

#include "protocol/messages/alter_replica_log_dirs.h"
#include "protocol/messages/describe_log_dirs.h"
#include "tools/cli_common.h"
#include "tools/raw_client.h"

namespace kaffa::cli {
namespace {

constexpr int16_t kAlterReplicaLogDirs = 34;
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

// One broker's AlterReplicaLogDirs for `moves` (all of that broker).
protocol::AlterReplicaLogDirsRequest request_for(const std::vector<ReplicaDir>& moves) {
  protocol::AlterReplicaLogDirsRequest req;
  for (const auto& m : moves) {
    auto dir = std::find_if(req.dirs.begin(), req.dirs.end(),
                            [&](const auto& d) { return d.path == m.dir; });
    if (dir == req.dirs.end()) {
      dir = req.dirs.emplace(req.dirs.end());
      dir->path = m.dir;
    }
    auto t = std::find_if(dir->topics.begin(), dir->topics.end(),
                          [&](const auto& t) { return t.name == m.topic; });
    if (t == dir->topics.end()) {
      t = dir->topics.emplace(dir->topics.end());
      t->name = m.topic;
    }
    t->partitions.push_back(m.partition);
  }
  return req;
}

struct MoveOpts {
  int32_t broker = -1;
  std::string dir;
  std::vector<std::string> partitions;  // TOPIC:PARTITION
};

int move_log_dir(Globals& g, const MoveOpts& o) {
  std::vector<ReplicaDir> moves;
  for (const auto& spec : o.partitions) {
    const auto tp = split_topic_partition(spec);
    if (!tp) usage_error("expected TOPIC:PARTITION, not '" + spec + "'");
    moves.push_back({o.broker, o.dir, tp->first, tp->second});
  }
  return move_replica_dirs(g, moves, 0);
}

}  // namespace

int move_replica_dirs(Globals& g, const std::vector<ReplicaDir>& moves, int64_t wait_ms) {
  std::vector<int32_t> ids;
  for (const auto& m : moves) {
    if (std::find(ids.begin(), ids.end(), m.broker) == ids.end()) ids.push_back(m.broker);
  }
  const Metadata md = [&] {
    Client c(g, RD_KAFKA_PRODUCER);
    return fetch_metadata(c);
  }();
  const auto brokers = brokers_of(md.get(), ids);
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(wait_ms);
  int failed = 0;
  Json j;
  j.begin_array();
  std::vector<ReplicaDir> pending = moves;
  while (!pending.empty()) {
    std::vector<ReplicaDir> again;
    for (const auto& b : brokers) {
      std::vector<ReplicaDir> mine;
      std::copy_if(pending.begin(), pending.end(), std::back_inserter(mine),
                   [&b](const auto& m) { return m.broker == b.id; });
      if (mine.empty()) continue;
      Globals at = g;  // RawClient speaks to the first bootstrap server: this broker
      at.brokers = b.host_port;
      RawClient c(at);
      protocol::AlterReplicaLogDirsResponse resp;
      c.call(kAlterReplicaLogDirs, 1, request_for(mine), resp);
      const bool waiting = std::chrono::steady_clock::now() < deadline;
      for (const auto& t : resp.results) {
        for (const auto& p : t.partitions) {
          const auto m = std::find_if(mine.begin(), mine.end(), [&](const auto& m) {
            return m.topic == t.topic_name && m.partition == p.partition_index;
          });
          if (m == mine.end()) continue;  // not asked for
          const auto err = static_cast<rd_kafka_resp_err_t>(p.error_code);
          if (err == RD_KAFKA_RESP_ERR_REPLICA_NOT_AVAILABLE && waiting) {
            again.push_back(*m);
            continue;
          }
          j.begin_object().key("broker").num(b.id).key("topic").str(t.topic_name);
          j.key("partition").num(p.partition_index).key("dir").str(m->dir);
          j.key("error").str(p.error_code == 0 ? "" : rd_kafka_err2name(err)).end_object();
          if (p.error_code != 0) {
            ++failed;
            std::fprintf(stderr, "%s:%d: %s (broker %d)\n", t.topic_name.c_str(),
                         p.partition_index, rd_kafka_err2str(err), b.id);
          } else if (!g.json) {
            std::printf("%s:%d: moving to %s on broker %d\n", t.topic_name.c_str(),
                        p.partition_index, m->dir.c_str(), b.id);
          }
        }
      }
    }
    pending = std::move(again);
    if (!pending.empty()) std::this_thread::sleep_for(std::chrono::milliseconds(200));
  }
  j.end_array();
  if (g.json) j.print();
  return failed == 0 ? 0 : kExitKafka;
}

void add_log_dirs_command(CLI::App* cluster, Globals& g) {
  auto m = std::make_shared<MoveOpts>();
  auto* move = cluster->add_subcommand(
      "move-log-dir", "Move replicas of one broker to another of its log directories");
  move->add_option("-B,--broker", m->broker, "The broker whose replicas move")->required();
  move->add_option("--dir", m->dir, "The destination: one of that broker's log.dirs")->required();
  move->add_option("partitions", m->partitions, "TOPIC:PARTITION")->required();
  on_run(move, g, [&g, m] { return move_log_dir(g, *m); });

  auto o = std::make_shared<LogDirsOpts>();
  auto* cmd = cluster->add_subcommand(
      "log-dirs", "Each broker's log directories, their space and the partitions they hold");
  cmd->add_option("-B,--broker", o->brokers, "Only this broker (repeatable)");
  cmd->add_option("-t,--topic", o->topics, "Only the partitions of this topic (repeatable)");
  on_run(cmd, g, [&g, o] { return log_dirs(g, *o); });
}

}  // namespace kaffa::cli
