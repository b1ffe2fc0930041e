// The messages of a watch stream (etcd 3.4 gateway): each chunk of the chunked answer to
// POST /v3/watch holds JSON objects {"result": WatchResponse}; see watch.h for the stream's
// shape. Pure decoding, no I/O (also built for the fuzzer).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "base/json_reader.h"
#include "cluster/etcd/error.h"
#include "cluster/etcd/kv.h"

namespace kaffa::etcd {

struct WatchEvent {
  enum class Type { put, del };
  Type type = Type::put;
  KeyValue kv;  // for a delete: the key and the deletion's mod_revision
  std::optional<KeyValue> prev_kv;
};

struct WatchBatch {
  int64_t revision = 0;  // the header's revision
  std::vector<WatchEvent> events;
};

// One {"result": ...} object of the stream; an {"error": ...} object is returned as its Error.
struct WatchMessage {
  int64_t watch_id = 0;  // -1 for the answer to a progress request (for every watch)
  bool created = false;
  bool canceled = false;
  int64_t compact_revision = 0;
  std::string cancel_reason;
  WatchBatch batch;
};
Result<WatchMessage> decode_watch_message(const json::Value& v);

}  // namespace kaffa::etcd
