// The HTTP/1.1 pieces the etcd client needs: request formatting and an incremental response
// parser (status line, headers, then a Content-Length, chunked or close-delimited body; trailers
// after a chunked body are skipped; interim 1xx answers such as 100 Continue are skipped). Pure
// code, no I/O: the connection feeds it bytes.
//
// Limits: the head may not exceed kMaxHeadBytes; a body (or one chunk) may not exceed the
// parser's max_body_bytes. Anything malformed makes the parser fail for good (error()).
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <string>
#include <string_view>

namespace kaffa::etcd {

std::string format_http_post(std::string_view host, std::string_view path, std::string_view body);
// A POST whose body is a stream of chunks (a client stream on etcd's gateway): the head and
// `first` as the first chunk; later chunks come from http_chunk(). The body is never ended.
// It carries "Expect: 100-continue": without it etcd 3.4's gateway reads none of a chunked
// body that is still open (the stream is never created); with it, it answers 100 Continue and
// then reads each chunk as it comes.
// `extra_headers`: complete header lines, each ending in CRLF.
std::string format_http_post_chunked(std::string_view host, std::string_view path,
                                     std::string_view extra_headers, std::string_view first);
std::string http_chunk(std::string_view data);

class HttpResponseParser {
 public:
  static constexpr size_t kMaxHeadBytes = 64 * 1024;

  // `on_body` receives body bytes as they are decoded (chunk by chunk); when not set, the body
  // accumulates in body().
  explicit HttpResponseParser(size_t max_body_bytes = 64 * 1024 * 1024,
                              std::function<void(std::string_view)> on_body = {})
      : max_body_(max_body_bytes), on_body_(std::move(on_body)) {}

  enum class State { head, body, done, failed };

  // Consumes `data`. Returns the state after it. Bytes after the end of the response are kept
  // (extra()) — a well-behaved server sends none before the next request.
  State feed(std::string_view data);
  // The peer closed the connection: completes a close-delimited body, else fails.
  State finish();

  State state() const { return state_; }
  int status() const { return status_; }
  bool keep_alive() const { return keep_alive_; }
  bool chunked() const { return chunked_; }
  const std::string& body() const { return body_; }
  const std::string& error() const { return error_; }

 private:
  enum class Framing { length, chunked, until_close };
  State fail(std::string why);
  bool parse_head(std::string_view head);
  void emit(std::string_view bytes);
  void advance();

  size_t max_body_;
  std::function<void(std::string_view)> on_body_;
  State state_ = State::head;
  std::string buf_;  // undecoded input
  std::string body_;
  std::string error_;
  int status_ = 0;
  bool keep_alive_ = true;
  bool chunked_ = false;
  Framing framing_ = Framing::until_close;
  uint64_t remaining_ = 0;  // of the body (length) or of the current chunk
  enum class ChunkStep { size, data, data_crlf, trailers } chunk_step_ = ChunkStep::size;
  size_t body_size_ = 0;
};

}  // namespace kaffa::etcd
