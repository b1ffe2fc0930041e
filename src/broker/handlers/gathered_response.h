// GatheredResponse: a response whose parts are filled on other event loops (each partition or
// group on its owner loop) and sent when the last part is in. The handler holds one count while
// it posts the parts (pending starts at 1), adds one per posted part, and calls finish_one()
// after posting; every part calls finish_one() once its slot is written. The slots must all exist
// before the first part is posted (parts write into them from other threads).
#pragma once

#include <atomic>
#include <cstddef>
#include <optional>

#include "broker/request_context.h"

namespace kaffa::broker {

template <class Response>
struct GatheredResponse {
  Response resp;
  std::optional<Responder> respond;
  std::atomic<size_t> pending{1};

  void finish_one() {
    if (pending.fetch_sub(1, std::memory_order_acq_rel) == 1) respond->send(resp);
  }
};

}  // namespace kaffa::broker
