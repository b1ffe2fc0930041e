#include "cluster/metadata_records.h"

#include <algorithm>
#include <charconv>

#include "base/base64.h"
#include "base/json.h"
#include "base/json_reader.h"

namespace kaffa::cluster::records {
namespace {

std::optional<int32_t> parse_int32(std::string_view s) {
  int32_t v = 0;
  if (s.empty()) return std::nullopt;
  auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (ec != std::errc() || p != s.data() + s.size()) return std::nullopt;
  return v;
}

std::optional<int32_t> int32_of(const json::Value& v) {
  auto n = v.as_int64();
  if (!n || *n < INT32_MIN || *n > INT32_MAX) return std::nullopt;
  return static_cast<int32_t>(*n);
}

bool int32_list(const json::Value& v, std::vector<int32_t>& out) {
  if (!v.is_array()) return false;
  for (const auto& item : v.items()) {
    auto n = int32_of(item);
    if (!n) return false;
    out.push_back(*n);
  }
  return true;
}

void write_list(json::Writer& w, const std::vector<int32_t>& v) {
  w.begin_array();
  for (int32_t x : v) w.value(x);
  w.end_array();
}

}  // namespace

KeyRef parse_key(const Keys& keys, std::string_view key) {
  KeyRef r;
  const std::string root = keys.root();
  if (key.substr(0, root.size()) != root) return r;
  std::string_view rest = key.substr(root.size());
  auto after = [&](std::string_view head) -> std::optional<std::string_view> {
    if (rest.substr(0, head.size()) != head) return std::nullopt;
    return rest.substr(head.size());
  };
  if (rest == "cluster_id") {
    r.kind = KeyRef::Kind::cluster_id;
  } else if (rest == "controller") {
    r.kind = KeyRef::Kind::controller;
  } else if (rest == "producer_id_block") {
    r.kind = KeyRef::Kind::producer_id_block;
  } else if (rest == "acls") {
    r.kind = KeyRef::Kind::acls;
  } else if (rest == "scram_credentials") {
    r.kind = KeyRef::Kind::scram_credentials;
  } else if (rest == "client_quotas") {
    r.kind = KeyRef::Kind::client_quotas;
  } else if (rest == "group_configs") {
    r.kind = KeyRef::Kind::group_configs;
  } else if (rest == "broker_configs") {
    r.kind = KeyRef::Kind::broker_configs;
  } else if (auto b = after("brokers/")) {
    if (auto id = parse_int32(*b)) {
      r.kind = KeyRef::Kind::broker;
      r.broker_id = *id;
    }
  } else if (auto t = after("topics/")) {
    if (!t->empty()) {
      r.kind = KeyRef::Kind::topic;
      r.topic_name = std::string(*t);
    }
  } else if (auto p = after("partitions/")) {
    const auto slash = p->find('/');
    if (slash != std::string_view::npos && slash > 0) {
      if (auto index = parse_int32(p->substr(slash + 1)); index && *index >= 0) {
        r.kind = KeyRef::Kind::partition;
        r.topic_id = std::string(p->substr(0, slash));
        r.index = *index;
      }
    }
  }
  return r;
}

std::optional<protocol::Uuid> uuid_from_base64(std::string_view text) {
  if (text.size() != 22) return std::nullopt;
  std::string s(text);
  for (char& c : s) {
    if (c == '-') c = '+';
    if (c == '_') c = '/';
  }
  s += "==";
  auto raw = base64::decode(s);
  if (!raw || raw->size() != 16) return std::nullopt;
  protocol::Uuid u;
  for (size_t i = 0; i < 16; ++i) u.bytes[i] = static_cast<uint8_t>((*raw)[i]);
  return u;
}

std::string encode_topic(const TopicInfo& t) {
  json::Writer w;
  w.begin_object();
  w.key("id").value(t.id.to_base64());
  w.key("partitions").value(t.partitions);
  w.key("replication_factor").value(static_cast<int32_t>(t.replication_factor));
  w.key("configs").begin_object();
  for (const auto& [k, v] : t.configs) w.key(k).value(v);
  w.end_object();
  w.key("internal").value(t.internal);
  w.end_object();
  return w.str();
}

std::optional<TopicInfo> decode_topic(std::string_view name, std::string_view text) {
  auto v = json::parse(text);
  if (!v || !v->is_object()) return std::nullopt;
  TopicInfo t;
  t.name = std::string(name);
  auto id = uuid_from_base64((*v)["id"].as_string());
  auto partitions = int32_of((*v)["partitions"]);
  auto rf = int32_of((*v)["replication_factor"]);
  if (!id || !partitions || *partitions < 0 || !rf || *rf < 0 || *rf > INT16_MAX) {
    return std::nullopt;
  }
  t.id = *id;
  t.partitions = *partitions;
  t.replication_factor = static_cast<int16_t>(*rf);
  for (const auto& [k, val] : (*v)["configs"].members()) {
    if (!val.is_string()) return std::nullopt;
    t.configs[k] = val.as_string();
  }
  t.internal = (*v)["internal"].as_bool();
  return t;
}

std::string encode_partition(const PartitionState& p) {
  json::Writer w;
  w.begin_object();
  w.key("replicas");
  write_list(w, p.replicas);
  w.key("isr");
  write_list(w, p.isr);
  if (p.reassigning()) {  // absent otherwise: the record of a settled partition is unchanged
    w.key("adding");
    write_list(w, p.adding);
    w.key("removing");
    write_list(w, p.removing);
  }
  w.key("leader").value(p.leader);
  w.key("leader_epoch").value(p.leader_epoch);
  w.key("partition_epoch").value(p.partition_epoch);
  w.end_object();
  return w.str();
}

std::optional<PartitionState> decode_partition(std::string_view text) {
  auto v = json::parse(text);
  if (!v || !v->is_object()) return std::nullopt;
  PartitionState p;
  auto leader = int32_of((*v)["leader"]);
  auto le = int32_of((*v)["leader_epoch"]);
  auto pe = int32_of((*v)["partition_epoch"]);
  if (!int32_list((*v)["replicas"], p.replicas) || !int32_list((*v)["isr"], p.isr) || !leader ||
      !le || !pe) {
    return std::nullopt;
  }
  if (v->find("adding") != nullptr || v->find("removing") != nullptr) {
    if (!int32_list((*v)["adding"], p.adding) || !int32_list((*v)["removing"], p.removing)) {
      return std::nullopt;
    }
    auto among_replicas = [&p](const std::vector<int32_t>& ids) {
      return std::ranges::all_of(
          ids, [&p](int32_t id) { return std::ranges::find(p.replicas, id) != p.replicas.end(); });
    };
    if (!among_replicas(p.adding) || !among_replicas(p.removing)) return std::nullopt;
  }
  p.leader = *leader;
  p.leader_epoch = *le;
  p.partition_epoch = *pe;
  return p;
}

std::string encode_broker(const BrokerRegistration& b) {
  json::Writer w;
  w.begin_object();
  w.key("id").value(b.id);
  w.key("rack").value(b.rack);
  w.key("endpoints").begin_array();
  for (const auto& e : b.endpoints) {
    w.begin_object();
    w.key("listener").value(e.listener);
    w.key("host").value(e.host);
    w.key("port").value(e.port);
    w.key("security_protocol").value(e.security_protocol);
    w.end_object();
  }
  w.end_array();
  w.key("inter_broker_listener").value(b.inter_broker_listener);
  w.key("shutting_down").value(b.shutting_down);
  w.key("incarnation").value(std::to_string(b.incarnation));
  if (!b.offline_replicas.empty()) {
    w.key("offline_replicas").begin_array();
    for (const auto& [id, index] : b.offline_replicas) {
      w.begin_object();
      w.key("topic_id").value(id.to_base64());
      w.key("partition").value(index);
      w.end_object();
    }
    w.end_array();
  }
  w.end_object();
  return w.str();
}

std::optional<BrokerRegistration> decode_broker(std::string_view text) {
  auto v = json::parse(text);
  if (!v || !v->is_object()) return std::nullopt;
  BrokerRegistration b;
  auto id = int32_of((*v)["id"]);
  if (!id || !(*v)["endpoints"].is_array()) return std::nullopt;
  b.id = *id;
  b.rack = (*v)["rack"].as_string();
  for (const auto& e : (*v)["endpoints"].items()) {
    BrokerEndpoint ep;
    ep.listener = e["listener"].as_string();
    ep.host = e["host"].as_string();
    auto port = int32_of(e["port"]);
    if (!port) return std::nullopt;
    ep.port = *port;
    ep.security_protocol = e["security_protocol"].as_string();
    b.endpoints.push_back(std::move(ep));
  }
  b.inter_broker_listener = (*v)["inter_broker_listener"].as_string();
  b.shutting_down = (*v)["shutting_down"].as_bool();
  b.incarnation = (*v)["incarnation"].int64_or(0);
  for (const auto& o : (*v)["offline_replicas"].items()) {
    auto id = uuid_from_base64(o["topic_id"].as_string());
    auto index = int32_of(o["partition"]);
    if (!id || !index) return std::nullopt;
    b.offline_replicas.emplace_back(*id, *index);
  }
  return b;
}

std::string encode_producer_id_block(int64_t next) {
  json::Writer w;
  w.begin_object();
  w.key("next").value(std::to_string(next));
  w.end_object();
  return w.str();
}

std::optional<int64_t> decode_producer_id_block(std::string_view text) {
  auto v = json::parse(text);
  if (!v || !v->is_object()) return std::nullopt;
  auto next = (*v)["next"].as_int64();
  if (!next || *next < 0) return std::nullopt;
  return next;
}

}  // namespace kaffa::cluster::records
