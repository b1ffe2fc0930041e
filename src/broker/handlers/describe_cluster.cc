// DescribeCluster (key 60), versions 0-1 (flexible from 0; KIP-700, v1 KIP-919): cluster id,
// controller and brokers, as Metadata gives them but without topics. On a single node this node
// is every broker and the controller; in a cluster the live brokers and the controller come from
// the metadata image. Brokers are advertised with the address of the listener the request came
// in on. A
// request for controller endpoints (endpoint_type 2) is MISMATCHED_ENDPOINT_TYPE, an unknown type
// UNSUPPORTED_ENDPOINT_TYPE, as a Kafka broker answers. Authorization: DESCRIBE on the cluster,
// else CLUSTER_AUTHORIZATION_FAILED; the cluster's authorized operations are filled when asked.
#include "protocol/messages/describe_cluster.h"

#include "broker/authorize.h"
#include "broker/broker.h"
#include "broker/handlers/handlers.h"
#include "protocol/error_codes.h"

namespace kaffa::broker {

void handle_describe_cluster(RequestContext& ctx, Responder respond) {
  protocol::DescribeClusterRequest req;
  if (!ctx.decode(req)) return respond.close();
  Broker& broker = ctx.broker;
  protocol::DescribeClusterResponse resp;
  resp.endpoint_type = req.endpoint_type;
  resp.cluster_id = broker.cluster_id();
  if (!authorize_cluster(ctx, AclOperation::describe)) {
    resp.error_code = protocol::code(protocol::ErrorCode::cluster_authorization_failed);
    resp.error_message = "Cluster authorization failed.";
    return respond.send(resp);
  }
  if (req.endpoint_type != 1) {
    const bool controllers = req.endpoint_type == 2;
    resp.error_code = protocol::code(controllers ? protocol::ErrorCode::mismatched_endpoint_type
                                                 : protocol::ErrorCode::unsupported_endpoint_type);
    resp.error_message = controllers
                             ? "The request was sent to an endpoint of type BROKER, but "
                               "we wanted an endpoint of type CONTROLLER"
                             : "Unsupported endpoint type " + std::to_string(req.endpoint_type);
    return respond.send(resp);
  }
  resp.controller_id = broker.controller_id();
  for (auto& a : broker.live_nodes(ctx.conn.listener_name)) {
    resp.brokers.push_back({a.node_id, a.host, a.port, a.rack, {}});
  }
  if (req.include_cluster_authorized_operations) {
    resp.cluster_authorized_operations =
        authorized_operations(ctx, ResourceType::cluster, security::kClusterResourceName);
  }
  respond.send(resp);
}

}  // namespace kaffa::broker
