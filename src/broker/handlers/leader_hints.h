// KIP-951 leader hints (Produce v10+, Fetch v16+): a partition answered NOT_LEADER_OR_FOLLOWER
// (Fetch: also FENCED_LEADER_EPOCH) carries the leader and leader epoch this broker's metadata
// names, and the response the addresses of those leaders on the client's listener, so that the
// client can go to the new leader without a Metadata round trip first. A partition without a
// known leader gets (-1, -1) and no address, as Kafka does.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "broker/broker.h"
#include "protocol/error_codes.h"

namespace kaffa::broker {

struct LeaderHint {
  int32_t leader_id = -1;
  int32_t leader_epoch = -1;
  std::optional<AdvertisedBroker> node;  // the leader's address on `listener`, when alive
};

LeaderHint leader_hint(const Broker& broker, const cluster::MetadataImage* image,
                       std::string_view listener, const std::string& topic, int32_t partition);

// Sets `out.current_leader` from the hint and adds the leader's address to `endpoints` once.
template <class PartitionOut, class Endpoints>
void apply_leader_hint(const LeaderHint& hint, PartitionOut& out, Endpoints& endpoints) {
  out.current_leader.leader_id = hint.leader_id;
  out.current_leader.leader_epoch = hint.leader_epoch;
  if (!hint.node) return;
  for (const auto& e : endpoints) {
    if (e.node_id == hint.node->node_id) return;
  }
  auto& e = endpoints.emplace_back();
  e.node_id = hint.node->node_id;
  e.host = hint.node->host;
  e.port = hint.node->port;
  e.rack = hint.node->rack;
}

}  // namespace kaffa::broker
