// Errors of the etcd client, as values: no exception crosses the client's API.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <utility>
#include <variant>

namespace kaffa::etcd {

struct Error {
  enum class Code {
    unavailable,   // no endpoint could be reached, or the member answered 503 / "unavailable"
    timeout,       // the request's deadline passed
    bad_response,  // the answer was not HTTP/JSON of the expected shape
    etcd,          // etcd refused the request: grpc_code and message say why
    cancelled,     // the client (or the watch/lease/election) was closed first
    compacted,     // a watch's start revision was compacted away: re-list, then watch again
    lease_lost,    // a kept-alive lease expired or could not be refreshed within its TTL
  };
  Code code = Code::bad_response;
  int grpc_code = 0;  // for Code::etcd: the gRPC status code etcd gave (5 = NOT_FOUND, ...)
  std::string message;
  int64_t compact_revision = 0;  // for Code::compacted: the oldest revision still available

  static Error make(Code c, std::string m, int grpc = 0) { return Error{c, grpc, std::move(m), 0}; }
  std::string describe() const;
};

const char* to_string(Error::Code c);

// A value or an Error (std::expected is C++23).
template <class T>
class Result {
 public:
  Result(T v) : v_(std::move(v)) {}      // NOLINT(google-explicit-constructor)
  Result(Error e) : v_(std::move(e)) {}  // NOLINT(google-explicit-constructor)
  bool ok() const { return v_.index() == 0; }
  explicit operator bool() const { return ok(); }
  T& value() { return std::get<0>(v_); }
  const T& value() const { return std::get<0>(v_); }
  T* operator->() { return &value(); }
  const T* operator->() const { return &value(); }
  T& operator*() { return value(); }
  const T& operator*() const { return value(); }
  const Error& error() const { return std::get<1>(v_); }

 private:
  std::variant<T, Error> v_;
};

// For operations whose success carries nothing.
struct Done {};

}  // namespace kaffa::etcd
