// Topic-level configuration names that Kafka defines, and validation of their values. The
// storage and retention milestones give them effect; until then they are stored as given.
#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace kaffa::cluster {

// Returns an explanation when `name=value` is not a valid topic config (unknown name or a value
// of the wrong kind), nullopt when valid. `value` null means "reset to default".
std::optional<std::string> invalid_topic_config(std::string_view name,
                                                const std::optional<std::string>& value);

}  // namespace kaffa::cluster
