// Kafka's ACL model and the ACL authorizer (Kafka's AclAuthorizer / StandardAuthorizer rules),
// with no knowledge of the protocol or of connections: the broker asks "may principal P from host H
// do operation O on resource R?".
//
// An ACL binding is (resource pattern, principal, host, operation, permission). The numeric codes
// of every enum are Kafka's (they travel on the wire in CreateAcls/DescribeAcls/DeleteAcls).
//
// Rules (Kafka's):
//   - a super user (super.users) is allowed everything;
//   - the ACLs that apply to a resource are those of its type whose pattern is LITERAL with the
//   same
//     name, LITERAL with the wildcard name "*", or PREFIXED with a prefix of the name;
//   - when none applies (to any principal), the answer is allow.everyone.if.no.acl.found;
//   - among those whose principal (or "User:*") and host (or "*") match the request: a DENY for the
//     operation (or ALL) refuses; else an ALLOW for it (or ALL) grants, where an ALLOW of READ,
//     WRITE, DELETE or ALTER also grants DESCRIBE and an ALLOW of ALTER_CONFIGS grants
//     DESCRIBE_CONFIGS; else refused.
//
// Store: on a single node the file `<log.dirs>/__kaffa_metadata/acls` (text, replaced atomically
// on every change, loaded at start-up; a damaged file is an error at start-up); in a cluster the
// same text is one record of the metadata store (cluster/metadata_records.h), and every broker's
// Authorizer is given each new set with replace():
//   kaffa-acls 1
//   <count>
//   <resource type> <pattern type> <base64 resource name> <base64 principal> <base64 host>
//     <operation> <permission>                       (one binding per line, numeric Kafka codes)
// Base64 keeps names with spaces or newlines on one line.
//
// Threading: authorize()/describe() may run on every event loop at once: they read an immutable
// snapshot (std::atomic<std::shared_ptr<const AclSnapshot>>) and take no mutex. create()/remove()
// serialise on a mutex, persist the new set, then publish a new snapshot (a reader sees the old
// set or the new one, never a mix); replace() publishes a set stored elsewhere. Writes are rare
// (admin requests).
#pragma once

#include <atomic>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <vector>

namespace kaffa::security {

enum class ResourceType : int8_t {
  unknown = 0,
  any = 1,
  topic = 2,
  group = 3,
  cluster = 4,
  transactional_id = 5,
  delegation_token = 6,
  user = 7,
};

enum class PatternType : int8_t { unknown = 0, any = 1, match = 2, literal = 3, prefixed = 4 };

enum class AclOperation : int8_t {
  unknown = 0,
  any = 1,
  all = 2,
  read = 3,
  write = 4,
  create = 5,
  remove = 6,  // Kafka's DELETE
  alter = 7,
  describe = 8,
  cluster_action = 9,
  describe_configs = 10,
  alter_configs = 11,
  idempotent_write = 12,
  create_tokens = 13,
  describe_tokens = 14,
};

enum class AclPermission : int8_t { unknown = 0, any = 1, deny = 2, allow = 3 };

inline constexpr std::string_view kClusterResourceName = "kafka-cluster";
inline constexpr std::string_view kWildcardResource = "*";
inline constexpr std::string_view kWildcardPrincipal = "User:*";
inline constexpr std::string_view kWildcardHost = "*";

// Kafka's names (TOPIC, PREFIXED, DESCRIBE_CONFIGS, ALLOW ...); parse_* accept any case and
// return unknown for a name they do not know.
std::string_view to_string(ResourceType t);
std::string_view to_string(PatternType t);
std::string_view to_string(AclOperation o);
std::string_view to_string(AclPermission p);
ResourceType parse_resource_type(std::string_view s);
PatternType parse_pattern_type(std::string_view s);
AclOperation parse_operation(std::string_view s);
AclPermission parse_permission(std::string_view s);

// Kafka's numeric codes off the wire; out-of-range values become unknown.
ResourceType resource_type_of(int8_t code);
PatternType pattern_type_of(int8_t code);
AclOperation operation_of(int8_t code);
AclPermission permission_of(int8_t code);

// The operations a resource type supports (Kafka's AclEntry.supportedOperations), for the
// authorized-operations bit fields of Metadata, DescribeCluster and DescribeGroups.
std::vector<AclOperation> supported_operations(ResourceType t);

struct ResourcePattern {
  ResourceType type = ResourceType::unknown;
  std::string name;
  PatternType pattern = PatternType::literal;
  auto operator<=>(const ResourcePattern&) const = default;
};

struct AclBinding {
  ResourcePattern resource;
  std::string principal;  // "User:alice", "User:*"
  std::string host;       // an address, or "*"
  AclOperation operation = AclOperation::unknown;
  AclPermission permission = AclPermission::unknown;
  auto operator<=>(const AclBinding&) const = default;
};

// A filter of DescribeAcls/DeleteAcls: nullopt names match anything; type ANY, pattern ANY,
// operation ANY, permission ANY match anything; pattern MATCH matches every pattern that applies
// to the resource named (literal equal, literal "*", prefixed prefix of it).
struct AclBindingFilter {
  ResourceType type = ResourceType::any;
  std::optional<std::string> name;
  PatternType pattern = PatternType::any;
  std::optional<std::string> principal;
  std::optional<std::string> host;
  AclOperation operation = AclOperation::any;
  AclPermission permission = AclPermission::any;

  bool matches(const AclBinding& b) const;
};

// Why a binding may not be created, or a filter not used ("" = valid). Kafka answers
// INVALID_REQUEST with such a message.
std::string validate_binding(const AclBinding& b);
std::string validate_filter(const AclBindingFilter& f);

// Whether `pattern` applies to the resource (type, name) (LITERAL equal or "*", PREFIXED prefix).
bool pattern_applies(const ResourcePattern& pattern, ResourceType type, std::string_view name);

// An immutable set of bindings, indexed by resource type.
class AclSnapshot {
 public:
  explicit AclSnapshot(std::set<AclBinding> bindings);
  const std::set<AclBinding>& bindings() const { return all_; }
  // The bindings whose pattern applies to (type, name).
  std::vector<const AclBinding*> applying(ResourceType type, std::string_view name) const;

 private:
  std::set<AclBinding> all_;
  // Per resource type: literal name -> bindings, and the prefixed bindings.
  std::map<ResourceType, std::map<std::string, std::vector<const AclBinding*>, std::less<>>>
      literal_;
  std::map<ResourceType, std::vector<const AclBinding*>> prefixed_;
};

struct AuthorizerOptions {
  std::set<std::string, std::less<>> super_users;  // "User:admin"
  bool allow_everyone_if_no_acl_found = false;
  // In a cluster, where the set comes from the metadata store: until replace() (or load()) has
  // run, only super users are allowed anything. Otherwise a new authorizer has no ACLs.
  bool wait_for_first_set = false;
};

class Authorizer {
 public:
  Authorizer(std::filesystem::path file, AuthorizerOptions options);
  static std::filesystem::path default_path(const std::filesystem::path& log_dir);

  bool load(std::string* error);  // missing file: no ACLs
  // The whole set, as the cluster's metadata store holds it (no file is written).
  void replace(std::set<AclBinding> bindings);
  // Runs `change` on the current set; a set it returns is persisted and published (nullopt: no
  // change). False with *error on a disk error.
  using Change =
      std::function<std::optional<std::set<AclBinding>>(const std::set<AclBinding>& current)>;
  bool update(const Change& change, std::string* error);

  bool authorize(std::string_view principal, std::string_view host, AclOperation op,
                 ResourceType type, std::string_view name) const;
  // Kafka's bit field of the supported operations of `type` that `principal` may do on `name`.
  int32_t authorized_operations(std::string_view principal, std::string_view host,
                                ResourceType type, std::string_view name) const;
  // Whether any binding of `type` could allow `op` to the principal (some name, any pattern):
  // Kafka's authorizeByResourceType, used by InitProducerId (WRITE on any topic).
  bool authorize_any(std::string_view principal, std::string_view host, AclOperation op,
                     ResourceType type) const;

  std::vector<AclBinding> describe(const AclBindingFilter& filter) const;
  // Adds the bindings (already validated; duplicates are no-ops) and persists them, all or
  // nothing. False with *error on a disk error.
  bool create(const std::vector<AclBinding>& bindings, std::string* error);
  // Removes every binding matched by each filter; (*matched)[i] lists those of filters[i] (a
  // binding matched by two filters is listed under both, as Kafka does). All or nothing.
  bool remove(const std::vector<AclBindingFilter>& filters,
              std::vector<std::vector<AclBinding>>* matched, std::string* error);

  std::shared_ptr<const AclSnapshot> snapshot() const { return snapshot_.load(); }
  // Moves on (from 1) each time a set is loaded, given or changed: what was derived from the
  // decisions of one generation (topic regex matches) holds until the next.
  uint64_t generation() const { return generation_.load(std::memory_order_acquire); }

 private:
  bool publish_locked(std::set<AclBinding> next, std::string* error);
  // Makes `bindings` the set checks read (`loaded`: and ends wait_for_first_set), then moves the
  // generation on (write_mu_ held).
  void store_locked(std::set<AclBinding> bindings, bool loaded);

  const std::filesystem::path file_;
  const AuthorizerOptions options_;
  std::mutex write_mu_;  // serialises create/remove (and the file they write)
  std::atomic<std::shared_ptr<const AclSnapshot>> snapshot_;
  std::atomic<bool> loaded_;  // a set was loaded or given (see wait_for_first_set)
  std::atomic<uint64_t> generation_{1};
};

// The set with `bindings` added; nullopt when all of them are there already.
std::optional<std::set<AclBinding>> with_added(const std::set<AclBinding>& current,
                                               const std::vector<AclBinding>& bindings);
// The set without every binding a filter matches; (*matched)[i] lists those of filters[i] (a
// binding matched by two filters is listed under both, as Kafka does). nullopt when none matched.
std::optional<std::set<AclBinding>> without_matching(const std::set<AclBinding>& current,
                                                     const std::vector<AclBindingFilter>& filters,
                                                     std::vector<std::vector<AclBinding>>* matched);

// The store's text (format above) and its parser (nullopt with *error when damaged).
std::string encode_acls(const std::set<AclBinding>& bindings);
std::optional<std::set<AclBinding>> decode_acls(std::string_view text, std::string* error);

}  // namespace kaffa::security
