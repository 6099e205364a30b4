// SPDX-License-Identifier: Apache-2.0
// The engine side of a CLI test: a child process runs a workflow that
// waits for the CLI, tells the test when the CLI may act, then reports how
// the workflow ended.
#pragma once

#include <perdure/perdure.hpp>

#include "wait_until.hpp"

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <string>

namespace perdure::test {

/// Waits (deadline 60 s, else aborts) until workflow `id` is stored,
/// prints "started", then waits for `h` and prints the workflow's output
/// or its error, one line each, flushed. Returns the child's exit code.
template <class Handle>
int announce_and_report(engine& eng, Handle& h, const std::string& id) {
  using namespace std::chrono_literals;
  if (!wait_until([&] { return eng.try_status(id).has_value(); }, 60s))
    std::abort();
  std::printf("started\n");
  std::fflush(stdout);
  auto r = h.try_get();
  std::printf("%s\n", r ? r->c_str() : r.error().to_string().c_str());
  std::fflush(stdout);
  return 0;
}

} // namespace perdure::test
