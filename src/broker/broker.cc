#include "broker/broker.h"

#include <filesystem>
#include <fstream>
#include <sstream>
#include <stdexcept>

#include "base/log.h"
#include "broker/handlers/handlers.h"
#include "protocol/error_codes.h"
#include "protocol/headers.h"
#include "protocol/messages/api_versions.h"

namespace kaffa::broker {
namespace {

constexpr int16_t kApiVersionsKey = 18;

net::ServerConfig server_config(const BrokerConfig& c) {
  net::ServerConfig s;
  for (const auto& l : c.listeners) s.listeners.push_back({l.name, l.host, l.port});
  s.max_request_bytes = c.socket_request_max_bytes;
  s.max_inflight_per_connection = c.connection_max_inflight_requests;
  s.idle_timeout = std::chrono::milliseconds(c.connections_max_idle_ms);
  s.max_connections = c.max_connections;
  s.threads = c.num_network_threads;
  return s;
}

// KIP-35 trap: a version above ours is answered in the v0 body layout with UNSUPPORTED_VERSION
// and our ranges, so that the client can retry with a version we speak.
void answer_unsupported_api_versions(Responder& respond) {
  protocol::ApiVersionsResponse r;
  r.error_code = protocol::code(protocol::ErrorCode::unsupported_version);
  for (const auto& h : handler_table()) {
    r.api_keys.push_back({h.api_key, h.min_version, h.max_version, {}});
  }
  respond.send_at(r, 0);
}

}  // namespace

Broker::Broker(BrokerConfig config) : config_(std::move(config)) {}
Broker::~Broker() = default;

void Broker::load_or_create_meta() {
  // Kafka's meta.properties: the cluster id and node id this data directory belongs to.
  namespace fs = std::filesystem;
  fs::create_directories(config_.log_dir);
  const fs::path meta = fs::path(config_.log_dir) / "meta.properties";
  if (fs::exists(meta)) {
    std::ifstream in(meta);
    std::stringstream ss;
    ss << in.rdbuf();
    std::map<std::string, std::string> props;
    std::string error;
    if (!parse_properties(ss.str(), props, error) || props["cluster.id"].empty()) {
      throw std::runtime_error(meta.string() + " is unreadable: " + error);
    }
    if (props.count("node.id") != 0 && props["node.id"] != std::to_string(config_.node_id)) {
      throw std::runtime_error(meta.string() + " belongs to node.id " + props["node.id"] +
                               ", but this broker is node.id " + std::to_string(config_.node_id));
    }
    cluster_id_ = props["cluster.id"];
    return;
  }
  cluster_id_ = protocol::Uuid::random().to_base64();
  const fs::path tmp = meta.string() + ".tmp";
  {
    std::ofstream out(tmp, std::ios::trunc);
    out << "# Written by kaffa on first start.\nversion=1\ncluster.id=" << cluster_id_
        << "\nnode.id=" << config_.node_id << "\n";
    if (!out.flush()) throw std::runtime_error("cannot write " + tmp.string());
  }
  fs::rename(tmp, meta);
}

void Broker::start() {
  load_or_create_meta();
  server_ = std::make_unique<net::Server>(server_config(config_), *this);
  server_->start();
  // Signals are handled before "ready" is logged: a supervisor may stop us as soon as it reads it.
  server_->stop_on_signals();
  const auto bound = server_->bound();
  // The first listener is what Metadata advertises (one listener type exists so far).
  if (!config_.advertised_listeners.empty()) {
    const auto& a = config_.advertised_listeners.front();
    advertised_ = {config_.node_id, a.host, a.port};
  } else {
    const auto& b = bound.front();
    advertised_ = {config_.node_id, b.host.empty() ? "localhost" : b.host, b.port};
  }
  for (const auto& b : bound) {
    log::info("kaffa ready listener={}://{}:{} node.id={} cluster.id={} log.dirs={}", b.name,
              b.host, b.port, config_.node_id, cluster_id_, config_.log_dir);
  }
}

void Broker::run() {
  server_->run();
}
void Broker::stop() {
  if (server_) server_->stop();
}

void Broker::handle(const net::ConnectionInfo& conn, net::RequestFrame frame,
                    net::Completion done) {
  protocol::ParsedRequest req;
  const auto status = protocol::parse_request_header(frame.bytes(), req);
  if (status != protocol::HeaderStatus::ok) {
    const char* why = status == protocol::HeaderStatus::truncated     ? "truncated header"
                      : status == protocol::HeaderStatus::unknown_api ? "unknown API key"
                                                                      : "malformed header";
    log::warn("closing connection {} from {}: {} (api key {})", conn.id, conn.peer, why,
              req.header.request_api_key);
    done.close();
    return;
  }
  const auto& h = req.header;
  Responder respond(std::move(done), h.correlation_id, h.request_api_key, h.request_api_version);
  const HandlerEntry* entry = find_handler(h.request_api_key);
  if (entry == nullptr) {
    log::warn("closing connection {} from {}: API key {} is not supported", conn.id, conn.peer,
              h.request_api_key);
    respond.close();
    return;
  }
  if (h.request_api_version < entry->min_version || h.request_api_version > entry->max_version) {
    if (h.request_api_key == kApiVersionsKey) {
      answer_unsupported_api_versions(respond);
      return;
    }
    log::warn("closing connection {} from {}: API key {} version {} is not supported", conn.id,
              conn.peer, h.request_api_key, h.request_api_version);
    respond.close();
    return;
  }
  log::trace("request conn={} api={} v{} corr={} client={}", conn.id, h.request_api_key,
             h.request_api_version, h.correlation_id, h.client_id.value_or(""));
  RequestContext ctx{h, req.body, conn, *this};
  entry->handle(ctx, std::move(respond));
}

}  // namespace kaffa::broker
