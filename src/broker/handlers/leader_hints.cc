#include "broker/handlers/leader_hints.h"

namespace kaffa::broker {

LeaderHint leader_hint(const Broker& broker, const cluster::MetadataImage* image,
                       std::string_view listener, const std::string& topic, int32_t partition) {
  LeaderHint hint;
  if (image == nullptr) return hint;  // a single node leads all it has: no other leader to name
  const cluster::PartitionState* state = image->partition(topic, partition);
  if (state == nullptr || state->leader < 0) return hint;
  hint.leader_id = state->leader;
  hint.leader_epoch = state->leader_epoch;
  hint.node = broker.node(*image, state->leader, listener);
  return hint;
}

}  // namespace kaffa::broker
