// etcd v3 key-value messages as the client's API sees them, and their JSON form on etcd's gRPC
// gateway (codec functions at the end). Keys and values are arbitrary bytes in std::string.
//
// Gateway JSON (etcd 3.4, protobuf's JSON mapping with the proto field names): bytes fields are
// base64; int64/uint64 fields are decimal strings; fields with their zero value are omitted
// (an absent "count" is 0, an absent "succeeded" is false, an absent event "type" is PUT);
// enums are written by name ("EQUAL", "MOD", "DELETE").
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <variant>
#include <vector>

#include "base/json_reader.h"
#include "cluster/etcd/error.h"

namespace kaffa::etcd {

struct KeyValue {
  std::string key;
  std::string value;
  int64_t create_revision = 0;
  int64_t mod_revision = 0;
  int64_t version = 0;  // 1 after creation, +1 per put; 0 = the key does not exist
  int64_t lease = 0;
};

// The range end that makes [prefix, end) cover every key starting with `prefix` (etcd's rule:
// increment the last byte below 0xff, dropping trailing 0xff bytes; "\0" for "every key").
std::string prefix_range_end(std::string_view prefix);

struct RangeRequest {
  std::string key;
  std::string range_end;  // empty: only `key`
  int64_t limit = 0;      // 0: no limit
  int64_t revision = 0;   // 0: the newest; else read as of that revision
  bool keys_only = false;
  bool count_only = false;
  static RangeRequest single(std::string key) { return RangeRequest{std::move(key)}; }
  static RangeRequest prefix(std::string prefix, int64_t revision = 0);
};

struct RangeResult {
  int64_t revision = 0;  // the store's revision when read (header.revision)
  std::vector<KeyValue> kvs;
  bool more = false;
  int64_t count = 0;
};

struct PutRequest {
  std::string key;
  std::string value;
  int64_t lease = 0;  // 0: none
  bool prev_kv = false;
  bool ignore_value = false;
  bool ignore_lease = false;
};

struct PutResult {
  int64_t revision = 0;
  std::optional<KeyValue> prev_kv;
};

struct DeleteRequest {
  std::string key;
  std::string range_end;  // empty: only `key`
  bool prev_kv = false;
  static DeleteRequest prefix(std::string prefix);
};

struct DeleteResult {
  int64_t revision = 0;
  int64_t deleted = 0;
  std::vector<KeyValue> prev_kvs;
};

struct Compare {
  enum class Target { version, create_revision, mod_revision, value, lease };
  enum class Op { equal, not_equal, greater, less };
  std::string key;
  Target target = Target::version;
  Op op = Op::equal;
  int64_t number = 0;  // for version / create_revision / mod_revision / lease
  std::string value;   // for Target::value
  std::string range_end;

  static Compare version(std::string key, Op op, int64_t v);
  static Compare create_revision(std::string key, Op op, int64_t v);
  static Compare mod_revision(std::string key, Op op, int64_t v);
  static Compare value_is(std::string key, Op op, std::string v);
  static Compare lease_is(std::string key, Op op, int64_t lease);
  // The key does not exist (its create_revision is 0).
  static Compare absent(std::string key) { return create_revision(std::move(key), Op::equal, 0); }
};

using TxnOp = std::variant<RangeRequest, PutRequest, DeleteRequest>;
using TxnOpResult = std::variant<RangeResult, PutResult, DeleteResult>;

struct TxnRequest {
  std::vector<Compare> compare;
  std::vector<TxnOp> success;
  std::vector<TxnOp> failure;
};

struct TxnResult {
  int64_t revision = 0;
  bool succeeded = false;
  std::vector<TxnOpResult> responses;  // of the branch taken, in order
};

struct LeaseGrant {
  int64_t id = 0;
  int64_t ttl = 0;  // seconds, as granted
};

// --- Gateway JSON ---------------------------------------------------------------------------

std::string encode(const RangeRequest& r);
std::string encode(const PutRequest& r);
std::string encode(const DeleteRequest& r);
std::string encode(const TxnRequest& r);

Result<KeyValue> decode_kv(const json::Value& v);
Result<RangeResult> decode_range(const json::Value& v);
Result<PutResult> decode_put(const json::Value& v);
Result<DeleteResult> decode_delete(const json::Value& v);
Result<TxnResult> decode_txn(const json::Value& v);
// The error of a gateway error body or stream message, if `v` is one: etcd 3.4 writes
// {"error": "<text>", "message": "<text>", "code": <gRPC code>} (also inside streams); newer
// gateways nest {"error": {"grpc_code": N, "message": "..."}}. Both are read. gRPC code 14
// (UNAVAILABLE) becomes Error::Code::unavailable, any other Error::Code::etcd.
std::optional<Error> gateway_error(const json::Value& v);
// header.revision of a response; 0 when absent.
int64_t header_revision(const json::Value& v);

}  // namespace kaffa::etcd
