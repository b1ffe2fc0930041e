// The broker process: configuration, node identity (meta.properties), the topic registry, and
// the network server whose requests it dispatches to the API handlers.
//
// Lifecycle: construct -> start() (binds listeners, installs SIGINT/SIGTERM handling, may throw) ->
// run() (blocks); stop() from any thread or a signal makes run() return after in-flight requests
// are answered.
#pragma once

#include <memory>
#include <string>

#include "broker/config.h"
#include "cluster/topic_registry.h"
#include "net/server.h"

namespace kaffa::broker {

struct AdvertisedBroker {
  int32_t node_id;
  std::string host;
  int32_t port;
};

class Broker : public net::RequestHandler {
 public:
  explicit Broker(BrokerConfig config);
  ~Broker() override;

  void start();
  void run();
  void stop();

  const BrokerConfig& config() const { return config_; }
  const std::string& cluster_id() const { return cluster_id_; }
  AdvertisedBroker advertised() const { return advertised_; }
  cluster::TopicRegistry& topics() { return topics_; }

  void handle(const net::ConnectionInfo& conn, net::RequestFrame frame,
              net::Completion done) override;

 private:
  void load_or_create_meta();

  BrokerConfig config_;
  std::string cluster_id_;
  AdvertisedBroker advertised_{};
  cluster::TopicRegistry topics_;
  std::unique_ptr<net::Server> server_;
};

}  // namespace kaffa::broker
