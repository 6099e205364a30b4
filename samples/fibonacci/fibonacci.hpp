// SPDX-License-Identifier: Apache-2.0
#pragma once
// Seed example 8-6's workflow: fibonacci as a dynamic workflow. A header so
// that the crash-at-every-write test runs the very same steps.
#include <perdure/perdure.hpp>

namespace samples::fibonacci {

perdure::flow<int> fib_impl(int n);

inline const auto add =
  perdure::step("add", [](int a, int b) { return a + b; });
inline const auto fib = perdure::step("fib", fib_impl);

/// Each call returns a sub-graph until n ≤ 1: the graph grows as it runs.
inline perdure::flow<int> fib_impl(int n) {
  if (n <= 1)
    return n;
  return add(fib(n - 1), fib(n - 2));
}

} // namespace samples::fibonacci
