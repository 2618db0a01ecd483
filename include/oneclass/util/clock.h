#pragma once
// Wall-clock phases: one clock and one way to read it.
#include <chrono>

namespace oneclass {

using Clock = std::chrono::steady_clock;

inline double seconds_since(Clock::time_point start) {
  return std::chrono::duration<double>(Clock::now() - start).count();
}

}  // namespace oneclass
