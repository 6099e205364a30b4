// SPDX-License-Identifier: Apache-2.0
#pragma once

// Tests wait for a condition with a deadline, never for a time: this polls.

#include <chrono>
#include <thread>

namespace perdure::test {

/// Polls `done` every `every` until it holds or `limit` passes; its last
/// answer. The limit only bounds a failing test: a passing one returns as
/// soon as the condition holds, however slow the machine.
template <class F>
bool wait_until(F&& done,
                std::chrono::milliseconds limit = std::chrono::seconds{60},
                std::chrono::milliseconds every =
                  std::chrono::milliseconds{2}) {
  auto end = std::chrono::steady_clock::now() + limit;
  while (!done()) {
    if (std::chrono::steady_clock::now() > end)
      return done();
    std::this_thread::sleep_for(every);
  }
  return true;
}

} // namespace perdure::test
