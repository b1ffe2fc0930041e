#include "cluster/etcd/watch_message.h"

namespace kaffa::etcd {

Result<WatchMessage> decode_watch_message(const json::Value& v) {
  if (auto e = gateway_error(v)) return *e;
  const json::Value* r = v.find("result");
  if (!r || !r->is_object()) {
    return Error::make(Error::Code::bad_response, "watch message without result");
  }
  WatchMessage m;
  m.watch_id = (*r)["watch_id"].int64_or(0);
  m.created = (*r)["created"].as_bool();
  m.canceled = (*r)["canceled"].as_bool();
  m.compact_revision = (*r)["compact_revision"].int64_or(0);
  m.cancel_reason = (*r)["cancel_reason"].as_string();
  m.batch.revision = header_revision(*r);
  for (const auto& ev : (*r)["events"].items()) {
    WatchEvent e;
    const auto& type = ev["type"].as_string();
    if (type == "DELETE") {
      e.type = WatchEvent::Type::del;
    } else if (!type.empty() && type != "PUT") {
      return Error::make(Error::Code::bad_response, "unknown watch event type " + type);
    }
    auto kv = decode_kv(ev["kv"]);
    if (!kv) return kv.error();
    e.kv = std::move(*kv);
    if (const auto* prev = ev.find("prev_kv")) {
      auto p = decode_kv(*prev);
      if (!p) return p.error();
      e.prev_kv = std::move(*p);
    }
    m.batch.events.push_back(std::move(e));
  }
  return m;
}

}  // namespace kaffa::etcd
