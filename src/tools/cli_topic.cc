// `kaffa topic create|list|describe|delete|add-partitions`.
#include <CLI/CLI.hpp>
#include <algorithm>
#include <cstdio>

#include "tools/cli_common.h"

namespace kaffa::cli {
namespace {

struct TopicOpts {
  std::vector<std::string> names;
  int partitions = -1;
  int replication = -1;
  std::vector<std::string> configs;
  bool internal = false;
};

std::string join_ids(const int32_t* ids, int n) {
  std::string s;
  for (int i = 0; i < n; ++i) s += (i ? "," : "") + std::to_string(ids[i]);
  return s;
}

void json_ids(Json& j, const int32_t* ids, int n) {
  j.begin_array();
  for (int i = 0; i < n; ++i) j.num(ids[i]);
  j.end_array();
}

// Throws on the first per-topic error of a CreateTopics/DeleteTopics/CreatePartitions result.
void check_topic_results(const rd_kafka_topic_result_t** res, size_t n, const std::string& what) {
  for (size_t i = 0; i < n; ++i) {
    if (auto err = rd_kafka_topic_result_error(res[i])) {
      kafka_error(what + " " + rd_kafka_topic_result_name(res[i]), err,
                  rd_kafka_topic_result_error_string(res[i]));
    }
  }
}

void print_done(const Globals& g, const std::string& topic, const char* field, const char* human) {
  if (g.json) {
    Json j;
    j.begin_object().key("topic").str(topic).key(field).boolean(true).end_object().print();
  } else {
    std::printf("%s %s.\n", human, topic.c_str());
  }
}

int topic_create(Globals& g, const TopicOpts& o) {
  const std::string& name = o.names.at(0);
  Client c(g, RD_KAFKA_PRODUCER);
  char buf[512];
  rd_kafka_NewTopic_t* nt =
      rd_kafka_NewTopic_new(name.c_str(), o.partitions, o.replication, buf, sizeof buf);
  if (!nt) usage_error(std::string("topic create: ") + buf);
  for (const auto& kv : o.configs) {
    auto [k, v] = split_kv(kv, "-c");
    rd_kafka_NewTopic_set_config(nt, k.c_str(), v.c_str());
  }
  Event ev = [&] {
    try {
      return admin_call(
          c, RD_KAFKA_ADMIN_OP_CREATETOPICS, "create topic " + name,
          [&](auto* opt, auto* q) { rd_kafka_CreateTopics(c.get(), &nt, 1, opt, q); });
    } catch (...) {
      rd_kafka_NewTopic_destroy(nt);
      throw;
    }
  }();
  rd_kafka_NewTopic_destroy(nt);
  size_t n = 0;
  auto** res =
      rd_kafka_CreateTopics_result_topics(rd_kafka_event_CreateTopics_result(ev.get()), &n);
  check_topic_results(res, n, "create topic");
  print_done(g, name, "created", "Created topic");
  return 0;
}

int topic_list(Globals& g, const TopicOpts& o) {
  Client c(g, RD_KAFKA_PRODUCER);
  Metadata md = fetch_metadata(c);
  std::vector<const rd_kafka_metadata_topic_t*> topics;
  for (int i = 0; i < md->topic_cnt; ++i) {
    const auto& t = md->topics[i];
    if (!o.internal && std::string_view(t.topic).starts_with("__")) continue;
    topics.push_back(&t);
  }
  std::sort(topics.begin(), topics.end(),
            [](auto* a, auto* b) { return std::string_view(a->topic) < b->topic; });
  auto rf = [](const rd_kafka_metadata_topic_t* t) {
    return t->partition_cnt > 0 ? t->partitions[0].replica_cnt : 0;
  };
  if (g.json) {
    Json j;
    j.begin_array();
    for (auto* t : topics) {
      j.begin_object().key("name").str(t->topic).key("partitions").num(t->partition_cnt);
      j.key("replication_factor").num(rf(t)).end_object();
    }
    j.end_array().print();
    return 0;
  }
  Table tab({"TOPIC", "PARTITIONS", "REPLICAS"});
  for (auto* t : topics) {
    tab.row({t->topic, std::to_string(t->partition_cnt), std::to_string(rf(t))});
  }
  tab.print();
  return 0;
}

int topic_describe(Globals& g, const TopicOpts& o) {
  const std::string& name = o.names.at(0);
  Client c(g, RD_KAFKA_PRODUCER);
  Metadata md = fetch_metadata(c);
  const auto& t = require_topic(md.get(), name);
  std::vector<const rd_kafka_metadata_partition_t*> parts;
  for (int i = 0; i < t.partition_cnt; ++i) parts.push_back(&t.partitions[i]);
  std::sort(parts.begin(), parts.end(), [](auto* a, auto* b) { return a->id < b->id; });
  std::vector<std::pair<int64_t, int64_t>> marks;
  for (auto* p : parts) marks.push_back(watermarks(c, name, p->id));
  std::optional<std::vector<ConfigRow>> configs;
  std::string config_error;
  try {
    configs = describe_configs(c, RD_KAFKA_RESOURCE_TOPIC, name);
  } catch (const Failure& f) {
    config_error = f.what();  // an older broker without DescribeConfigs: partitions still shown
  }
  int rf = parts.empty() ? 0 : parts[0]->replica_cnt;
  if (g.json) {
    Json j;
    j.begin_object().key("name").str(name).key("partition_count").num(t.partition_cnt);
    j.key("replication_factor").num(rf).key("partitions").begin_array();
    for (size_t i = 0; i < parts.size(); ++i) {
      auto* p = parts[i];
      j.begin_object().key("partition").num(p->id).key("leader").num(p->leader);
      j.key("replicas");
      json_ids(j, p->replicas, p->replica_cnt);
      j.key("isr");
      json_ids(j, p->isrs, p->isr_cnt);
      j.key("log_start_offset").num(marks[i].first).key("log_end_offset").num(marks[i].second);
      j.end_object();
    }
    j.end_array().key("configs");
    if (configs) {
      json_configs(j, *configs);
    } else {
      j.null();
    }
    j.end_object().print();
  } else {
    std::printf("Topic: %s  Partitions: %d  Replication factor: %d\n\n", name.c_str(),
                t.partition_cnt, rf);
    Table tab({"PARTITION", "LEADER", "REPLICAS", "ISR", "LOG-START", "LOG-END"});
    for (size_t i = 0; i < parts.size(); ++i) {
      auto* p = parts[i];
      tab.row({std::to_string(p->id), std::to_string(p->leader),
               join_ids(p->replicas, p->replica_cnt), join_ids(p->isrs, p->isr_cnt),
               std::to_string(marks[i].first), std::to_string(marks[i].second)});
    }
    tab.print();
    if (configs) {
      std::printf("\nConfigs (overrides; `kaffa config get topic %s` lists all):\n", name.c_str());
      Table ct({"NAME", "VALUE", "SOURCE"});
      int shown = 0;
      for (const auto& r : *configs) {
        if (r.is_default || r.source_id != RD_KAFKA_CONFIG_SOURCE_DYNAMIC_TOPIC_CONFIG) continue;
        ct.row({r.name, r.sensitive ? "(sensitive)" : r.value.value_or("(null)"), r.source});
        ++shown;
      }
      if (shown) ct.print();
      if (!shown) std::printf("(none)\n");
    }
  }
  if (!configs)
    std::fflush(stdout), std::fprintf(stderr, "kaffa: warning: %s\n", config_error.c_str());
  return 0;
}

int topic_delete(Globals& g, const TopicOpts& o) {
  Client c(g, RD_KAFKA_PRODUCER);
  std::vector<rd_kafka_DeleteTopic_t*> dts;
  for (const auto& n : o.names) dts.push_back(rd_kafka_DeleteTopic_new(n.c_str()));
  Event ev = [&] {
    try {
      return admin_call(c, RD_KAFKA_ADMIN_OP_DELETETOPICS, "delete topic", [&](auto* opt, auto* q) {
        rd_kafka_DeleteTopics(c.get(), dts.data(), dts.size(), opt, q);
      });
    } catch (...) {
      rd_kafka_DeleteTopic_destroy_array(dts.data(), dts.size());
      throw;
    }
  }();
  rd_kafka_DeleteTopic_destroy_array(dts.data(), dts.size());
  size_t n = 0;
  auto** res =
      rd_kafka_DeleteTopics_result_topics(rd_kafka_event_DeleteTopics_result(ev.get()), &n);
  check_topic_results(res, n, "delete topic");
  for (const auto& name : o.names) print_done(g, name, "deleted", "Deleted topic");
  return 0;
}

int topic_add_partitions(Globals& g, const TopicOpts& o) {
  const std::string& name = o.names.at(0);
  Client c(g, RD_KAFKA_PRODUCER);
  char buf[512];
  rd_kafka_NewPartitions_t* np =
      rd_kafka_NewPartitions_new(name.c_str(), static_cast<size_t>(o.partitions), buf, sizeof buf);
  if (!np) usage_error(std::string("topic add-partitions: ") + buf);
  Event ev = [&] {
    try {
      return admin_call(
          c, RD_KAFKA_ADMIN_OP_CREATEPARTITIONS, "add partitions to " + name,
          [&](auto* opt, auto* q) { rd_kafka_CreatePartitions(c.get(), &np, 1, opt, q); });
    } catch (...) {
      rd_kafka_NewPartitions_destroy(np);
      throw;
    }
  }();
  rd_kafka_NewPartitions_destroy(np);
  size_t n = 0;
  auto** res =
      rd_kafka_CreatePartitions_result_topics(rd_kafka_event_CreatePartitions_result(ev.get()), &n);
  check_topic_results(res, n, "add partitions to");
  if (g.json) {
    Json j;
    j.begin_object().key("topic").str(name).key("partitions").num(o.partitions).end_object();
    j.print();
  } else {
    std::printf("Topic %s now has %d partitions.\n", name.c_str(), o.partitions);
  }
  return 0;
}

}  // namespace

void add_topic_commands(CLI::App& app, Globals& g) {
  auto* topic = app.add_subcommand("topic", "Create, list, describe and delete topics");
  topic->require_subcommand(1);

  auto o = std::make_shared<TopicOpts>();
  auto* create = topic->add_subcommand("create", "Create a topic");
  create->add_option("name", o->names, "Topic name")->required()->expected(1);
  create->add_option("-p,--partitions", o->partitions, "Partitions (default: the broker's)")
      ->check(CLI::Range(1, 1000000));
  create
      ->add_option("-r,--replication-factor", o->replication,
                   "Replication factor (default: the broker's)")
      ->check(CLI::Range(1, 1000));
  create->add_option("-c,--config", o->configs, "Topic config key=value (repeatable)");
  on_run(create, g, [&g, o] { return topic_create(g, *o); });

  auto* list = topic->add_subcommand("list", "List topics");
  list->add_flag("-i,--internal", o->internal, "Include internal topics (__*)");
  on_run(list, g, [&g, o] { return topic_list(g, *o); });

  auto* describe = topic->add_subcommand(
      "describe", "Partitions, leaders, replicas, ISR, log start/end offsets and configs");
  describe->add_option("name", o->names, "Topic name")->required()->expected(1);
  on_run(describe, g, [&g, o] { return topic_describe(g, *o); });

  auto* del = topic->add_subcommand("delete", "Delete topics");
  del->add_option("names", o->names, "Topic names")->required();
  on_run(del, g, [&g, o] { return topic_delete(g, *o); });

  auto* add = topic->add_subcommand("add-partitions", "Raise a topic's partition count");
  add->add_option("name", o->names, "Topic name")->required()->expected(1);
  add->add_option("-p,--partitions", o->partitions, "The new total partition count")
      ->required()
      ->check(CLI::Range(1, 1000000));
  on_run(add, g, [&g, o] { return topic_add_partitions(g, *o); });
}

}  // namespace kaffa::cli
