#include "broker/admin_api.h"

#include <algorithm>
#include <mutex>

#include "base/json.h"
#include "base/log.h"
#include "broker/broker.h"
#include "coordinator/group_manager.h"
#include "coordinator/offset_store.h"

namespace kaffa::broker {
namespace {

constexpr const char* kJson = "application/json";
constexpr const char* kPrometheus = "text/plain; version=0.0.4; charset=utf-8";

const char* level_name(log::Level l) {
  switch (l) {
    case log::Level::trace:
      return "trace";
    case log::Level::debug:
      return "debug";
    case log::Level::info:
      return "info";
    case log::Level::warn:
      return "warn";
    case log::Level::error:
      return "error";
    case log::Level::off:
      return "off";
  }
  return "?";
}

net::HttpResponse json_response(int status, std::string body) {
  body += '\n';
  return {status, kJson, std::move(body)};
}

net::HttpResponse error_response(int status, std::string_view message) {
  json::Writer w;
  w.begin_object().key("error").value(message).end_object();
  return json_response(status, w.str());
}

std::string health_body(std::string_view status, bool offsets_loaded, bool stopping) {
  json::Writer w;
  w.begin_object();
  w.key("status").value(status);
  w.key("listeners_bound").value(true);
  w.key("offsets_loaded").value(offsets_loaded);
  w.key("stopping").value(stopping);
  w.end_object();
  return w.str();
}

}  // namespace

AdminApi::AdminApi(Broker& broker, net::Server& server) : broker_(broker), server_(server) {}

AdminApi::~AdminApi() = default;

void AdminApi::start() {
  server_.on_stop([this] { stopping_.store(true, std::memory_order_release); });
  for (const auto& l : broker_.config().admin_listeners) {
    net::HttpConfig hc;
    hc.host = l.host;
    hc.port = l.port;
    auto http = std::make_unique<net::HttpServer>(
        server_, hc, [this](const net::HttpRequest& req, net::HttpReply reply) {
          handle(req, std::move(reply));
        });
    const uint16_t port = http->start();
    const std::string host = l.host.empty() ? "0.0.0.0" : l.host;
    bound_.push_back({l.name, host, port});
    log::info("kaffa admin listener=http://{}:{}",
              host.find(':') != std::string::npos ? "[" + host + "]" : host, port);
    http_.push_back(std::move(http));
  }
}

void AdminApi::handle(const net::HttpRequest& req, net::HttpReply reply) {
  log::debug("admin: {} {} from {}", req.method, req.target, req.peer);
  const std::string& p = req.path;
  if (p == "/metrics") {
    const bool groups = !stopping_.load(std::memory_order_acquire);
    broker_.metrics().scrape(broker_, groups, [reply](std::string text) {
      reply({200, kPrometheus, std::move(text)});
    });
  } else if (p == "/health/live") {
    reply(json_response(200, R"({"status":"live"})"));
  } else if (p == "/health/ready" || p == "/health") {
    ready(std::move(reply));
  } else if (p == "/v1/cluster") {
    cluster(std::move(reply));
  } else if (p == "/v1/topics") {
    topics(std::move(reply));
  } else if (p == "/v1/groups") {
    groups(std::move(reply));
  } else if (p == "/v1/log-level") {
    log_level(req, std::move(reply));
  } else {
    reply(error_response(404, "no such path: " + p));
  }
}

void AdminApi::ready(net::HttpReply reply) {
  // Runs on loop 0, like Server::on_stop hooks: once stopping is seen, no shard is visited (their
  // loops may be ending).
  if (stopping_.load(std::memory_order_acquire)) {
    return reply(json_response(
        503, health_body("stopping", offsets_loaded_.load(std::memory_order_acquire), true)));
  }
  if (offsets_loaded_.load(std::memory_order_acquire)) {
    return reply(json_response(200, health_body("ready", true, false)));
  }
  if (!broker_.coordinator().all_loaded() || !broker_.txn_coordinator().all_loaded()) {
    return reply(json_response(503, health_body("loading", false, false)));
  }
  offsets_loaded_.store(true, std::memory_order_release);
  reply(json_response(200, health_body("ready", true, false)));
}

void AdminApi::cluster(net::HttpReply reply) {
  json::Writer w;
  w.begin_object();
  w.key("cluster_id").value(broker_.cluster_id());
  w.key("node_id").value(broker_.config().node_id);
  w.key("listeners").begin_array();
  for (const auto& l : server_.bound()) {
    w.begin_object();
    w.key("name").value(l.name);
    w.key("host").value(l.host);
    w.key("port").value(static_cast<int64_t>(l.port));
    w.end_object();
  }
  w.end_array();
  const auto adv = broker_.advertised();
  w.key("advertised").begin_object();
  w.key("node_id").value(adv.node_id);
  w.key("host").value(adv.host);
  w.key("port").value(adv.port);
  w.end_object();
  w.key("advertised_listeners").begin_array();
  for (const auto& l : server_.bound()) {
    const auto a = broker_.advertised(l.name);
    w.begin_object();
    w.key("name").value(l.name);
    w.key("host").value(a.host);
    w.key("port").value(a.port);
    w.end_object();
  }
  w.end_array();
  w.key("admin_listeners").begin_array();
  for (const auto& l : bound_) w.value("http://" + l.host + ":" + std::to_string(l.port));
  w.end_array();
  w.key("log_dir").value(broker_.config().log_dir);
  w.key("log_dirs").begin_array();
  for (const auto& d : broker_.config().log_dirs) w.value(d);
  w.end_array();
  w.end_object();
  reply(json_response(200, w.str()));
}

void AdminApi::topics(net::HttpReply reply) {
  json::Writer w;
  w.begin_array();
  for (const auto& t : broker_.topics().list()) {
    w.begin_object();
    w.key("name").value(t.name);
    w.key("id").value(t.id.to_base64());
    w.key("partitions").value(t.partitions);
    w.key("replication_factor").value(static_cast<int32_t>(t.replication_factor));
    w.key("internal").value(t.internal);
    w.key("configs").begin_object();
    for (const auto& [k, v] : t.configs) w.key(k).value(v);
    w.end_object();
    w.end_object();
  }
  w.end_array();
  reply(json_response(200, w.str()));
}

void AdminApi::groups(net::HttpReply reply) {
  if (stopping_.load(std::memory_order_acquire)) {
    return reply(error_response(503, "the broker is stopping"));
  }
  struct Listed {
    std::string id, state, protocol_type;
    int64_t members;
  };
  struct Scan {
    std::mutex mu;
    std::vector<Listed> groups;
    bool loading = false;
  };
  auto scan = std::make_shared<Scan>();
  broker_.coordinator().for_each_shard(
      [scan](coordinator::CoordinatorShard* shard) {
        std::vector<Listed> found;
        if (shard != nullptr) {
          auto& gm = shard->groups();
          for (auto& l : gm.list()) {
            found.push_back(
                {l.group_id, l.state, l.protocol_type, static_cast<int64_t>(l.members)});
          }
          for (auto& id : shard->offsets().groups()) {
            if (!gm.has_group(id)) {
              found.push_back({id,
                               std::string(coordinator::state_name(coordinator::GroupState::empty)),
                               "", 0});
            }
          }
        }
        std::lock_guard lock(scan->mu);
        if (shard == nullptr) scan->loading = true;
        for (auto& g : found) scan->groups.push_back(std::move(g));
      },
      [scan, reply] {
        std::lock_guard lock(scan->mu);
        if (scan->loading) return reply(error_response(503, "group coordinator is loading"));
        std::sort(scan->groups.begin(), scan->groups.end(),
                  [](const Listed& a, const Listed& b) { return a.id < b.id; });
        json::Writer w;
        w.begin_array();
        for (const auto& g : scan->groups) {
          w.begin_object();
          w.key("group_id").value(g.id);
          w.key("state").value(g.state);
          w.key("protocol_type").value(g.protocol_type);
          w.key("members").value(g.members);
          w.end_object();
        }
        w.end_array();
        reply(json_response(200, w.str()));
      });
}

void AdminApi::log_level(const net::HttpRequest& req, net::HttpReply reply) {
  const log::Level before = log::level();
  auto it = req.query.find("set");
  if (it != req.query.end()) {
    log::Level next;
    if (!log::parse_level(it->second, next)) {
      return reply(error_response(400, "expected trace, debug, info, warn, error or off"));
    }
    log::set_level(next);
    // Logged at warn so that the change is visible whatever the new level (short of off).
    log::warn("log level changed from {} to {} through the admin API (from {})", level_name(before),
              level_name(next), req.peer);
  }
  json::Writer w;
  w.begin_object();
  w.key("level").value(level_name(log::level()));
  if (it != req.query.end()) w.key("previous").value(level_name(before));
  w.end_object();
  reply(json_response(200, w.str()));
}

}  // namespace kaffa::broker
