// Request and response frames as they cross a connection.
//
// Wire format (Kafka's): every request and every response is
//   int32 size (big-endian, counts the bytes that follow) | size bytes
// A request frame is handed to the broker without its size prefix. A response frame carries its
// own size prefix, because the broker encodes it once and the writer sends it as is.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "bytes/buffer_pool.h"

namespace kaffa::net {

// One request: exactly the `size` bytes after the 4-byte prefix, in a page-aligned pooled buffer
// (buffer.size() == size), and when its last byte was read (a request waiting behind earlier ones
// keeps that time, so that its latency counts the wait).
struct RequestFrame {
  bytes::Buffer buffer;
  std::chrono::steady_clock::time_point received{};
  // With a request memory budget (ServerConfig::max_queued_request_bytes): the request's share,
  // given back when this is destroyed or reset (a handler that is done with the bytes early may
  // reset it). Empty without a budget.
  std::shared_ptr<const void> memory;
  std::string_view bytes() const { return buffer.view(); }
};

// A range of a file inserted into a response. It is sent right after ResponseFrame::bytes[0, at)
// (and any earlier splice) and before bytes[at, ...). On a plaintext socket it leaves with
// sendfile(): the data never enters user space. `fd` must stay open and the range readable until
// the frame has been written or dropped; `keepalive` is held until then for that purpose. If the
// file turns out shorter than `length`, the connection is closed (its size prefix would lie).
struct FileSplice {
  size_t at = 0;
  int fd = -1;
  int64_t offset = 0;
  size_t length = 0;
  std::shared_ptr<const void> keepalive;
};

// One response. `bytes` is the whole frame including the 4-byte size prefix, and that prefix
// already counts the splice lengths. Splices are ordered by `at` (non-decreasing), each
// at <= bytes.size().
struct ResponseFrame {
  std::string bytes;
  std::vector<FileSplice> splices;
  // Called on the connection's loop once the frame's last byte has been written to the socket
  // (with the other frames of the same write); not called when the connection closes first.
  std::function<void()> written;
  // Once the frame is written, the connection reads no further request for this long: a client
  // over its quota is throttled (Kafka's channel muting, KIP-219). 0: no pause.
  int32_t mute_ms = 0;
};

}  // namespace kaffa::net
