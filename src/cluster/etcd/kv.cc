#include "cluster/etcd/kv.h"

#include "base/base64.h"
#include "base/json.h"

namespace kaffa::etcd {
namespace {

void bytes_field(json::Writer& w, const char* name, std::string_view bytes) {
  w.key(name).value(base64::encode(bytes));
}

void int_field(json::Writer& w, const char* name, int64_t v) {
  w.key(name).value(std::to_string(v));  // int64 as a decimal string, as protobuf's JSON has it
}

Error bad(std::string what) {
  return Error::make(Error::Code::bad_response, std::move(what));
}

// An int64 member: absent means 0; present but not an integer is malformed.
bool read_int(const json::Value& obj, std::string_view name, int64_t& out) {
  const json::Value* v = obj.find(name);
  if (!v) {
    out = 0;
    return true;
  }
  auto n = v->as_int64();
  if (!n) return false;
  out = *n;
  return true;
}

bool read_bytes(const json::Value& obj, std::string_view name, std::string& out) {
  const json::Value* v = obj.find(name);
  if (!v) {
    out.clear();
    return true;
  }
  auto d = base64::decode(v->as_string());
  if (!v->is_string() || !d) return false;
  out = std::move(*d);
  return true;
}

void write_range_fields(json::Writer& w, const RangeRequest& r) {
  bytes_field(w, "key", r.key);
  if (!r.range_end.empty()) bytes_field(w, "range_end", r.range_end);
  if (r.limit) int_field(w, "limit", r.limit);
  if (r.revision) int_field(w, "revision", r.revision);
  if (r.keys_only) w.key("keys_only").value(true);
  if (r.count_only) w.key("count_only").value(true);
}

void write_put_fields(json::Writer& w, const PutRequest& r) {
  bytes_field(w, "key", r.key);
  bytes_field(w, "value", r.value);
  if (r.lease) int_field(w, "lease", r.lease);
  if (r.prev_kv) w.key("prev_kv").value(true);
  if (r.ignore_value) w.key("ignore_value").value(true);
  if (r.ignore_lease) w.key("ignore_lease").value(true);
}

void write_delete_fields(json::Writer& w, const DeleteRequest& r) {
  bytes_field(w, "key", r.key);
  if (!r.range_end.empty()) bytes_field(w, "range_end", r.range_end);
  if (r.prev_kv) w.key("prev_kv").value(true);
}

void write_op(json::Writer& w, const TxnOp& op) {
  w.begin_object();
  if (const auto* r = std::get_if<RangeRequest>(&op)) {
    w.key("request_range").begin_object();
    write_range_fields(w, *r);
  } else if (const auto* p = std::get_if<PutRequest>(&op)) {
    w.key("request_put").begin_object();
    write_put_fields(w, *p);
  } else {
    w.key("request_delete_range").begin_object();
    write_delete_fields(w, std::get<DeleteRequest>(op));
  }
  w.end_object().end_object();
}

const char* target_name(Compare::Target t) {
  switch (t) {
    case Compare::Target::version:
      return "VERSION";
    case Compare::Target::create_revision:
      return "CREATE";
    case Compare::Target::mod_revision:
      return "MOD";
    case Compare::Target::value:
      return "VALUE";
    case Compare::Target::lease:
      return "LEASE";
  }
  return "VERSION";
}

const char* op_name(Compare::Op o) {
  switch (o) {
    case Compare::Op::equal:
      return "EQUAL";
    case Compare::Op::not_equal:
      return "NOT_EQUAL";
    case Compare::Op::greater:
      return "GREATER";
    case Compare::Op::less:
      return "LESS";
  }
  return "EQUAL";
}

Result<std::vector<KeyValue>> decode_kvs(const json::Value& v, std::string_view name) {
  std::vector<KeyValue> out;
  const json::Value* list = v.find(name);
  if (!list) return out;
  if (!list->is_array()) return bad(std::string(name) + " is not an array");
  for (const auto& item : list->items()) {
    auto kv = decode_kv(item);
    if (!kv) return kv.error();
    out.push_back(std::move(*kv));
  }
  return out;
}

Compare make_compare(std::string key, Compare::Target t, Compare::Op op, int64_t n) {
  Compare c;
  c.key = std::move(key);
  c.target = t;
  c.op = op;
  c.number = n;
  return c;
}

}  // namespace

std::string prefix_range_end(std::string_view prefix) {
  std::string end(prefix);
  while (!end.empty()) {
    auto& last = reinterpret_cast<unsigned char&>(end.back());
    if (last < 0xff) {
      ++last;
      return end;
    }
    end.pop_back();
  }
  return std::string(1, '\0');
}

RangeRequest RangeRequest::prefix(std::string prefix, int64_t revision) {
  RangeRequest r;
  r.range_end = prefix_range_end(prefix);
  r.key = prefix.empty() ? std::string(1, '\0') : std::move(prefix);
  r.revision = revision;
  return r;
}

DeleteRequest DeleteRequest::prefix(std::string prefix) {
  DeleteRequest r;
  r.range_end = prefix_range_end(prefix);
  r.key = prefix.empty() ? std::string(1, '\0') : std::move(prefix);
  return r;
}

Compare Compare::version(std::string key, Op op, int64_t v) {
  return make_compare(std::move(key), Target::version, op, v);
}
Compare Compare::create_revision(std::string key, Op op, int64_t v) {
  return make_compare(std::move(key), Target::create_revision, op, v);
}
Compare Compare::mod_revision(std::string key, Op op, int64_t v) {
  return make_compare(std::move(key), Target::mod_revision, op, v);
}
Compare Compare::lease_is(std::string key, Op op, int64_t lease) {
  return make_compare(std::move(key), Target::lease, op, lease);
}
Compare Compare::value_is(std::string key, Op op, std::string v) {
  Compare c = make_compare(std::move(key), Target::value, op, 0);
  c.value = std::move(v);
  return c;
}

std::string encode(const RangeRequest& r) {
  json::Writer w;
  w.begin_object();
  write_range_fields(w, r);
  w.end_object();
  return w.str();
}

std::string encode(const PutRequest& r) {
  json::Writer w;
  w.begin_object();
  write_put_fields(w, r);
  w.end_object();
  return w.str();
}

std::string encode(const DeleteRequest& r) {
  json::Writer w;
  w.begin_object();
  write_delete_fields(w, r);
  w.end_object();
  return w.str();
}

std::string encode(const TxnRequest& r) {
  json::Writer w;
  w.begin_object();
  w.key("compare").begin_array();
  for (const auto& c : r.compare) {
    w.begin_object();
    w.key("result").value(op_name(c.op));
    w.key("target").value(target_name(c.target));
    bytes_field(w, "key", c.key);
    if (!c.range_end.empty()) bytes_field(w, "range_end", c.range_end);
    switch (c.target) {
      case Compare::Target::version:
        int_field(w, "version", c.number);
        break;
      case Compare::Target::create_revision:
        int_field(w, "create_revision", c.number);
        break;
      case Compare::Target::mod_revision:
        int_field(w, "mod_revision", c.number);
        break;
      case Compare::Target::lease:
        int_field(w, "lease", c.number);
        break;
      case Compare::Target::value:
        bytes_field(w, "value", c.value);
        break;
    }
    w.end_object();
  }
  w.end_array();
  w.key("success").begin_array();
  for (const auto& op : r.success) write_op(w, op);
  w.end_array();
  w.key("failure").begin_array();
  for (const auto& op : r.failure) write_op(w, op);
  w.end_array();
  w.end_object();
  return w.str();
}

std::optional<Error> gateway_error(const json::Value& v) {
  const json::Value* e = v.find("error");
  if (!e) return std::nullopt;
  int code = 0;
  std::string message;
  if (e->is_object()) {
    code = static_cast<int>((*e)["grpc_code"].int64_or(0));
    message = (*e)["message"].as_string();
  } else {
    code = static_cast<int>(v["code"].int64_or(0));
    message = v["message"].as_string();
    if (message.empty()) message = e->as_string();
  }
  if (message.empty()) message = "etcd error without a message";
  constexpr int kGrpcUnavailable = 14;
  if (code == kGrpcUnavailable) return Error::make(Error::Code::unavailable, std::move(message));
  return Error::make(Error::Code::etcd, std::move(message), code);
}

int64_t header_revision(const json::Value& v) {
  return v["header"]["revision"].int64_or(0);
}

Result<KeyValue> decode_kv(const json::Value& v) {
  KeyValue kv;
  if (!v.is_object()) return bad("key-value is not an object");
  if (!read_bytes(v, "key", kv.key) || !read_bytes(v, "value", kv.value) ||
      !read_int(v, "create_revision", kv.create_revision) ||
      !read_int(v, "mod_revision", kv.mod_revision) || !read_int(v, "version", kv.version) ||
      !read_int(v, "lease", kv.lease)) {
    return bad("malformed key-value");
  }
  return kv;
}

Result<RangeResult> decode_range(const json::Value& v) {
  RangeResult r;
  r.revision = header_revision(v);
  auto kvs = decode_kvs(v, "kvs");
  if (!kvs) return kvs.error();
  r.kvs = std::move(*kvs);
  r.more = v["more"].as_bool();
  if (!read_int(v, "count", r.count)) return bad("malformed count");
  return r;
}

Result<PutResult> decode_put(const json::Value& v) {
  PutResult r;
  r.revision = header_revision(v);
  if (const json::Value* prev = v.find("prev_kv")) {
    auto kv = decode_kv(*prev);
    if (!kv) return kv.error();
    r.prev_kv = std::move(*kv);
  }
  return r;
}

Result<DeleteResult> decode_delete(const json::Value& v) {
  DeleteResult r;
  r.revision = header_revision(v);
  if (!read_int(v, "deleted", r.deleted)) return bad("malformed deleted count");
  auto kvs = decode_kvs(v, "prev_kvs");
  if (!kvs) return kvs.error();
  r.prev_kvs = std::move(*kvs);
  return r;
}

Result<TxnResult> decode_txn(const json::Value& v) {
  TxnResult r;
  r.revision = header_revision(v);
  r.succeeded = v["succeeded"].as_bool();
  const json::Value& list = v["responses"];
  for (const auto& item : list.items()) {
    if (const auto* range = item.find("response_range")) {
      auto d = decode_range(*range);
      if (!d) return d.error();
      r.responses.emplace_back(std::move(*d));
    } else if (const auto* put = item.find("response_put")) {
      auto d = decode_put(*put);
      if (!d) return d.error();
      r.responses.emplace_back(std::move(*d));
    } else if (const auto* del = item.find("response_delete_range")) {
      auto d = decode_delete(*del);
      if (!d) return d.error();
      r.responses.emplace_back(std::move(*d));
    } else {
      return bad("unknown txn response kind");
    }
  }
  return r;
}

}  // namespace kaffa::etcd
