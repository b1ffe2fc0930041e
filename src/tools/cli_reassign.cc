// `kaffa reassign start|cancel|list|drain`: partition reassignment (KIP-455's
// AlterPartitionReassignments and ListPartitionReassignments), what Kafka's
// kafka-reassign-partitions.sh does. librdkafka 2.0 has no API for these requests, so they go
// through RawClient; `drain` reads the assignment with a Metadata request (librdkafka).
//
// A plan file is Kafka's reassignment JSON:
//   {"version":1,"partitions":[{"topic":"t","partition":0,"replicas":[3,4]}, ...]}
// with, optionally, "log_dirs":["any","/data2"] per partition: one per replica, "any" or the log
// directory that replica goes to. Once the reassignments started, `start` sends
// AlterReplicaLogDirs for those (move_replica_dirs, cli_log_dirs.cc), asking again until the new
// replicas exist, as kafka-reassign-partitions.sh does.
// `drain` prints one (or, with --execute, starts it), so the two tools' files are interchangeable.
#include <CLI/CLI.hpp>
#include <algorithm>
#include <cstdio>
#include <map>
#include <set>
#include <sstream>

#include "base/file.h"
#include "base/json_reader.h"
#include "protocol/messages/alter_partition_reassignments.h"
#include "protocol/messages/list_partition_reassignments.h"
#include "tools/cli_common.h"
#include "tools/raw_client.h"

namespace kaffa::cli {
namespace {

constexpr int16_t kAlter = 45;
constexpr int16_t kList = 46;

struct ReassignOptions {
  std::vector<std::string> specs;   // TOPIC:PARTITION=B1,B2 (start) or TOPIC:PARTITION (cancel)
  std::string plan;                 // a plan file (start)
  std::vector<std::string> topics;  // list: only these
  int32_t broker = -1;              // drain
  std::vector<int32_t> to;          // drain: the brokers to use (default: all others)
  bool execute = false;             // drain
};

struct Move {
  std::string topic;
  int32_t partition = 0;
  std::optional<std::vector<int32_t>> replicas;  // nullopt: cancel
  std::vector<std::string> log_dirs;             // a plan's: none, or one per replica
};

std::string ids_text(const std::vector<int32_t>& ids) {
  std::string out;
  for (int32_t id : ids) out += (out.empty() ? "" : ",") + std::to_string(id);
  return out;
}

// TOPIC:PARTITION[=B1,B2,...]; the topic may contain ':' (the last one separates).
Move parse_spec(const std::string& spec, bool with_replicas) {
  const size_t eq = spec.find('=');
  const auto tp = split_topic_partition(spec.substr(0, eq));
  if (!tp || (eq == std::string::npos) == with_replicas) {
    usage_error(with_replicas ? "expected TOPIC:PARTITION=BROKER,BROKER,... not '" + spec + "'"
                              : "expected TOPIC:PARTITION, not '" + spec + "'");
  }
  Move m{tp->first, tp->second, std::nullopt};
  if (with_replicas) {
    m.replicas.emplace();
    std::stringstream list(spec.substr(eq + 1));
    for (std::string id; std::getline(list, id, ',');) m.replicas->push_back(parse_id(id, "id"));
  }
  return m;
}

std::vector<Move> read_plan(const std::string& path) {
  const auto text = file::read_all(path);
  if (!text) usage_error("cannot read " + path);
  std::string error;
  auto v = json::parse(*text, &error);
  if (!v) usage_error(path + ": " + error);
  const json::Value& parts = (*v)["partitions"];
  if (!parts.is_array()) usage_error(path + ": no \"partitions\" array");
  std::vector<Move> out;
  for (const auto& p : parts.items()) {
    auto partition = p["partition"].as_int64();
    if (!p["topic"].is_string() || !partition || *partition < 0 || *partition > INT32_MAX ||
        !p["replicas"].is_array()) {
      usage_error(path + ": each partition needs \"topic\", \"partition\" and \"replicas\"");
    }
    Move m{p["topic"].as_string(), static_cast<int32_t>(*partition), std::vector<int32_t>{}};
    for (const auto& id : p["replicas"].items()) {
      auto n = id.as_int64();
      if (!n || *n < 0 || *n > INT32_MAX) usage_error(path + ": bad broker id");
      m.replicas->push_back(static_cast<int32_t>(*n));
    }
    if (const json::Value& dirs = p["log_dirs"]; !dirs.is_null()) {
      if (!dirs.is_array() || dirs.items().size() != m.replicas->size()) {
        usage_error(path + ": " + m.topic + "-" + std::to_string(m.partition) +
                    ": \"log_dirs\" must name one directory (or \"any\") per replica");
      }
      for (const auto& d : dirs.items()) {
        if (!d.is_string()) usage_error(path + ": a log directory must be a string");
        m.log_dirs.push_back(d.as_string());
      }
    }
    out.push_back(std::move(m));
  }
  return out;
}

void print_plan(const std::vector<Move>& moves) {
  Json j;
  j.begin_object().key("version").num(1).key("partitions").begin_array();
  for (const auto& m : moves) {
    j.begin_object().key("topic").str(m.topic).key("partition").num(m.partition);
    j.key("replicas").begin_array();
    for (int32_t id : *m.replicas) j.num(id);
    j.end_array().end_object();
  }
  j.end_array().end_object().print();
}

// Sends the moves; prints one line per partition; exit 1 if any was refused.
int submit(Globals& g, const std::vector<Move>& moves, const char* verb) {
  if (moves.empty()) usage_error("nothing to reassign");
  protocol::AlterPartitionReassignmentsRequest req;
  req.timeout_ms = g.timeout_ms;
  for (const auto& m : moves) {
    auto t = std::find_if(req.topics.begin(), req.topics.end(),
                          [&m](const auto& t) { return t.name == m.topic; });
    if (t == req.topics.end()) t = req.topics.insert(req.topics.end(), {m.topic, {}});
    t->partitions.push_back({m.partition, m.replicas});
  }
  RawClient c(g);
  protocol::AlterPartitionReassignmentsResponse resp;
  c.call_checked("AlterPartitionReassignments", kAlter, 0, req, resp);
  int status = 0;
  Json j;
  j.begin_array();
  for (const auto& t : resp.responses) {
    for (const auto& p : t.partitions) {
      j.begin_object().key("topic").str(t.name).key("partition").num(p.partition_index);
      j.key("error_code").num(p.error_code).key("error_message").opt_str(p.error_message);
      j.end_object();
      if (p.error_code != 0) {
        std::fprintf(stderr, "kaffa: %s-%d: %s\n", t.name.c_str(), p.partition_index,
                     p.error_message.value_or("error " + std::to_string(p.error_code)).c_str());
        status = kExitKafka;
      } else if (!g.json) {
        std::printf("%s the reassignment of %s-%d\n", verb, t.name.c_str(), p.partition_index);
      }
    }
  }
  if (g.json) j.end_array().print();
  return status;
}

int reassign_start(Globals& g, const ReassignOptions& o) {
  std::vector<Move> moves = o.plan.empty() ? std::vector<Move>{} : read_plan(o.plan);
  for (const auto& s : o.specs) moves.push_back(parse_spec(s, true));
  if (const int status = submit(g, moves, "Started"); status != 0) return status;
  std::vector<ReplicaDir> dirs;
  for (const auto& m : moves) {
    for (size_t i = 0; i < m.log_dirs.size(); ++i) {
      if (m.log_dirs[i] != "any") {
        dirs.push_back({(*m.replicas)[i], m.log_dirs[i], m.topic, m.partition});
      }
    }
  }
  return dirs.empty() ? 0 : move_replica_dirs(g, dirs, g.timeout_ms);
}

int reassign_cancel(Globals& g, const ReassignOptions& o) {
  std::vector<Move> moves;
  for (const auto& s : o.specs) moves.push_back(parse_spec(s, false));
  return submit(g, moves, "Cancelled");
}

int reassign_list(Globals& g, const ReassignOptions& o) {
  protocol::ListPartitionReassignmentsRequest req;
  req.timeout_ms = g.timeout_ms;
  RawClient c(g);
  protocol::ListPartitionReassignmentsResponse resp;
  c.call_checked("ListPartitionReassignments", kList, 0, req, resp);
  Json j;
  j.begin_array();
  Table t({"TOPIC", "PARTITION", "REPLICAS", "ADDING", "REMOVING"});
  for (const auto& topic : resp.topics) {
    if (!o.topics.empty() && std::ranges::find(o.topics, topic.name) == o.topics.end()) continue;
    for (const auto& p : topic.partitions) {
      t.row({topic.name, std::to_string(p.partition_index), ids_text(p.replicas),
             ids_text(p.adding_replicas), ids_text(p.removing_replicas)});
      j.begin_object().key("topic").str(topic.name).key("partition").num(p.partition_index);
      for (const auto& [key, ids] : {std::pair{"replicas", &p.replicas},
                                     {"adding", &p.adding_replicas},
                                     {"removing", &p.removing_replicas}}) {
        j.key(key).begin_array();
        for (int32_t id : *ids) j.num(id);
        j.end_array();
      }
      j.end_object();
    }
  }
  j.end_array();
  g.json ? j.print() : t.print();
  return 0;
}

// Every partition with a replica on o.broker gets, in that replica's place, the broker of o.to
// (default: every other live broker) that is not already a replica and holds the fewest
// replicas, counting the moves planned so far (ties: the lowest id).
int reassign_drain(Globals& g, const ReassignOptions& o) {
  Client c(g, RD_KAFKA_PRODUCER);
  const Metadata md = fetch_metadata(c);
  std::map<int32_t, int> load;  // candidate broker -> replicas it holds
  for (int i = 0; i < md->broker_cnt; ++i) {
    const int32_t id = md->brokers[i].id;
    if (id != o.broker && (o.to.empty() || std::ranges::find(o.to, id) != o.to.end())) {
      load[id] = 0;
    }
  }
  for (int32_t id : o.to) {
    if (!load.count(id)) usage_error("broker " + std::to_string(id) + " is not a live broker");
  }
  std::vector<Move> moves;
  for (int i = 0; i < md->topic_cnt; ++i) {
    const auto& t = md->topics[i];
    for (int k = 0; k < t.partition_cnt; ++k) {
      for (int r = 0; r < t.partitions[k].replica_cnt; ++r) {
        if (auto it = load.find(t.partitions[k].replicas[r]); it != load.end()) ++it->second;
      }
    }
  }
  for (int i = 0; i < md->topic_cnt; ++i) {
    const auto& t = md->topics[i];
    for (int k = 0; k < t.partition_cnt; ++k) {
      const auto& p = t.partitions[k];
      std::vector<int32_t> replicas(p.replicas, p.replicas + p.replica_cnt);
      auto mine = std::ranges::find(replicas, o.broker);
      if (mine == replicas.end()) continue;
      int32_t best = -1;
      for (const auto& [id, n] : load) {
        if (std::ranges::find(replicas, id) != replicas.end()) continue;
        if (best < 0 || n < load[best]) best = id;
      }
      if (best < 0) {
        throw Failure(kExitKafka, std::string(t.topic) + "-" + std::to_string(p.id) +
                                      ": no broker left to take its replica");
      }
      *mine = best;
      ++load[best];
      moves.push_back({t.topic, p.id, replicas});
    }
  }
  if (!o.execute) {
    print_plan(moves);
    return 0;
  }
  if (moves.empty()) {
    std::printf("Broker %d holds no replica\n", o.broker);
    return 0;
  }
  return submit(g, moves, "Started");
}

}  // namespace

void add_reassign_commands(CLI::App& app, Globals& g) {
  auto* re = app.add_subcommand(
      "reassign", "Move partition replicas between brokers (as kafka-reassign-partitions.sh)");
  re->require_subcommand(1);
  auto o = std::make_shared<ReassignOptions>();

  auto* start = re->add_subcommand(
      "start", "Start (or replace) reassignments: TOPIC:PARTITION=BROKER,BROKER,... or --plan");
  start->add_option("moves", o->specs, "TOPIC:PARTITION=BROKER,BROKER,... (the first leads)");
  start->add_option("--plan", o->plan, "A plan file in Kafka's reassignment JSON");
  on_run(start, g, [&g, o] { return reassign_start(g, *o); });

  auto* cancel = re->add_subcommand("cancel", "Cancel reassignments in progress");
  cancel->add_option("partitions", o->specs, "TOPIC:PARTITION")->required();
  on_run(cancel, g, [&g, o] { return reassign_cancel(g, *o); });

  auto* list = re->add_subcommand("list", "Reassignments in progress");
  list->add_option("topics", o->topics, "Only these topics");
  on_run(list, g, [&g, o] { return reassign_list(g, *o); });

  auto* drain = re->add_subcommand(
      "drain", "Plan (or with --execute start) moving every replica off a broker");
  drain->add_option("broker", o->broker, "The broker to empty")->required();
  drain->add_option("--to", o->to, "Brokers to move to (repeatable; default: all other live)");
  drain->add_flag("--execute", o->execute, "Start the reassignments instead of printing the plan");
  on_run(drain, g, [&g, o] { return reassign_drain(g, *o); });
}

}  // namespace kaffa::cli
