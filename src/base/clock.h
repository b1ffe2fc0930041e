// Millisecond clocks: the wall clock (timestamps, ages, what Kafka's APIs carry) and the steady
// clock (deadlines and intervals, immune to clock steps). Any thread.
#pragma once

#include <chrono>
#include <cstdint>

namespace kaffa::clock {

inline int64_t wall_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

inline int64_t steady_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

}  // namespace kaffa::clock
