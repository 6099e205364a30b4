// SPDX-License-Identifier: Apache-2.0
#pragma once

// Actor classes shared by the actors suites.

#include <perdure/perdure.hpp>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <mutex>
#include <stdexcept>
#include <thread>

namespace perdure::test {

/// A gate that methods and steps wait at until the test opens it, so tests
/// order events by conditions, never by time. Counts who is inside.
class test_gate {
public:
  /// Enters, waits until the gate opens (or `limit` passes: false), leaves.
  bool pass(std::chrono::milliseconds limit = std::chrono::minutes{1}) {
    std::unique_lock g{mu_};
    ++inside_;
    cv_.notify_all();
    bool ok = cv_.wait_for(g, limit, [&] { return open_; });
    --inside_;
    return ok;
  }
  /// Waits until `n` callers are inside at once; false after `limit`.
  bool wait_inside(int n,
                   std::chrono::milliseconds limit = std::chrono::minutes{1}) {
    std::unique_lock g{mu_};
    return cv_.wait_for(g, limit, [&] { return inside_ >= n; });
  }
  void open() {
    std::lock_guard g{mu_};
    open_ = true;
    cv_.notify_all();
  }
  void close() {
    std::lock_guard g{mu_};
    open_ = false;
  }

private:
  std::mutex mu_;
  std::condition_variable cv_;
  int inside_ = 0;
  bool open_ = false;
};

/// Lets callers through once `n` of them arrived: proves they ran side by
/// side (callers running one after another never meet).
class test_meeting {
public:
  /// Arrives and waits for the others; false if they did not come in `limit`.
  bool meet(int n, std::chrono::milliseconds limit = std::chrono::minutes{1}) {
    std::unique_lock g{mu_};
    ++arrived_;
    cv_.notify_all();
    return cv_.wait_for(g, limit, [&] { return arrived_ >= n; });
  }
  void reset() {
    std::lock_guard g{mu_};
    arrived_ = 0;
  }

private:
  std::mutex mu_;
  std::condition_variable cv_;
  int arrived_ = 0;
};

/// The gate and the meeting of the counter's gated methods.
inline test_gate counter_gate;
inline test_meeting counter_meeting;

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
  /// Waits until `together` callers are inside at once: only readonly calls
  /// that run side by side can return (-1 when they never met).
  int meeting_value(int together) const {
    return counter_meeting.meet(together) ? count : -1;
  }
  /// Readonly: returns the count once the test opens `counter_gate`.
  int gated_value() const {
    if (!counter_gate.pass())
      throw std::runtime_error("counter_gate never opened");
    return count;
  }
  /// Increments once the test opens `counter_gate`.
  int gated_incr() {
    if (!counter_gate.pass())
      throw std::runtime_error("counter_gate never opened");
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
              (incr, add, value, value_plus, meeting_value, gated_value,
               gated_incr, fail_after, reset))

struct other {
  int x = 0;
  int get() const {
    return x;
  }
};
PERDURE_ACTOR(other, (x), (get))

} // namespace perdure::test
