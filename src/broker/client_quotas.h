// Client quotas (KIP-13, KIP-55, KIP-546): byte-rate limits per user principal and/or client id,
// kept as one set for the whole cluster (a single node: a file; a cluster: a metadata record) and
// enforced by every broker on its own traffic, as in Kafka.
//
// An entity names a user, a client id, or both; each part is a name or `<default>` (null in the
// protocol). Keys: producer_byte_rate and consumer_byte_rate (bytes per second, integral, > 0).
// Kafka's request_percentage and controller_mutation_rate, and ip entities, are refused with
// INVALID_REQUEST (not enforced here, so not accepted either).
//
// Which quota applies to a request of user U with client id C (Kafka's order, first match):
//   U + C, U + <default>, U, <default> + C, <default> + <default>, <default>, C, <default> client
//
// Stored text: "kaffa client quotas v1\n<count>\n" then one line per entity:
//   <user>\t<client-id>\t<key>=<value>[,<key>=<value>...]
// where each part is "-" (absent), "*" (<default>) or "=" and the name in base64.
//
// Threading: pure values and functions; the broker swaps whole sets (broker_quotas.cc).
#pragma once

#include <compare>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "protocol/error_codes.h"

namespace kaffa::broker::quotas {

inline constexpr std::string_view kUser = "user";
inline constexpr std::string_view kClientId = "client-id";
inline constexpr std::string_view kProducerByteRate = "producer_byte_rate";
inline constexpr std::string_view kConsumerByteRate = "consumer_byte_rate";

struct Part {
  bool present = false;
  std::optional<std::string> name;  // nullopt: <default>
  auto operator<=>(const Part&) const = default;
};

struct Entity {
  Part user;
  Part client_id;
  auto operator<=>(const Entity&) const = default;
};

using Values = std::map<std::string, double>;
using QuotaSet = std::map<Entity, Values>;

std::string encode(const QuotaSet& set);
std::optional<QuotaSet> decode(std::string_view text, std::string* why);

// The protocol's entity: (type, name or null for <default>) pairs.
using EntityData = std::vector<std::pair<std::string, std::optional<std::string>>>;

struct Op {
  std::string key;
  double value = 0;
  bool remove = false;
};

// One AlterClientQuotas entry applied to `set` (KRaft's checks: a non-empty entity of user
// and/or client-id without duplicates or empty names; known keys, each once; values > 0 and
// integral). NONE, or INVALID_REQUEST with *message and `set` unchanged.
protocol::ErrorCode alter(QuotaSet& set, const EntityData& entity, const std::vector<Op>& ops,
                          std::string* message);

// DescribeClientQuotas' filter. match_type 0: the name `match`; 1: <default>; 2: any name.
struct Component {
  std::string entity_type;
  int8_t match_type = 0;
  std::optional<std::string> match;
};
// The entities matching every component (strict: and no other part). INVALID_REQUEST (bad
// filter) or UNSUPPORTED_VERSION (unknown entity type), with *message.
protocol::ErrorCode describe(const QuotaSet& set, const std::vector<Component>& filter, bool strict,
                             std::vector<QuotaSet::const_iterator>& out, std::string* message);

EntityData entity_data(const Entity& e);

// The quota `key` that applies to user `user` and client `client_id`, and the key of the rate it
// is measured on: the parts of the matching entity (a default part stands for the request's own
// user or client, which each get their own rate), "" for the others.
struct Bound {
  double bytes_per_second = 0;
  std::string user;
  std::string client_id;
};
std::optional<Bound> resolve(const QuotaSet& set, std::string_view key, std::string_view user,
                             std::string_view client_id);

}  // namespace kaffa::broker::quotas
