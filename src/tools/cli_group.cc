// `kaffa group list|describe|delete|reset-offsets`.
#include "tools/cli_group.h"

#include <CLI/CLI.hpp>
#include <algorithm>
#include <cstdio>
#include <map>
#include <optional>

#include "protocol/error_codes.h"
#include "protocol/messages/consumer_group_describe.h"
#include "tools/raw_client.h"

namespace kaffa::cli {

constexpr int16_t kConsumerGroupDescribeKey = 69;

void check_group_result(const rd_kafka_group_result_t* r, const std::string& what) {
  if (const rd_kafka_error_t* e = rd_kafka_group_result_error(r)) {
    kafka_error(what, rd_kafka_error_code(e), rd_kafka_error_string(e));
  }
  if (const auto* parts = rd_kafka_group_result_partitions(r)) {
    for (int i = 0; i < parts->cnt; ++i) {
      if (auto err = parts->elems[i].err) {
        kafka_error(
            what + " " + parts->elems[i].topic + "-" + std::to_string(parts->elems[i].partition),
            err);
      }
    }
  }
}

GroupInfo describe_group(Client& c, const std::string& group) {
  const char* name = group.c_str();
  std::string what = "describe group " + group;
  Event ev = admin_call(c, RD_KAFKA_ADMIN_OP_DESCRIBECONSUMERGROUPS, what, [&](auto* o, auto* q) {
    rd_kafka_DescribeConsumerGroups(c.get(), &name, 1, o, q);
  });
  size_t n = 0;
  auto** groups = rd_kafka_DescribeConsumerGroups_result_groups(
      rd_kafka_event_DescribeConsumerGroups_result(ev.get()), &n);
  if (n != 1) throw Failure(kExitKafka, what + ": no answer for the group");
  const auto* d = groups[0];
  if (const rd_kafka_error_t* e = rd_kafka_ConsumerGroupDescription_error(d)) {
    kafka_error(what, rd_kafka_error_code(e), rd_kafka_error_string(e));
  }
  GroupInfo gi;
  gi.state = rd_kafka_consumer_group_state_name(rd_kafka_ConsumerGroupDescription_state(d));
  gi.assignor = rd_kafka_ConsumerGroupDescription_partition_assignor(d);
  gi.type = rd_kafka_ConsumerGroupDescription_is_simple_consumer_group(d) ? "simple" : "consumer";
  if (const rd_kafka_Node_t* node = rd_kafka_ConsumerGroupDescription_coordinator(d)) {
    gi.coordinator = rd_kafka_Node_id(node);
    gi.coordinator_host = rd_kafka_Node_host(node);
    gi.coordinator_port = rd_kafka_Node_port(node);
  }
  for (size_t i = 0; i < rd_kafka_ConsumerGroupDescription_member_count(d); ++i) {
    const auto* m = rd_kafka_ConsumerGroupDescription_member(d, i);
    Member mem{rd_kafka_MemberDescription_consumer_id(m),
               rd_kafka_MemberDescription_client_id(m),
               rd_kafka_MemberDescription_host(m),
               {}};
    const auto* parts =
        rd_kafka_MemberAssignment_partitions(rd_kafka_MemberDescription_assignment(m));
    for (int k = 0; parts && k < parts->cnt; ++k) {
      mem.assignment.emplace_back(parts->elems[k].topic, parts->elems[k].partition);
    }
    std::sort(mem.assignment.begin(), mem.assignment.end());
    gi.members.push_back(std::move(mem));
  }
  return gi;
}

std::optional<GroupInfo> describe_consumer_protocol_group(const Globals& g, const GroupInfo& dead,
                                                          const std::string& group) {
  // Settings RawClient cannot use (TLS, other -X settings): the group stays as librdkafka saw it.
  if (dead.coordinator_host.empty() || RawClient::unsupported(g)) return std::nullopt;
  Globals at = g;  // RawClient speaks to the first bootstrap server: the coordinator
  at.brokers = dead.coordinator_host + ":" + std::to_string(dead.coordinator_port);
  RawClient raw(at);
  protocol::ConsumerGroupDescribeRequest req;
  req.group_ids.push_back(group);
  protocol::ConsumerGroupDescribeResponse resp;
  raw.call(kConsumerGroupDescribeKey, 0, req, resp);
  if (resp.groups.size() != 1) {
    throw Failure(kExitKafka, "describe group " + group + ": no answer for the group");
  }
  const auto& d = resp.groups[0];
  // Not a consumer-protocol group (a classic one, none, or an old broker without the API).
  const auto code = static_cast<protocol::ErrorCode>(d.error_code);
  if (code == protocol::ErrorCode::group_id_not_found ||
      code == protocol::ErrorCode::unsupported_version) {
    return std::nullopt;
  }
  if (d.error_code != 0) {
    kafka_error("describe group " + group, static_cast<rd_kafka_resp_err_t>(d.error_code),
                d.error_message ? d.error_message->c_str() : nullptr);
  }
  GroupInfo gi = dead;
  gi.protocol = "consumer";
  gi.type = "consumer";
  gi.state = d.group_state;
  gi.assignor = d.assignor_name;
  gi.group_epoch = d.group_epoch;
  gi.assignment_epoch = d.assignment_epoch;
  gi.members.clear();
  for (const auto& m : d.members) {
    Member mem{m.member_id, m.client_id, m.client_host, {}};
    for (const auto& t : m.assignment.topic_partitions) {
      for (int32_t p : t.partitions) mem.assignment.emplace_back(t.topic_name, p);
    }
    std::sort(mem.assignment.begin(), mem.assignment.end());
    gi.members.push_back(std::move(mem));
  }
  return gi;
}

// Committed offsets of the group: all of them (`parts` null) or of these partitions.
std::map<TP, int64_t> committed(Client& c, const std::string& group,
                                const rd_kafka_topic_partition_list_t* parts) {
  auto* req = rd_kafka_ListConsumerGroupOffsets_new(group.c_str(), parts);
  std::string what = "committed offsets of group " + group;
  Event ev = [&] {
    try {
      return admin_call(c, RD_KAFKA_ADMIN_OP_LISTCONSUMERGROUPOFFSETS, what, [&](auto* o, auto* q) {
        rd_kafka_ListConsumerGroupOffsets(c.get(), &req, 1, o, q);
      });
    } catch (...) {
      rd_kafka_ListConsumerGroupOffsets_destroy(req);
      throw;
    }
  }();
  rd_kafka_ListConsumerGroupOffsets_destroy(req);
  size_t n = 0;
  auto** res = rd_kafka_ListConsumerGroupOffsets_result_groups(
      rd_kafka_event_ListConsumerGroupOffsets_result(ev.get()), &n);
  std::map<TP, int64_t> out;
  for (size_t i = 0; i < n; ++i) {
    check_group_result(res[i], what);
    const auto* ps = rd_kafka_group_result_partitions(res[i]);
    for (int k = 0; ps && k < ps->cnt; ++k) {
      out[{ps->elems[k].topic, ps->elems[k].partition}] = ps->elems[k].offset;
    }
  }
  return out;
}

namespace {

std::string dash_or(int64_t v) {
  return v < 0 ? "-" : std::to_string(v);
}

struct GroupOpts {
  std::string group;
  std::vector<std::string> topics;  // reset-offsets: TOPIC or TOPIC:P,P,...
  bool to_earliest = false, to_latest = false;
  int64_t to_offset = -1;
  bool execute = false;
};

int group_list(Globals& g, const GroupOpts&) {
  Client c(g, RD_KAFKA_PRODUCER);
  Event ev = admin_call(c, RD_KAFKA_ADMIN_OP_LISTCONSUMERGROUPS, "list groups",
                        [&](auto* o, auto* q) { rd_kafka_ListConsumerGroups(c.get(), o, q); });
  const auto* res = rd_kafka_event_ListConsumerGroups_result(ev.get());
  size_t nerr = 0;
  auto** errors = rd_kafka_ListConsumerGroups_result_errors(res, &nerr);
  if (nerr > 0) {
    kafka_error("list groups", rd_kafka_error_code(errors[0]), rd_kafka_error_string(errors[0]));
  }
  size_t n = 0;
  auto** list = rd_kafka_ListConsumerGroups_result_valid(res, &n);
  std::vector<std::array<std::string, 3>> rows;
  for (size_t i = 0; i < n; ++i) {
    rows.push_back(
        {rd_kafka_ConsumerGroupListing_group_id(list[i]),
         rd_kafka_consumer_group_state_name(rd_kafka_ConsumerGroupListing_state(list[i])),
         rd_kafka_ConsumerGroupListing_is_simple_consumer_group(list[i]) ? "simple" : "consumer"});
  }
  std::sort(rows.begin(), rows.end());
  if (g.json) {
    Json j;
    j.begin_array();
    for (const auto& r : rows) {
      j.begin_object().key("group").str(r[0]).key("state").str(r[1]).key("type").str(r[2]);
      j.end_object();
    }
    j.end_array().print();
    return 0;
  }
  Table t({"GROUP", "STATE", "TYPE"});
  for (const auto& r : rows) t.row({r[0], r[1], r[2]});
  t.print();
  return 0;
}

int group_describe(Globals& g, const GroupOpts& o) {
  Client c(g, RD_KAFKA_PRODUCER);
  GroupInfo gi = describe_group(c, o.group);
  if (gi.state == "Dead" && gi.members.empty()) {
    if (auto kip848 = describe_consumer_protocol_group(g, gi, o.group)) gi = std::move(*kip848);
  }
  auto offsets = committed(c, o.group, nullptr);
  if (gi.state == "Dead" && gi.members.empty() && offsets.empty()) {
    throw Failure(kExitKafka, "group " + o.group + " does not exist");
  }
  std::map<TP, std::string> owner;
  for (const auto& m : gi.members) {
    for (const auto& tp : m.assignment) owner[tp] = m.id;
  }
  std::map<TP, int64_t> rows = offsets;  // plus assigned partitions without a committed offset
  for (const auto& [tp, m] : owner) rows.try_emplace(tp, -1);
  struct Lag {
    int64_t committed, end, lag;
  };
  std::map<TP, Lag> lags;
  int64_t total = 0;
  for (const auto& [tp, off] : rows) {
    int64_t end = watermarks(c, tp.first, tp.second).second;
    int64_t lag = off >= 0 ? std::max<int64_t>(0, end - off) : -1;
    if (lag > 0) total += lag;
    lags[tp] = {off, end, lag};
  }
  if (g.json) {
    Json j;
    j.begin_object().key("group").str(o.group).key("state").str(gi.state);
    j.key("type").str(gi.type).key("protocol").str(gi.protocol).key("assignor").str(gi.assignor);
    if (gi.protocol == "consumer") {
      j.key("group_epoch").num(gi.group_epoch).key("assignment_epoch").num(gi.assignment_epoch);
    }
    j.key("coordinator").num(gi.coordinator).key("members").begin_array();
    for (const auto& m : gi.members) {
      j.begin_object().key("member_id").str(m.id).key("client_id").str(m.client_id);
      j.key("host").str(m.host).key("assignment").begin_array();
      for (const auto& tp : m.assignment) {
        j.begin_object().key("topic").str(tp.first).key("partition").num(tp.second).end_object();
      }
      j.end_array().end_object();
    }
    j.end_array().key("offsets").begin_array();
    for (const auto& [tp, l] : lags) {
      j.begin_object().key("topic").str(tp.first).key("partition").num(tp.second);
      j.key("committed_offset");
      l.committed >= 0 ? j.num(l.committed) : j.null();
      j.key("log_end_offset").num(l.end).key("lag");
      l.lag >= 0 ? j.num(l.lag) : j.null();
      auto it = owner.find(tp);
      j.key("member_id");
      it != owner.end() ? j.str(it->second) : j.null();
      j.end_object();
    }
    j.end_array().key("total_lag").num(total).end_object().print();
    return 0;
  }
  std::printf(
      "Group: %s  State: %s  Protocol: %s  Assignor: %s  Members: %zu  Coordinator: %d  Total "
      "lag: %lld\n",
      o.group.c_str(), gi.state.c_str(), gi.protocol.c_str(),
      gi.assignor.empty() ? "-" : gi.assignor.c_str(), gi.members.size(), gi.coordinator,
      static_cast<long long>(total));
  if (gi.protocol == "consumer") {
    std::printf("Group epoch: %d  Assignment epoch: %d\n", gi.group_epoch, gi.assignment_epoch);
  }
  if (!gi.members.empty()) {
    std::printf("\n");
    Table mt({"MEMBER", "CLIENT-ID", "HOST", "PARTITIONS"});
    for (const auto& m : gi.members) {
      std::string ps;
      for (const auto& tp : m.assignment) {
        ps += (ps.empty() ? "" : ",") + tp.first + "-" + std::to_string(tp.second);
      }
      mt.row({m.id, m.client_id, m.host, ps.empty() ? "-" : ps});
    }
    mt.print();
  }
  std::printf("\n");
  Table t({"TOPIC", "PARTITION", "COMMITTED", "LOG-END", "LAG", "MEMBER"});
  for (const auto& [tp, l] : lags) {
    auto it = owner.find(tp);
    t.row({tp.first, std::to_string(tp.second), dash_or(l.committed), std::to_string(l.end),
           dash_or(l.lag), it != owner.end() ? it->second : "-"});
  }
  t.print();
  return 0;
}

int group_delete(Globals& g, const GroupOpts& o) {
  Client c(g, RD_KAFKA_PRODUCER);
  rd_kafka_DeleteGroup_t* dg = rd_kafka_DeleteGroup_new(o.group.c_str());
  std::string what = "delete group " + o.group;
  Event ev = [&] {
    try {
      return admin_call(c, RD_KAFKA_ADMIN_OP_DELETEGROUPS, what, [&](auto* opt, auto* q) {
        rd_kafka_DeleteGroups(c.get(), &dg, 1, opt, q);
      });
    } catch (...) {
      rd_kafka_DeleteGroup_destroy(dg);
      throw;
    }
  }();
  rd_kafka_DeleteGroup_destroy(dg);
  size_t n = 0;
  auto** res =
      rd_kafka_DeleteGroups_result_groups(rd_kafka_event_DeleteGroups_result(ev.get()), &n);
  for (size_t i = 0; i < n; ++i) check_group_result(res[i], what);
  if (g.json) {
    Json j;
    j.begin_object().key("group").str(o.group).key("deleted").boolean(true).end_object().print();
  } else {
    std::printf("Deleted group %s.\n", o.group.c_str());
  }
  return 0;
}

}  // namespace

void add_group_commands(CLI::App& app, Globals& g) {
  auto* grp = app.add_subcommand("group", "List, describe, delete consumer groups; reset offsets");
  grp->require_subcommand(1);
  auto o = std::make_shared<GroupOpts>();

  auto* list = grp->add_subcommand("list", "List consumer groups");
  on_run(list, g, [&g, o] { return group_list(g, *o); });

  auto* describe = grp->add_subcommand(
      "describe", "State, members, assignment, committed offsets, log end offsets and lag");
  describe->add_option("group", o->group, "Group id")->required();
  on_run(describe, g, [&g, o] { return group_describe(g, *o); });

  auto* del = grp->add_subcommand(
      "delete", "Delete an empty group, or with --topic only its offsets for those partitions");
  del->add_option("group", o->group, "Group id")->required();
  del->add_option("--topic", o->topics, "TOPIC or TOPIC:P,P,...: delete only these offsets");
  on_run(del, g, [&g, o] {
    return o->topics.empty() ? group_delete(g, *o) : group_delete_offsets(g, o->group, o->topics);
  });

  auto* reset = grp->add_subcommand(
      "reset-offsets", "Move an empty group's committed offsets (a dry run without --execute)");
  reset->add_option("group", o->group, "Group id")->required();
  reset->add_option("--topic", o->topics, "TOPIC or TOPIC:P,P,... (repeatable)")->required();
  auto* e = reset->add_flag("--to-earliest", o->to_earliest, "To the log start offsets");
  auto* l = reset->add_flag("--to-latest", o->to_latest, "To the log end offsets");
  auto* n = reset->add_option("--to-offset", o->to_offset, "To OFFSET (kept within the log)")
                ->check(CLI::NonNegativeNumber);
  e->excludes(l)->excludes(n);
  l->excludes(n);
  reset->add_flag("--execute", o->execute, "Apply the change (otherwise only show it)");
  on_run(reset, g, [&g, o] {
    int mode = o->to_earliest ? 0 : o->to_latest ? 1 : o->to_offset >= 0 ? 2 : -1;
    if (mode < 0)
      usage_error("group reset-offsets: give --to-earliest, --to-latest or --to-offset");
    return group_reset_offsets(g, o->group, o->topics, mode, o->to_offset, o->execute);
  });
}

}  // namespace kaffa::cli
