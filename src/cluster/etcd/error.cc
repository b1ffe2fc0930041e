#include "cluster/etcd/error.h"

#include <fmt/format.h>

namespace kaffa::etcd {

const char* to_string(Error::Code c) {
  switch (c) {
    case Error::Code::unavailable:
      return "unavailable";
    case Error::Code::timeout:
      return "timeout";
    case Error::Code::bad_response:
      return "bad response";
    case Error::Code::etcd:
      return "etcd error";
    case Error::Code::cancelled:
      return "cancelled";
    case Error::Code::compacted:
      return "compacted";
    case Error::Code::lease_lost:
      return "lease lost";
  }
  return "?";
}

std::string Error::describe() const {
  if (code == Code::etcd) return fmt::format("etcd error (code {}): {}", grpc_code, message);
  return fmt::format("{}: {}", to_string(code), message);
}

}  // namespace kaffa::etcd
