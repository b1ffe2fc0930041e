// The typed operations of Client: each encodes its request, calls the gateway and decodes.
#include <fmt/format.h>

#include "base/json.h"
#include "cluster/etcd/client.h"

namespace kaffa::etcd {

template <class T, class Decode>
void Client::typed_call(std::string path, std::string body, bool retry, Callback<T> done,
                        Decode decode) {
  call(std::move(path), std::move(body), retry, false,
       [done = std::move(done), decode](Result<json::Value> r) {
         if (!r) return done(r.error());
         done(decode(*r));
       });
}

void Client::range(RangeRequest request, Callback<RangeResult> done) {
  typed_call<RangeResult>("/v3/kv/range", encode(request), true, std::move(done), decode_range);
}

void Client::get(std::string key, Callback<std::optional<KeyValue>> done) {
  range(RangeRequest::single(std::move(key)), [done = std::move(done)](Result<RangeResult> r) {
    if (!r) return done(r.error());
    if (r->kvs.empty()) return done(std::optional<KeyValue>());
    done(std::optional<KeyValue>(std::move(r->kvs.front())));
  });
}

void Client::get_prefix(std::string prefix, Callback<RangeResult> done, int64_t revision) {
  range(RangeRequest::prefix(std::move(prefix), revision), std::move(done));
}

void Client::put(PutRequest request, Callback<PutResult> done) {
  typed_call<PutResult>("/v3/kv/put", encode(request), false, std::move(done), decode_put);
}

void Client::put(std::string key, std::string value, Callback<PutResult> done, int64_t lease) {
  PutRequest r;
  r.key = std::move(key);
  r.value = std::move(value);
  r.lease = lease;
  put(std::move(r), std::move(done));
}

void Client::delete_range(DeleteRequest request, Callback<DeleteResult> done) {
  typed_call<DeleteResult>("/v3/kv/deleterange", encode(request), false, std::move(done),
                           decode_delete);
}

void Client::delete_key(std::string key, Callback<DeleteResult> done) {
  DeleteRequest r;
  r.key = std::move(key);
  delete_range(std::move(r), std::move(done));
}

void Client::delete_prefix(std::string prefix, Callback<DeleteResult> done) {
  delete_range(DeleteRequest::prefix(std::move(prefix)), std::move(done));
}

void Client::txn(TxnRequest request, Callback<TxnResult> done) {
  typed_call<TxnResult>("/v3/kv/txn", encode(request), false, std::move(done), decode_txn);
}

namespace {

TxnRequest conditional_put(Compare cmp, std::string key, std::string value, int64_t lease) {
  TxnRequest t;
  t.compare.push_back(std::move(cmp));
  PutRequest p;
  p.key = key;
  p.value = std::move(value);
  p.lease = lease;
  t.success.emplace_back(std::move(p));
  t.failure.emplace_back(RangeRequest::single(std::move(key)));
  return t;
}

}  // namespace

void Client::put_if_version(std::string key, std::string value, int64_t expected_version,
                            Callback<TxnResult> done, int64_t lease) {
  Compare cmp = Compare::version(key, Compare::Op::equal, expected_version);
  txn(conditional_put(std::move(cmp), std::move(key), std::move(value), lease), std::move(done));
}

void Client::put_if_mod_revision(std::string key, std::string value, int64_t expected_mod_revision,
                                 Callback<TxnResult> done, int64_t lease) {
  Compare cmp = Compare::mod_revision(key, Compare::Op::equal, expected_mod_revision);
  txn(conditional_put(std::move(cmp), std::move(key), std::move(value), lease), std::move(done));
}

void Client::delete_if_version(std::string key, int64_t expected_version,
                               Callback<TxnResult> done) {
  TxnRequest t;
  t.compare.push_back(Compare::version(key, Compare::Op::equal, expected_version));
  DeleteRequest d;
  d.key = key;
  t.success.emplace_back(std::move(d));
  t.failure.emplace_back(RangeRequest::single(std::move(key)));
  txn(std::move(t), std::move(done));
}

void Client::compact(int64_t revision, Callback<Done> done) {
  json::Writer w;
  w.begin_object().key("revision").value(std::to_string(revision)).end_object();
  typed_call<Done>("/v3/kv/compaction", w.str(), false, std::move(done),
                   [](const json::Value&) -> Result<Done> { return Done{}; });
}

void Client::lease_grant(int64_t ttl_seconds, Callback<LeaseGrant> done) {
  json::Writer w;
  w.begin_object().key("TTL").value(std::to_string(ttl_seconds)).end_object();
  // Not retried after sending: a lost answer would leave an unknown lease to expire on its own.
  typed_call<LeaseGrant>("/v3/lease/grant", w.str(), false, std::move(done),
                         [](const json::Value& v) -> Result<LeaseGrant> {
                           if (!v["error"].as_string().empty()) {
                             return Error::make(Error::Code::etcd, v["error"].as_string());
                           }
                           LeaseGrant g;
                           g.id = v["ID"].int64_or(0);
                           g.ttl = v["TTL"].int64_or(0);
                           if (g.id == 0) {
                             return Error::make(Error::Code::bad_response,
                                                "lease grant without ID");
                           }
                           return g;
                         });
}

void Client::lease_keep_alive_once(int64_t lease_id, Callback<int64_t> done) {
  json::Writer w;
  w.begin_object().key("ID").value(std::to_string(lease_id)).end_object();
  // A stream on the gateway: one request in the body, one {"result": ...} object back; an
  // expired or unknown lease answers without "TTL" (0).
  call("/v3/lease/keepalive", w.str(), true, true, [done = std::move(done)](Result<json::Value> r) {
    if (!r) return done(r.error());
    const auto ttl = (*r)["TTL"].as_int64();
    if ((*r).find("TTL") && !ttl) {
      return done(Error::make(Error::Code::bad_response, "malformed keep-alive TTL"));
    }
    done(ttl.value_or(0));
  });
}

void Client::lease_revoke(int64_t lease_id, Callback<Done> done) {
  json::Writer w;
  w.begin_object().key("ID").value(std::to_string(lease_id)).end_object();
  typed_call<Done>("/v3/lease/revoke", w.str(), true, std::move(done),
                   [](const json::Value&) -> Result<Done> { return Done{}; });
}

}  // namespace kaffa::etcd
