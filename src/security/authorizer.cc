// Authorizer: Kafka's authorization rules over an immutable ACL snapshot, and the durable store
// (format and threading in acl.h).
#include <charconv>

#include "base/base64.h"
#include "base/file.h"
#include "security/acl.h"
#include "security/text_lines.h"
#include "storage/checkpoint_file.h"

namespace kaffa::security {
namespace {

constexpr std::string_view kHeader = "kaffa-acls 1";

bool principal_matches(const AclBinding& b, std::string_view principal) {
  return b.principal == principal || b.principal == kWildcardPrincipal;
}

bool host_matches(const AclBinding& b, std::string_view host) {
  return b.host == host || b.host == kWildcardHost;
}

// Whether an ALLOW of `granted` grants `op` (ALL grants everything; Kafka's implied DESCRIBE and
// DESCRIBE_CONFIGS).
bool allow_grants(AclOperation granted, AclOperation op) {
  if (granted == op || granted == AclOperation::all) return true;
  if (op == AclOperation::describe) {
    return granted == AclOperation::read || granted == AclOperation::write ||
           granted == AclOperation::remove || granted == AclOperation::alter;
  }
  return op == AclOperation::describe_configs && granted == AclOperation::alter_configs;
}

bool small_number(std::string_view s, int8_t& out) {
  int v = 0;
  const auto r = std::from_chars(s.data(), s.data() + s.size(), v);
  if (r.ec != std::errc() || r.ptr != s.data() + s.size() || v < 0 || v > 127) return false;
  out = static_cast<int8_t>(v);
  return true;
}

}  // namespace

std::string encode_acls(const std::set<AclBinding>& bindings) {
  std::string records;
  for (const auto& b : bindings) {
    records += std::to_string(static_cast<int>(b.resource.type)) + " " +
               std::to_string(static_cast<int>(b.resource.pattern)) + " " +
               base64::encode(b.resource.name) + " " + base64::encode(b.principal) + " " +
               base64::encode(b.host) + " " + std::to_string(static_cast<int>(b.operation)) + " " +
               std::to_string(static_cast<int>(b.permission)) + "\n";
  }
  return counted_text(kHeader, bindings.size(), records);
}

std::optional<std::set<AclBinding>> decode_acls(std::string_view text, std::string* error) {
  auto damaged = [&](const std::string& why) -> std::optional<std::set<AclBinding>> {
    if (error) *error = why;
    return std::nullopt;
  };
  std::string framing;
  const auto lines = counted_lines(text, kHeader, &framing);
  if (!lines) return damaged(framing);
  std::set<AclBinding> out;
  for (size_t i = 2; i < lines->size(); ++i) {
    const auto f = split((*lines)[i], ' ');
    int8_t type = 0, pattern = 0, op = 0, perm = 0;
    std::optional<std::string> name, principal, host;
    if (f.size() != 7 || !small_number(f[0], type) || !small_number(f[1], pattern) ||
        !(name = base64::decode(f[2])) || !(principal = base64::decode(f[3])) ||
        !(host = base64::decode(f[4])) || !small_number(f[5], op) || !small_number(f[6], perm)) {
      return damaged("line " + std::to_string(i + 1));
    }
    AclBinding b{{resource_type_of(type), std::move(*name), pattern_type_of(pattern)},
                 std::move(*principal),
                 std::move(*host),
                 operation_of(op),
                 permission_of(perm)};
    if (const auto why = validate_binding(b); !why.empty()) {
      return damaged("line " + std::to_string(i + 1) + ": " + why);
    }
    out.insert(std::move(b));
  }
  return out;
}

Authorizer::Authorizer(std::filesystem::path file, AuthorizerOptions options)
    : file_(std::move(file)),
      options_(std::move(options)),
      snapshot_(std::make_shared<const AclSnapshot>(std::set<AclBinding>{})),
      loaded_(!options_.wait_for_first_set) {}

std::filesystem::path Authorizer::default_path(const std::filesystem::path& log_dir) {
  return log_dir / "__kaffa_metadata" / "acls";
}

bool Authorizer::load(std::string* error) {
  std::lock_guard lock(write_mu_);
  std::error_code ec;
  if (!std::filesystem::exists(file_, ec)) {
    store_locked({}, true);
    return true;
  }
  const auto text = file::read_all(file_);
  std::string why;
  auto bindings = text ? decode_acls(*text, &why) : std::nullopt;
  if (!bindings) {
    if (error) *error = file_.string() + " is damaged: " + (why.empty() ? "unreadable" : why);
    return false;
  }
  store_locked(std::move(*bindings), true);
  return true;
}

void Authorizer::replace(std::set<AclBinding> bindings) {
  std::lock_guard lock(write_mu_);
  store_locked(std::move(bindings), true);
}

void Authorizer::store_locked(std::set<AclBinding> bindings, bool loaded) {
  snapshot_.store(std::make_shared<const AclSnapshot>(std::move(bindings)));
  if (loaded) loaded_.store(true, std::memory_order_release);
  generation_.fetch_add(1, std::memory_order_release);
}

bool Authorizer::authorize(std::string_view principal, std::string_view host, AclOperation op,
                           ResourceType type, std::string_view name) const {
  if (options_.super_users.contains(principal)) return true;
  if (!loaded_.load(std::memory_order_acquire)) return false;
  const auto snap = snapshot_.load();
  const auto acls = snap->applying(type, name);
  if (acls.empty()) return options_.allow_everyone_if_no_acl_found;
  bool allowed = false;
  for (const auto* b : acls) {
    if (!principal_matches(*b, principal) || !host_matches(*b, host)) continue;
    if (b->permission == AclPermission::deny &&
        (b->operation == op || b->operation == AclOperation::all)) {
      return false;
    }
    if (b->permission == AclPermission::allow && allow_grants(b->operation, op)) allowed = true;
  }
  return allowed;
}

int32_t Authorizer::authorized_operations(std::string_view principal, std::string_view host,
                                          ResourceType type, std::string_view name) const {
  int32_t bits = 0;
  for (const auto op : supported_operations(type)) {
    if (authorize(principal, host, op, type, name)) bits |= int32_t{1} << static_cast<int>(op);
  }
  return bits;
}

bool Authorizer::authorize_any(std::string_view principal, std::string_view host, AclOperation op,
                               ResourceType type) const {
  // A name no ACL can name literally: allowed here means a super user, a wildcard ALLOW, or no
  // ACL applying with allow.everyone.if.no.acl.found (Kafka checks a hard-coded name first too).
  if (authorize(principal, host, op, type, std::string_view("\x01kaffa-any", 11))) return true;
  const auto snap = snapshot_.load();
  std::vector<const AclBinding*> allows, denies;
  for (const auto& b : snap->bindings()) {
    if (b.resource.type != type || !principal_matches(b, principal) || !host_matches(b, host)) {
      continue;
    }
    if (b.operation != op && b.operation != AclOperation::all) continue;
    (b.permission == AclPermission::deny ? denies : allows).push_back(&b);
  }
  for (const auto* d : denies) {
    if (d->resource.pattern == PatternType::literal && d->resource.name == kWildcardResource) {
      return false;
    }
  }
  for (const auto* a : allows) {
    bool denied = false;
    for (const auto* d : denies) {
      if (d->resource.pattern == PatternType::prefixed) {
        denied = a->resource.name.starts_with(d->resource.name);
      } else {
        denied =
            a->resource.pattern == PatternType::literal && a->resource.name == d->resource.name;
      }
      if (denied) break;
    }
    if (!denied) return true;
  }
  return false;
}

std::vector<AclBinding> Authorizer::describe(const AclBindingFilter& filter) const {
  const auto snap = snapshot_.load();
  std::vector<AclBinding> out;
  for (const auto& b : snap->bindings()) {
    if (filter.matches(b)) out.push_back(b);
  }
  return out;
}

bool Authorizer::publish_locked(std::set<AclBinding> next, std::string* error) {
  std::error_code ec;
  std::filesystem::create_directories(file_.parent_path(), ec);
  if (!storage::write_file_atomically(file_, encode_acls(next), error)) return false;
  store_locked(std::move(next), false);
  return true;
}

std::optional<std::set<AclBinding>> with_added(const std::set<AclBinding>& current,
                                               const std::vector<AclBinding>& bindings) {
  auto next = current;
  next.insert(bindings.begin(), bindings.end());
  if (next.size() == current.size()) return std::nullopt;
  return next;
}

std::optional<std::set<AclBinding>> without_matching(
    const std::set<AclBinding>& current, const std::vector<AclBindingFilter>& filters,
    std::vector<std::vector<AclBinding>>* matched) {
  std::set<AclBinding> next = current;
  std::vector<std::vector<AclBinding>> found(filters.size());
  for (size_t i = 0; i < filters.size(); ++i) {
    for (const auto& b : current) {
      if (filters[i].matches(b)) {
        found[i].push_back(b);
        next.erase(b);
      }
    }
  }
  if (matched) *matched = std::move(found);
  if (next.size() == current.size()) return std::nullopt;
  return next;
}

bool Authorizer::update(const Change& change, std::string* error) {
  std::lock_guard lock(write_mu_);
  auto next = change(snapshot_.load()->bindings());
  return !next || publish_locked(std::move(*next), error);
}

bool Authorizer::create(const std::vector<AclBinding>& bindings, std::string* error) {
  return update([&](const std::set<AclBinding>& current) { return with_added(current, bindings); },
                error);
}

bool Authorizer::remove(const std::vector<AclBindingFilter>& filters,
                        std::vector<std::vector<AclBinding>>* matched, std::string* error) {
  std::vector<std::vector<AclBinding>> found;
  const bool ok = update(
      [&](const std::set<AclBinding>& current) {
        return without_matching(current, filters, &found);
      },
      error);
  if (ok && matched) *matched = std::move(found);
  return ok;
}

}  // namespace kaffa::security
