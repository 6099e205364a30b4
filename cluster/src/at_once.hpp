// SPDX-License-Identifier: Apache-2.0
#pragma once

#include <cstddef>
#include <thread>
#include <vector>

namespace perdure::cluster {

/// Runs fn(0) .. fn(n - 1) at once, each on a thread of its own (the
/// caller's for the last), and returns when all returned. engine_host
/// closes and opens its engines so: a close waits for the log (its final
/// commit), an open for its partition's resume, and one slow partition
/// must not hold the others up.
template <class Fn>
void for_each_at_once(std::size_t n, Fn&& fn) {
  std::vector<std::thread> threads;
  for (std::size_t i = 0; i + 1 < n; ++i)
    threads.emplace_back([&fn, i] { fn(i); });
  if (n > 0)
    fn(n - 1);
  for (auto& t : threads)
    t.join();
}

} // namespace perdure::cluster
