// Changing a group's committed offsets:
// `kaffa group reset-offsets GROUP --topic T[:P,...] --to-earliest|--to-latest|--to-offset N
// [--execute]` (like kafka-consumer-groups.sh, only for a group without members) and
// `kaffa group delete GROUP --topic T[:P,...]` (OffsetDelete).
#include <algorithm>
#include <cstdio>

#include "tools/cli_group.h"

namespace kaffa::cli {
namespace {

// "TOPIC" (every partition) or "TOPIC:P,P,...".
std::vector<int32_t> select_partitions(const rd_kafka_metadata_t* md, const std::string& spec,
                                       std::string& topic) {
  auto colon = spec.rfind(':');
  topic = spec.substr(0, colon);
  const auto& t = require_topic(md, topic);
  std::vector<int32_t> out;
  if (colon == std::string::npos) {
    for (int i = 0; i < t.partition_cnt; ++i) out.push_back(t.partitions[i].id);
    std::sort(out.begin(), out.end());
    return out;
  }
  std::string rest = spec.substr(colon + 1);
  size_t pos = 0;
  while (pos <= rest.size()) {
    size_t comma = std::min(rest.find(',', pos), rest.size());
    std::string num = rest.substr(pos, comma - pos);
    if (num.empty() || num.size() > 9 || num.find_first_not_of("0123456789") != std::string::npos) {
      usage_error("--topic " + spec + ": expected TOPIC or TOPIC:P,P,...");
    }
    int32_t p = std::stoi(num);
    if (p >= t.partition_cnt) {
      throw Failure(kExitKafka, "topic " + topic + " has no partition " + num);
    }
    out.push_back(p);
    pos = comma + 1;
  }
  return out;
}

PartitionList select_all(const rd_kafka_metadata_t* md, const std::vector<std::string>& topics) {
  PartitionList parts;
  for (const auto& spec : topics) {
    std::string topic;
    for (int32_t p : select_partitions(md, spec, topic)) {
      rd_kafka_topic_partition_list_add(parts.p, topic.c_str(), p);
    }
  }
  return parts;
}

}  // namespace

int group_delete_offsets(Globals& g, const std::string& group,
                         const std::vector<std::string>& topics) {
  Client c(g, RD_KAFKA_PRODUCER);
  Metadata md = fetch_metadata(c);
  PartitionList parts = select_all(md.get(), topics);
  auto* req = rd_kafka_DeleteConsumerGroupOffsets_new(group.c_str(), parts.p);
  std::string what = "delete offsets of group " + group;
  Event ev = [&] {
    try {
      return admin_call(
          c, RD_KAFKA_ADMIN_OP_DELETECONSUMERGROUPOFFSETS, what,
          [&](auto* o, auto* q) { rd_kafka_DeleteConsumerGroupOffsets(c.get(), &req, 1, o, q); });
    } catch (...) {
      rd_kafka_DeleteConsumerGroupOffsets_destroy(req);
      throw;
    }
  }();
  rd_kafka_DeleteConsumerGroupOffsets_destroy(req);
  size_t n = 0;
  auto** res = rd_kafka_DeleteConsumerGroupOffsets_result_groups(
      rd_kafka_event_DeleteConsumerGroupOffsets_result(ev.get()), &n);
  for (size_t i = 0; i < n; ++i) check_group_result(res[i], what);
  if (g.json) {
    Json j;
    j.begin_object().key("group").str(group).key("deleted_offsets").begin_array();
    for (int i = 0; i < parts.p->cnt; ++i) {
      j.begin_object().key("topic").str(parts.p->elems[i].topic);
      j.key("partition").num(parts.p->elems[i].partition).end_object();
    }
    j.end_array().end_object().print();
  } else {
    std::printf("Deleted the committed offsets of group %s for %d partitions.\n", group.c_str(),
                parts.p->cnt);
  }
  return 0;
}

int group_reset_offsets(Globals& g, const std::string& group,
                        const std::vector<std::string>& topics, int mode, int64_t to_offset,
                        bool execute) {
  Client c(g, RD_KAFKA_PRODUCER);
  GroupInfo gi = describe_group(c, group);
  if (gi.state != "Empty" && gi.state != "Dead") {
    throw Failure(kExitKafka, "group " + group + " is " + gi.state + " with " +
                                  std::to_string(gi.members.size()) +
                                  " members: offsets can only be reset while it has none "
                                  "(stop its consumers first)");
  }
  Metadata md = fetch_metadata(c);
  PartitionList parts = select_all(md.get(), topics);
  auto current = committed(c, group, parts.p);
  struct Row {
    TP tp;
    int64_t current, target;
  };
  std::vector<Row> rows;
  for (int i = 0; i < parts.p->cnt; ++i) {
    auto& e = parts.p->elems[i];
    auto [lo, hi] = watermarks(c, e.topic, e.partition);
    int64_t target = mode == 0 ? lo : mode == 1 ? hi : std::clamp(to_offset, lo, hi);
    e.offset = target;
    auto it = current.find({e.topic, e.partition});
    rows.push_back({{e.topic, e.partition}, it != current.end() ? it->second : -1, target});
  }
  if (execute) {
    auto* req = rd_kafka_AlterConsumerGroupOffsets_new(group.c_str(), parts.p);
    std::string what = "reset offsets of group " + group;
    Event ev = [&] {
      try {
        return admin_call(
            c, RD_KAFKA_ADMIN_OP_ALTERCONSUMERGROUPOFFSETS, what,
            [&](auto* o, auto* q) { rd_kafka_AlterConsumerGroupOffsets(c.get(), &req, 1, o, q); });
      } catch (...) {
        rd_kafka_AlterConsumerGroupOffsets_destroy(req);
        throw;
      }
    }();
    rd_kafka_AlterConsumerGroupOffsets_destroy(req);
    size_t n = 0;
    auto** res = rd_kafka_AlterConsumerGroupOffsets_result_groups(
        rd_kafka_event_AlterConsumerGroupOffsets_result(ev.get()), &n);
    for (size_t i = 0; i < n; ++i) check_group_result(res[i], what);
  }
  if (g.json) {
    Json j;
    j.begin_object().key("group").str(group).key("executed").boolean(execute);
    j.key("offsets").begin_array();
    for (const auto& r : rows) {
      j.begin_object().key("topic").str(r.tp.first).key("partition").num(r.tp.second);
      j.key("current_offset");
      r.current >= 0 ? j.num(r.current) : j.null();
      j.key("new_offset").num(r.target).end_object();
    }
    j.end_array().end_object().print();
  } else {
    Table t({"TOPIC", "PARTITION", "CURRENT", "NEW"});
    for (const auto& r : rows) {
      t.row({r.tp.first, std::to_string(r.tp.second),
             r.current >= 0 ? std::to_string(r.current) : "-", std::to_string(r.target)});
    }
    t.print();
  }
  if (!execute) {
    std::fflush(stdout);
    std::fprintf(stderr, "kaffa: dry run: add --execute to apply\n");
  }
  return 0;
}

}  // namespace kaffa::cli
