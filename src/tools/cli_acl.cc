// `kaffa acl add|list|remove`: ACL bindings (CreateAcls, DescribeAcls, DeleteAcls), as Kafka's
// `kafka-acls.sh` manages them. add and remove use librdkafka 2.0's admin API (so they work
// against any Kafka cluster too); list uses RawClient, because librdkafka drops DescribeAcls'
// error code (SECURITY_DISABLED or CLUSTER_AUTHORIZATION_FAILED would look like "no ACLs").
// librdkafka 2.0 knows the resource types TOPIC, GROUP and CLUSTER (its "BROKER", code 4) only,
// so the verbs offer those.
#include <CLI/CLI.hpp>
#include <cstdio>

#include "protocol/messages/describe_acls.h"
#include "security/acl.h"
#include "tools/cli_common.h"
#include "tools/raw_client.h"

namespace kaffa::cli {
namespace {

constexpr int16_t kDescribeAcls = 29;

struct AclOptions {
  std::optional<std::string> topic, group;
  bool cluster = false;
  std::string pattern;  // literal (add) / any (list, remove) by default
  std::optional<std::string> principal;
  std::optional<std::string> host;
  std::vector<std::string> operations;
  std::optional<std::string> permission;
};

struct Resource {
  security::ResourceType type = security::ResourceType::any;
  std::optional<std::string> name;
};

Resource resource_of(const AclOptions& o, bool required) {
  const int given = (o.topic ? 1 : 0) + (o.group ? 1 : 0) + (o.cluster ? 1 : 0);
  if (given > 1) usage_error("give at most one of --topic, --group, --cluster");
  if (given == 0 && required) usage_error("give one of --topic, --group, --cluster");
  if (o.topic) return {security::ResourceType::topic, o.topic};
  if (o.group) return {security::ResourceType::group, o.group};
  if (o.cluster)
    return {security::ResourceType::cluster, std::string(security::kClusterResourceName)};
  return {};
}

security::PatternType pattern_of(const AclOptions& o, security::PatternType dflt) {
  if (o.pattern.empty()) return dflt;
  const auto p = security::parse_pattern_type(o.pattern);
  if (p == security::PatternType::unknown) {
    usage_error("--resource-pattern-type must be literal, prefixed, match or any");
  }
  return p;
}

std::vector<security::AclOperation> operations_of(const AclOptions& o,
                                                  security::AclOperation dflt) {
  std::vector<security::AclOperation> out;
  for (const auto& s : o.operations) {
    const auto op = security::parse_operation(s);
    if (op == security::AclOperation::unknown) usage_error("unknown operation '" + s + "'");
    out.push_back(op);
  }
  if (out.empty()) out.push_back(dflt);
  return out;
}

security::AclPermission permission_of(const AclOptions& o, security::AclPermission dflt) {
  if (!o.permission) return dflt;
  const auto p = security::parse_permission(*o.permission);
  if (p == security::AclPermission::unknown) usage_error("--permission must be allow or deny");
  return p;
}

// Bindings as kaffa prints them, with Kafka's names (librdkafka's BROKER is Kafka's CLUSTER).
void print_bindings(const Globals& g, const std::vector<security::AclBinding>& acls,
                    const char* empty) {
  Json j;
  j.begin_array();
  Table t({"PRINCIPAL", "HOST", "OPERATION", "PERMISSION", "RESOURCE_TYPE", "RESOURCE_NAME",
           "PATTERN_TYPE"});
  for (const auto& a : acls) {
    const std::string type(security::to_string(a.resource.type));
    const std::string op(security::to_string(a.operation));
    const std::string perm(security::to_string(a.permission));
    const std::string pattern(security::to_string(a.resource.pattern));
    j.begin_object()
        .key("principal")
        .str(a.principal)
        .key("host")
        .str(a.host)
        .key("operation")
        .str(op)
        .key("permission")
        .str(perm)
        .key("resource_type")
        .str(type)
        .key("resource_name")
        .str(a.resource.name)
        .key("pattern_type")
        .str(pattern)
        .end_object();
    t.row({a.principal, a.host, op, perm, type, a.resource.name, pattern});
  }
  j.end_array();
  if (g.json) return j.print();
  if (acls.empty()) {
    std::printf("%s\n", empty);
  } else {
    t.print();
  }
}

std::vector<security::AclBinding> bindings_of(const rd_kafka_AclBinding_t* const* acls, size_t n) {
  std::vector<security::AclBinding> out;
  for (size_t i = 0; i < n; ++i) {
    const auto* a = acls[i];
    out.push_back(
        {{security::resource_type_of(static_cast<int8_t>(rd_kafka_AclBinding_restype(a))),
          rd_kafka_AclBinding_name(a),
          security::pattern_type_of(
              static_cast<int8_t>(rd_kafka_AclBinding_resource_pattern_type(a)))},
         rd_kafka_AclBinding_principal(a),
         rd_kafka_AclBinding_host(a),
         security::operation_of(static_cast<int8_t>(rd_kafka_AclBinding_operation(a))),
         security::permission_of(static_cast<int8_t>(rd_kafka_AclBinding_permission_type(a)))});
  }
  return out;
}

rd_kafka_AclBindingFilter_t* make_filter(const AclOptions& o) {
  const auto r = resource_of(o, false);
  const auto ops = operations_of(o, security::AclOperation::any);
  if (ops.size() > 1) usage_error("give at most one --operation to filter on");
  char buf[512];
  auto* f = rd_kafka_AclBindingFilter_new(
      static_cast<rd_kafka_ResourceType_t>(r.type), r.name ? r.name->c_str() : nullptr,
      static_cast<rd_kafka_ResourcePatternType_t>(pattern_of(o, security::PatternType::any)),
      o.principal ? o.principal->c_str() : nullptr, o.host ? o.host->c_str() : nullptr,
      static_cast<rd_kafka_AclOperation_t>(ops.front()),
      static_cast<rd_kafka_AclPermissionType_t>(permission_of(o, security::AclPermission::any)),
      buf, sizeof buf);
  if (f == nullptr) usage_error(std::string("acl: ") + buf);
  return f;
}

int acl_add(Globals& g, const AclOptions& o) {
  if (!o.principal) usage_error("give --principal (e.g. User:alice)");
  if (o.operations.empty()) usage_error("give at least one --operation");
  const auto r = resource_of(o, true);
  const auto pattern = pattern_of(o, security::PatternType::literal);
  const auto perm = permission_of(o, security::AclPermission::allow);
  std::vector<rd_kafka_AclBinding_t*> acls;
  for (const auto op : operations_of(o, security::AclOperation::unknown)) {
    char buf[512];
    auto* b = rd_kafka_AclBinding_new(
        static_cast<rd_kafka_ResourceType_t>(r.type), r.name->c_str(),
        static_cast<rd_kafka_ResourcePatternType_t>(pattern), o.principal->c_str(),
        o.host.value_or("*").c_str(), static_cast<rd_kafka_AclOperation_t>(op),
        static_cast<rd_kafka_AclPermissionType_t>(perm), buf, sizeof buf);
    if (b == nullptr) {
      rd_kafka_AclBinding_destroy_array(acls.data(), acls.size());
      usage_error(std::string("acl add: ") + buf);
    }
    acls.push_back(b);
  }
  Client c(g, RD_KAFKA_PRODUCER);
  Event ev = [&] {
    try {
      return admin_call(c, RD_KAFKA_ADMIN_OP_CREATEACLS, "create ACLs", [&](auto* opt, auto* q) {
        rd_kafka_CreateAcls(c.get(), acls.data(), acls.size(), opt, q);
      });
    } catch (...) {
      rd_kafka_AclBinding_destroy_array(acls.data(), acls.size());
      throw;
    }
  }();
  size_t n = 0;
  const auto** res =
      rd_kafka_CreateAcls_result_acls(rd_kafka_event_CreateAcls_result(ev.get()), &n);
  int status = 0;
  for (size_t i = 0; i < n; ++i) {
    if (const auto* err = rd_kafka_acl_result_error(res[i]); err != nullptr) {
      std::fprintf(stderr, "kaffa: create ACL: %s\n", rd_kafka_error_string(err));
      status = kExitKafka;
    }
  }
  if (status == 0) {
    print_bindings(g, bindings_of(acls.data(), acls.size()), "");
  }
  rd_kafka_AclBinding_destroy_array(acls.data(), acls.size());
  return status;
}

int acl_list(Globals& g, const AclOptions& o) {
  const auto r = resource_of(o, false);
  const auto ops = operations_of(o, security::AclOperation::any);
  if (ops.size() > 1) usage_error("give at most one --operation to filter on");
  protocol::DescribeAclsRequest req;
  req.resource_type_filter = static_cast<int8_t>(r.type);
  req.resource_name_filter = r.name;
  req.pattern_type_filter = static_cast<int8_t>(pattern_of(o, security::PatternType::any));
  req.principal_filter = o.principal;
  req.host_filter = o.host;
  req.operation = static_cast<int8_t>(ops.front());
  req.permission_type = static_cast<int8_t>(permission_of(o, security::AclPermission::any));
  RawClient c(g);
  protocol::DescribeAclsResponse resp;
  c.call_checked("DescribeAcls", kDescribeAcls, 1, req, resp);
  std::vector<security::AclBinding> out;
  for (const auto& res : resp.resources) {
    for (const auto& a : res.acls) {
      out.push_back({{security::resource_type_of(res.resource_type), res.resource_name,
                      security::pattern_type_of(res.pattern_type)},
                     a.principal,
                     a.host,
                     security::operation_of(a.operation),
                     security::permission_of(a.permission_type)});
    }
  }
  print_bindings(g, out, "(no ACLs)");
  return 0;
}

int acl_remove(Globals& g, const AclOptions& o) {
  if (!o.topic && !o.group && !o.cluster && !o.principal) {
    usage_error("give a resource (--topic, --group, --cluster) or --principal to remove ACLs");
  }
  auto* f = make_filter(o);
  Client c(g, RD_KAFKA_PRODUCER);
  Event ev = [&] {
    try {
      return admin_call(c, RD_KAFKA_ADMIN_OP_DELETEACLS, "delete ACLs",
                        [&](auto* opt, auto* q) { rd_kafka_DeleteAcls(c.get(), &f, 1, opt, q); });
    } catch (...) {
      rd_kafka_AclBinding_destroy(f);
      throw;
    }
  }();
  rd_kafka_AclBinding_destroy(f);
  size_t n = 0;
  const auto** res =
      rd_kafka_DeleteAcls_result_responses(rd_kafka_event_DeleteAcls_result(ev.get()), &n);
  for (size_t i = 0; i < n; ++i) {
    if (const auto* err = rd_kafka_DeleteAcls_result_response_error(res[i]); err != nullptr) {
      throw Failure(kExitKafka, std::string("delete ACLs: ") + rd_kafka_error_string(err));
    }
    size_t m = 0;
    const auto** matched = rd_kafka_DeleteAcls_result_response_matching_acls(res[i], &m);
    print_bindings(g, bindings_of(matched, m), "(no ACLs matched)");
  }
  return 0;
}

void add_filter_options(CLI::App* cmd, AclOptions& o, bool adding) {
  cmd->add_option("--topic", o.topic, "A topic (name, prefix with --resource-pattern-type)");
  cmd->add_option("--group", o.group, "A consumer group");
  cmd->add_flag("--cluster", o.cluster, "The cluster (kafka-cluster)");
  cmd->add_option(
      "--resource-pattern-type", o.pattern,
      adding ? "literal (default) or prefixed" : "any (default), match, literal or prefixed");
  cmd->add_option("--principal", o.principal, "Type:name, e.g. User:alice; User:* for everyone");
  cmd->add_option("--host", o.host, adding ? "Client address (default *: any)" : "Client address");
  cmd->add_option("--operation", o.operations,
                  "READ, WRITE, CREATE, DELETE, ALTER, DESCRIBE, CLUSTER_ACTION, DESCRIBE_CONFIGS, "
                  "ALTER_CONFIGS, IDEMPOTENT_WRITE, ALL" +
                      std::string(adding ? " (repeatable)" : ""));
  cmd->add_option("--permission", o.permission,
                  adding ? "allow (default) or deny" : "allow or deny");
}

}  // namespace

void add_acl_commands(CLI::App& app, Globals& g) {
  auto* acl = app.add_subcommand("acl", "ACL bindings (as kafka-acls.sh)");
  acl->require_subcommand(1);
  auto o = std::make_shared<AclOptions>();

  auto* add = acl->add_subcommand("add", "Add ACL bindings (one per --operation)");
  add_filter_options(add, *o, true);
  on_run(add, g, [&g, o] { return acl_add(g, *o); });

  auto* list = acl->add_subcommand("list", "ACL bindings matching the options (all by default)");
  add_filter_options(list, *o, false);
  on_run(list, g, [&g, o] { return acl_list(g, *o); });

  auto* remove = acl->add_subcommand("remove", "Remove the ACL bindings matching the options");
  add_filter_options(remove, *o, false);
  on_run(remove, g, [&g, o] { return acl_remove(g, *o); });
}

}  // namespace kaffa::cli
