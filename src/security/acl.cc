// The ACL model: names and codes, validation, filter and pattern matching, the indexed snapshot.
#include "security/acl.h"

#include <algorithm>
#include <array>
#include <cctype>
#include <utility>

namespace kaffa::security {
namespace {

template <class E, size_t N>
std::string_view name_of(const std::array<std::pair<E, std::string_view>, N>& names, E e) {
  for (const auto& [v, n] : names) {
    if (v == e) return n;
  }
  return "UNKNOWN";
}

bool iequals(std::string_view a, std::string_view b) {
  return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
           return std::toupper(static_cast<unsigned char>(x)) ==
                  std::toupper(static_cast<unsigned char>(y));
         });
}

template <class E, size_t N>
E parse_name(const std::array<std::pair<E, std::string_view>, N>& names, std::string_view s) {
  for (const auto& [v, n] : names) {
    if (iequals(n, s)) return v;
  }
  return E::unknown;
}

constexpr std::array<std::pair<ResourceType, std::string_view>, 8> kResourceTypes{{
    {ResourceType::unknown, "UNKNOWN"},
    {ResourceType::any, "ANY"},
    {ResourceType::topic, "TOPIC"},
    {ResourceType::group, "GROUP"},
    {ResourceType::cluster, "CLUSTER"},
    {ResourceType::transactional_id, "TRANSACTIONAL_ID"},
    {ResourceType::delegation_token, "DELEGATION_TOKEN"},
    {ResourceType::user, "USER"},
}};
constexpr std::array<std::pair<PatternType, std::string_view>, 5> kPatternTypes{{
    {PatternType::unknown, "UNKNOWN"},
    {PatternType::any, "ANY"},
    {PatternType::match, "MATCH"},
    {PatternType::literal, "LITERAL"},
    {PatternType::prefixed, "PREFIXED"},
}};
constexpr std::array<std::pair<AclOperation, std::string_view>, 15> kOperations{{
    {AclOperation::unknown, "UNKNOWN"},
    {AclOperation::any, "ANY"},
    {AclOperation::all, "ALL"},
    {AclOperation::read, "READ"},
    {AclOperation::write, "WRITE"},
    {AclOperation::create, "CREATE"},
    {AclOperation::remove, "DELETE"},
    {AclOperation::alter, "ALTER"},
    {AclOperation::describe, "DESCRIBE"},
    {AclOperation::cluster_action, "CLUSTER_ACTION"},
    {AclOperation::describe_configs, "DESCRIBE_CONFIGS"},
    {AclOperation::alter_configs, "ALTER_CONFIGS"},
    {AclOperation::idempotent_write, "IDEMPOTENT_WRITE"},
    {AclOperation::create_tokens, "CREATE_TOKENS"},
    {AclOperation::describe_tokens, "DESCRIBE_TOKENS"},
}};
constexpr std::array<std::pair<AclPermission, std::string_view>, 4> kPermissions{{
    {AclPermission::unknown, "UNKNOWN"},
    {AclPermission::any, "ANY"},
    {AclPermission::deny, "DENY"},
    {AclPermission::allow, "ALLOW"},
}};

template <class E>
E in_range(int8_t code, int8_t max) {
  return code >= 0 && code <= max ? static_cast<E>(code) : E::unknown;
}

}  // namespace

std::string_view to_string(ResourceType t) {
  return name_of(kResourceTypes, t);
}
std::string_view to_string(PatternType t) {
  return name_of(kPatternTypes, t);
}
std::string_view to_string(AclOperation o) {
  return name_of(kOperations, o);
}
std::string_view to_string(AclPermission p) {
  return name_of(kPermissions, p);
}
ResourceType parse_resource_type(std::string_view s) {
  return parse_name(kResourceTypes, s);
}
PatternType parse_pattern_type(std::string_view s) {
  return parse_name(kPatternTypes, s);
}
AclOperation parse_operation(std::string_view s) {
  return parse_name(kOperations, s);
}
AclPermission parse_permission(std::string_view s) {
  return parse_name(kPermissions, s);
}

ResourceType resource_type_of(int8_t code) {
  return in_range<ResourceType>(code, 7);
}
PatternType pattern_type_of(int8_t code) {
  return in_range<PatternType>(code, 4);
}
AclOperation operation_of(int8_t code) {
  return in_range<AclOperation>(code, 14);
}
AclPermission permission_of(int8_t code) {
  return in_range<AclPermission>(code, 3);
}

std::vector<AclOperation> supported_operations(ResourceType t) {
  using O = AclOperation;
  switch (t) {
    case ResourceType::topic:
      return {O::read,   O::write, O::create,           O::describe,
              O::remove, O::alter, O::describe_configs, O::alter_configs};
    case ResourceType::group:
      return {O::read, O::describe, O::remove};
    case ResourceType::cluster:
      return {O::create,           O::cluster_action, O::describe_configs, O::alter_configs,
              O::idempotent_write, O::alter,          O::describe};
    case ResourceType::transactional_id:
      return {O::describe, O::write};
    case ResourceType::delegation_token:
      return {O::describe};
    case ResourceType::user:
      return {O::create_tokens, O::describe_tokens};
    default:
      return {};
  }
}

bool pattern_applies(const ResourcePattern& p, ResourceType type, std::string_view name) {
  if (p.type != type) return false;
  switch (p.pattern) {
    case PatternType::literal:
      return p.name == name || p.name == kWildcardResource;
    case PatternType::prefixed:
      return name.starts_with(p.name);
    default:
      return false;
  }
}

bool AclBindingFilter::matches(const AclBinding& b) const {
  if (type != ResourceType::any && type != b.resource.type) return false;
  switch (pattern) {
    case PatternType::any:
      if (name && *name != b.resource.name) return false;
      break;
    case PatternType::match:
      if (name && !pattern_applies(b.resource, b.resource.type, *name)) return false;
      break;
    default:
      if (pattern != b.resource.pattern || (name && *name != b.resource.name)) return false;
  }
  if (principal && *principal != b.principal) return false;
  if (host && *host != b.host) return false;
  if (operation != AclOperation::any && operation != b.operation) return false;
  return permission == AclPermission::any || permission == b.permission;
}

std::string validate_binding(const AclBinding& b) {
  if (b.resource.type == ResourceType::unknown || b.resource.type == ResourceType::any) {
    return "Invalid resourceType " + std::string(to_string(b.resource.type));
  }
  if (b.resource.pattern != PatternType::literal && b.resource.pattern != PatternType::prefixed) {
    return "Invalid patternType " + std::string(to_string(b.resource.pattern));
  }
  if (b.operation == AclOperation::unknown || b.operation == AclOperation::any) {
    return "Invalid operation " + std::string(to_string(b.operation));
  }
  if (b.permission != AclPermission::allow && b.permission != AclPermission::deny) {
    return "Invalid permissionType " + std::string(to_string(b.permission));
  }
  if (b.resource.name.empty()) return "Resource name should not be empty";
  if (b.resource.type == ResourceType::cluster && b.resource.name != kClusterResourceName) {
    return "The only valid name for the CLUSTER resource is kafka-cluster";
  }
  const auto colon = b.principal.find(':');
  if (colon == std::string::npos || colon == 0 || colon + 1 == b.principal.size()) {
    return "Could not parse principal from `" + b.principal + "` (no colon is present separating " +
           "the principal type from the principal name)";
  }
  if (b.host.empty()) return "Host should not be empty";
  return {};
}

std::string validate_filter(const AclBindingFilter& f) {
  if (f.type == ResourceType::unknown || f.pattern == PatternType::unknown ||
      f.operation == AclOperation::unknown || f.permission == AclPermission::unknown) {
    return "The request contained an invalid filter";
  }
  return {};
}

AclSnapshot::AclSnapshot(std::set<AclBinding> bindings) : all_(std::move(bindings)) {
  for (const auto& b : all_) {
    if (b.resource.pattern == PatternType::prefixed) {
      prefixed_[b.resource.type].push_back(&b);
    } else {
      literal_[b.resource.type][b.resource.name].push_back(&b);
    }
  }
}

std::vector<const AclBinding*> AclSnapshot::applying(ResourceType type,
                                                     std::string_view name) const {
  std::vector<const AclBinding*> out;
  if (auto t = literal_.find(type); t != literal_.end()) {
    if (auto it = t->second.find(name); it != t->second.end()) {
      out.insert(out.end(), it->second.begin(), it->second.end());
    }
    if (name != kWildcardResource) {
      if (auto it = t->second.find(kWildcardResource); it != t->second.end()) {
        out.insert(out.end(), it->second.begin(), it->second.end());
      }
    }
  }
  if (auto t = prefixed_.find(type); t != prefixed_.end()) {
    for (const auto* b : t->second) {
      if (name.starts_with(b->resource.name)) out.push_back(b);
    }
  }
  return out;
}

}  // namespace kaffa::security
