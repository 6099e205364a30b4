#pragma once

// Actor classes shared by the actors suites.

#include <perdure/perdure.hpp>

#include <atomic>
#include <chrono>
#include <stdexcept>
#include <thread>

namespace perdure::test {

/// Counts method executions, so tests can tell a replayed result from a run.
inline std::atomic<int> executions{0};

struct counter {
  int count = 0;
  int incr(int by) {
    ++executions;
    count += by;
    return count;
  }
  int add(int x) {
    count += x;
    return count;
  }
  int value() const {
    return count;
  }
  /// Computes on a copy: a readonly method cannot change the state.
  int value_plus(int x) const {
    auto copy = *this;
    copy.count += x;
    return copy.count;
  }
  int slow_value(int ms) const {
    std::this_thread::sleep_for(std::chrono::milliseconds{ms});
    return count;
  }
  int slow_incr(int ms) {
    std::this_thread::sleep_for(std::chrono::milliseconds{ms});
    return ++count;
  }
  int fail_after(int by) {
    count += by; // applied to a copy: discarded when the method throws
    throw std::runtime_error("refused " + std::to_string(by));
  }
  void reset() {
    count = 0;
  }
};
PERDURE_ACTOR(counter, (count),
              (incr, add, value, value_plus, slow_value, slow_incr,
               fail_after, reset))

struct other {
  int x = 0;
  int get() const {
    return x;
  }
};
PERDURE_ACTOR(other, (x), (get))

} // namespace perdure::test
