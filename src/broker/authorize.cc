// Handlers' authorization checks (authorize.h).
#include "broker/authorize.h"

#include "base/log.h"
#include "broker/broker.h"

namespace kaffa::broker {

std::string client_host(const net::ConnectionInfo& conn) {
  std::string_view p = conn.peer;
  if (const auto colon = p.rfind(':'); colon != std::string_view::npos) p = p.substr(0, colon);
  if (p.size() >= 2 && p.front() == '[' && p.back() == ']') p = p.substr(1, p.size() - 2);
  return std::string(p);
}

namespace {

bool denied(const RequestContext& ctx, AclOperation op, ResourceType type, std::string_view name) {
  ctx.broker.metrics().on_authorization_denied(type);
  log::debug("authorization denied: principal={} host={} operation={} resource={}:{} api={} v{}",
             ctx.principal(), client_host(ctx.conn), security::to_string(op),
             security::to_string(type), name, ctx.header.request_api_key, ctx.version());
  return false;
}

}  // namespace

bool allowed(const RequestContext& ctx, AclOperation op, ResourceType type, std::string_view name) {
  const security::Authorizer* authorizer = ctx.broker.authorizer();
  return authorizer == nullptr ||
         authorizer->authorize(ctx.principal(), client_host(ctx.conn), op, type, name);
}

RequestIdentity::RequestIdentity(const RequestContext& ctx)
    : authorizer_(ctx.broker.authorizer()),
      principal_(authorizer_ == nullptr ? std::string() : ctx.principal()),
      host_(authorizer_ == nullptr ? std::string() : client_host(ctx.conn)) {}

bool RequestIdentity::allowed(AclOperation op, ResourceType type, std::string_view name) const {
  return authorizer_ == nullptr || authorizer_->authorize(principal_, host_, op, type, name);
}

bool authorize(const RequestContext& ctx, AclOperation op, ResourceType type,
               std::string_view name) {
  return allowed(ctx, op, type, name) || denied(ctx, op, type, name);
}

bool authorize_cluster_or_topic(const RequestContext& ctx, AclOperation op,
                                std::string_view topic) {
  return allowed(ctx, op, ResourceType::cluster, security::kClusterResourceName) ||
         authorize(ctx, op, ResourceType::topic, topic);
}

bool authorize_any(const RequestContext& ctx, AclOperation op, ResourceType type) {
  const security::Authorizer* authorizer = ctx.broker.authorizer();
  return authorizer == nullptr ||
         authorizer->authorize_any(ctx.principal(), client_host(ctx.conn), op, type) ||
         denied(ctx, op, type, "<any>");
}

int32_t authorized_operations(const RequestContext& ctx, ResourceType type, std::string_view name) {
  if (const security::Authorizer* a = ctx.broker.authorizer()) {
    return a->authorized_operations(ctx.principal(), client_host(ctx.conn), type, name);
  }
  int32_t bits = 0;
  for (const auto op : security::supported_operations(type))
    bits |= int32_t{1} << static_cast<int>(op);
  return bits;
}

}  // namespace kaffa::broker
