// `kaffa cluster info`: brokers (with the partitions each leads), controller, cluster id, topic
// count, and the health of the partitions: how many are under-replicated (fewer in-sync replicas
// than replicas) and offline (no leader).
#include <CLI/CLI.hpp>
#include <algorithm>
#include <cstdio>
#include <map>

#include "tools/cli_common.h"

namespace kaffa::cli {
namespace {

int cluster_info(Globals& g) {
  Client c(g, RD_KAFKA_PRODUCER);
  Metadata md = fetch_metadata(c);
  char* id = rd_kafka_clusterid(c.get(), g.timeout_ms);
  std::string cluster_id = id ? id : "";
  if (id) rd_kafka_mem_free(c.get(), id);
  int32_t controller = rd_kafka_controllerid(c.get(), g.timeout_ms);
  std::vector<const rd_kafka_metadata_broker_t*> brokers;
  for (int i = 0; i < md->broker_cnt; ++i) brokers.push_back(&md->brokers[i]);
  std::sort(brokers.begin(), brokers.end(), [](auto* a, auto* b) { return a->id < b->id; });
  int topics = 0, internal = 0, partitions = 0, under_replicated = 0, offline = 0;
  std::map<int32_t, int> leads;
  for (int i = 0; i < md->topic_cnt; ++i) {
    const auto& topic = md->topics[i];
    ++(std::string_view(topic.topic).starts_with("__") ? internal : topics);
    for (int p = 0; p < topic.partition_cnt; ++p) {
      const auto& part = topic.partitions[p];
      ++partitions;
      if (part.leader < 0) ++offline;
      if (part.isr_cnt < part.replica_cnt) ++under_replicated;
      if (part.leader >= 0) ++leads[part.leader];
    }
  }
  if (g.json) {
    Json j;
    j.begin_object().key("cluster_id");
    cluster_id.empty() ? j.null() : j.str(cluster_id);
    j.key("controller").num(controller).key("topics").num(topics);
    j.key("internal_topics").num(internal).key("partitions").num(partitions);
    j.key("under_replicated_partitions").num(under_replicated);
    j.key("offline_partitions").num(offline).key("brokers").begin_array();
    for (auto* b : brokers) {
      j.begin_object().key("id").num(b->id).key("host").str(b->host).key("port").num(b->port);
      j.key("leader_partitions").num(leads[b->id]).end_object();
    }
    j.end_array().end_object().print();
    return 0;
  }
  std::printf(
      "Cluster id:  %s\nController:  %d\nTopics:      %d (+%d internal)\n"
      "Partitions:  %d (%d under-replicated, %d offline)\n\n",
      cluster_id.empty() ? "-" : cluster_id.c_str(), controller, topics, internal, partitions,
      under_replicated, offline);
  Table t({"BROKER", "HOST", "PORT", "CONTROLLER", "LEADS"});
  for (auto* b : brokers) {
    t.row({std::to_string(b->id), b->host, std::to_string(b->port),
           b->id == controller ? "yes" : "", std::to_string(leads[b->id])});
  }
  t.print();
  return 0;
}

}  // namespace

void add_cluster_commands(CLI::App& app, Globals& g) {
  auto* cluster = app.add_subcommand("cluster", "Cluster information");
  cluster->require_subcommand(1);
  auto* info = cluster->add_subcommand("info", "Brokers, controller, cluster id, topic count");
  on_run(info, g, [&g] { return cluster_info(g); });
  add_log_dirs_command(cluster, g);
}

}  // namespace kaffa::cli
