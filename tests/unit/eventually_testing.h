// Waiting in unit tests for what another thread does.
#pragma once

#include <chrono>
#include <functional>
#include <thread>

namespace kaffa::testing {

// Polls `condition` until it holds or `deadline` passes (the wait between polls is a polling
// interval, not a synchronisation sleep); whether it held.
inline bool eventually(const std::function<bool()>& condition,
                       std::chrono::milliseconds deadline = std::chrono::seconds(20)) {
  const auto until = std::chrono::steady_clock::now() + deadline;
  while (!condition()) {
    if (std::chrono::steady_clock::now() >= until) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  return true;
}

}  // namespace kaffa::testing
