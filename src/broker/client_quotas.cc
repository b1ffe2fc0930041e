#include "broker/client_quotas.h"

#include <fmt/format.h>

#include <cmath>
#include <cstdlib>
#include <set>

#include "base/base64.h"
#include "security/text_lines.h"

namespace kaffa::broker::quotas {
namespace {

using protocol::ErrorCode;
using security::split;

constexpr std::string_view kHeader = "kaffa client quotas v1";

std::string encode_part(const Part& p) {
  if (!p.present) return "-";
  if (!p.name) return "*";
  return "=" + base64::encode(*p.name);
}

std::optional<Part> decode_part(std::string_view s) {
  if (s == "-") return Part{};
  if (s == "*") return Part{true, std::nullopt};
  if (s.empty() || s[0] != '=') return std::nullopt;
  auto name = base64::decode(s.substr(1));
  if (!name || name->empty()) return std::nullopt;
  return Part{true, std::move(*name)};
}

bool known_key(std::string_view key) {
  return key == kProducerByteRate || key == kConsumerByteRate;
}

ErrorCode invalid(std::string* message, std::string text) {
  *message = std::move(text);
  return ErrorCode::invalid_request;
}

std::string describe_entity(const Entity& e) {
  std::string out;
  auto part = [&out](std::string_view type, const Part& p) {
    if (!p.present) return;
    out += (out.empty() ? "" : ", ") + std::string(type) + "=" + p.name.value_or("<default>");
  };
  part(kUser, e.user);
  part(kClientId, e.client_id);
  return "{" + out + "}";
}

}  // namespace

std::string encode(const QuotaSet& set) {
  std::string records;
  for (const auto& [entity, values] : set) {
    records += encode_part(entity.user) + "\t" + encode_part(entity.client_id) + "\t";
    bool first = true;
    for (const auto& [key, value] : values) {
      records += (first ? "" : ",") + key + "=" + fmt::format("{}", value);
      first = false;
    }
    records += "\n";
  }
  return security::counted_text(kHeader, set.size(), records);
}

std::optional<QuotaSet> decode(std::string_view text, std::string* why) {
  auto lines = security::counted_lines(text, kHeader, why);
  if (!lines) return std::nullopt;
  QuotaSet set;
  for (size_t i = 2; i < lines->size(); ++i) {
    auto fail = [&]() -> std::optional<QuotaSet> {
      *why = "bad record " + std::to_string(i - 1);
      return std::nullopt;
    };
    const auto fields = split((*lines)[i], '\t');
    if (fields.size() != 3) return fail();
    auto user = decode_part(fields[0]);
    auto client = decode_part(fields[1]);
    if (!user || !client || (!user->present && !client->present)) return fail();
    Values values;
    for (auto kv : split(fields[2], ',')) {
      const auto eq = kv.find('=');
      if (eq == kv.npos || !known_key(kv.substr(0, eq))) return fail();
      const std::string number(kv.substr(eq + 1));
      char* end = nullptr;
      const double v = std::strtod(number.c_str(), &end);
      if (number.empty() || *end != '\0' || !(v > 0)) return fail();
      values[std::string(kv.substr(0, eq))] = v;
    }
    if (!set.emplace(Entity{*user, *client}, std::move(values)).second) return fail();
  }
  return set;
}

ErrorCode alter(QuotaSet& set, const EntityData& data, const std::vector<Op>& ops,
                std::string* message) {
  if (data.empty()) return invalid(message, "Invalid empty client quota entity");
  Entity entity;
  for (const auto& [type, name] : data) {
    Part* part = type == kUser ? &entity.user : type == kClientId ? &entity.client_id : nullptr;
    if (type == "ip") {
      return invalid(message, "IP quotas (connection_creation_rate) are not supported by Kaffa");
    }
    if (part == nullptr) return invalid(message, "Unhandled client quota entity type: " + type);
    if (part->present) {
      return invalid(message, "Invalid client quota entity, duplicate entity entry " + type);
    }
    if (name && name->empty()) return invalid(message, "Empty " + type + " not supported");
    *part = Part{true, name};
  }
  std::set<std::string> seen;
  Values values;
  if (auto it = set.find(entity); it != set.end()) values = it->second;
  for (const auto& op : ops) {
    if (!seen.insert(op.key).second) {
      return invalid(message, "Duplicate quota key " + op.key +
                                  " not updating quota for this "
                                  "entity " +
                                  describe_entity(entity));
    }
    if (op.remove) {
      values.erase(op.key);
      continue;
    }
    if (op.key == "request_percentage" || op.key == "controller_mutation_rate") {
      return invalid(message, "Quota " + op.key + " is not supported by Kaffa");
    }
    if (!known_key(op.key)) return invalid(message, "Invalid configuration key " + op.key);
    if (!(op.value > 0)) return invalid(message, "Quota " + op.key + " must be greater than 0");
    if (op.value > 9.2e18) {
      return invalid(message, "Proposed value for " + op.key + " is too large for a LONG.");
    }
    if (std::abs(std::fmod(op.value, 1.0)) > 1e-6) {
      return invalid(message, op.key + " cannot be a fractional value.");
    }
    values[op.key] = op.value;
  }
  if (values.empty()) {
    set.erase(entity);
  } else {
    set[entity] = std::move(values);
  }
  return ErrorCode::none;
}

ErrorCode describe(const QuotaSet& set, const std::vector<Component>& filter, bool strict,
                   std::vector<QuotaSet::const_iterator>& out, std::string* message) {
  struct Want {
    bool exact = false;  // else any name
    std::optional<std::string> name;
  };
  std::map<std::string, Want> wants;
  for (const auto& c : filter) {
    if (c.entity_type.empty()) return invalid(message, "Invalid empty entity type.");
    if (wants.count(c.entity_type)) {
      return invalid(
          message, "Entity type " + c.entity_type + " cannot appear more than once in the filter.");
    }
    if (c.entity_type != kUser && c.entity_type != kClientId && c.entity_type != "ip") {
      *message = "Unsupported entity type " + c.entity_type;
      return ErrorCode::unsupported_version;
    }
    switch (c.match_type) {
      case 0:
        if (!c.match)
          return invalid(message,
                         "Request specified MATCH_TYPE_EXACT, but set match string to null.");
        wants[c.entity_type] = {true, c.match};
        break;
      case 1:
      case 2:
        if (c.match) {
          return invalid(message,
                         std::string("Request specified ") +
                             (c.match_type == 1 ? "MATCH_TYPE_DEFAULT" : "MATCH_TYPE_SPECIFIED") +
                             ", but also specified a match string.");
        }
        wants[c.entity_type] = {c.match_type == 1, std::nullopt};
        break;
      default:
        return invalid(message, "Unknown match type " + std::to_string(c.match_type));
    }
  }
  if (wants.count("ip") &&
      (wants.count(std::string(kUser)) || wants.count(std::string(kClientId)))) {
    return invalid(message,
                   "Invalid entity filter component combination. IP filter component should not "
                   "be used with user or clientId filter component.");
  }
  for (auto it = set.begin(); it != set.end(); ++it) {
    const Entity& e = it->first;
    const size_t parts = (e.user.present ? 1 : 0) + (e.client_id.present ? 1 : 0);
    if (strict && parts != wants.size()) continue;
    bool ok = true;
    for (const auto& [type, want] : wants) {
      const Part* p = type == kUser ? &e.user : type == kClientId ? &e.client_id : nullptr;
      if (p == nullptr || !p->present || (want.exact && p->name != want.name)) ok = false;
    }
    if (ok) out.push_back(it);
  }
  return ErrorCode::none;
}

EntityData entity_data(const Entity& e) {
  EntityData out;
  if (e.user.present) out.emplace_back(kUser, e.user.name);
  if (e.client_id.present) out.emplace_back(kClientId, e.client_id.name);
  return out;
}

std::optional<Bound> resolve(const QuotaSet& set, std::string_view key, std::string_view user,
                             std::string_view client_id) {
  if (set.empty()) return std::nullopt;
  const Part none{};
  const Part any{true, std::nullopt};
  const Part u{true, std::string(user)};
  const Part c{true, std::string(client_id)};
  // Kafka's precedence, most specific first.
  const Entity order[] = {{u, c},     {u, any},    {u, none}, {any, c},
                          {any, any}, {any, none}, {none, c}, {none, any}};
  for (const Entity& e : order) {
    auto it = set.find(e);
    if (it == set.end()) continue;
    auto v = it->second.find(std::string(key));
    if (v == it->second.end()) continue;
    return Bound{v->second, e.user.present ? std::string(user) : "",
                 e.client_id.present ? std::string(client_id) : ""};
  }
  return std::nullopt;
}

}  // namespace kaffa::broker::quotas
