// The broker's HTTP admin API (admin.listeners), served by net::HttpServer on loop 0:
//
//   GET /metrics                 Prometheus text (BrokerMetrics)
//   GET /health/live             200 while the process serves HTTP
//   GET /health/ready, /health   200 once the Kafka listeners are bound and every
//                                __consumer_offsets shard has loaded; 503 before and from the
//                                moment shutdown begins
//   GET /v1/cluster              {"cluster_id", "node_id", "listeners": [...], ...}
//   GET /v1/topics               [{"name", "id", "partitions", "replication_factor", "internal",
//                                  "configs": {...}}]
//   GET /v1/groups               [{"group_id", "state", "protocol_type", "members"}]
//   GET /v1/log-level[?set=L]    {"level"}: the log threshold, changed at runtime with `set`
//                                (trace, debug, info, warn, error, off); at debug every request
//                                is logged
//
// Anything else is 404; the HTTP layer answers malformed requests itself.
//
// Threading: requests arrive on loop 0; answers that need the coordinator shards complete on
// their loops. Lifecycle: construct after the Kafka listeners are bound, start() before
// Server::run(); must be destroyed before the net::Server.
#pragma once

#include <atomic>
#include <memory>
#include <vector>

#include "net/http_server.h"
#include "net/server.h"

namespace kaffa::broker {

class Broker;

class AdminApi {
 public:
  AdminApi(Broker& broker, net::Server& server);
  ~AdminApi();

  // Binds every admin listener and logs `kaffa admin listener=http://HOST:PORT` for each.
  // Throws std::system_error when one cannot be bound.
  void start();

  // The HTTP handler (public for tests).
  void handle(const net::HttpRequest& req, net::HttpReply reply);

 private:
  void ready(net::HttpReply reply);
  void cluster(net::HttpReply reply);
  void topics(net::HttpReply reply);
  void groups(net::HttpReply reply);
  void log_level(const net::HttpRequest& req, net::HttpReply reply);

  Broker& broker_;
  net::Server& server_;
  std::vector<std::unique_ptr<net::HttpServer>> http_;
  std::vector<net::ListenerConfig> bound_;  // the admin listeners, ports resolved
  std::atomic<bool> stopping_{false};
  std::atomic<bool> offsets_loaded_{false};  // every shard seen loaded once (it stays loaded)
};

}  // namespace kaffa::broker
