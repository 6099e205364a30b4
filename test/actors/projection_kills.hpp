// SPDX-License-Identifier: Apache-2.0
// Projection crash tests: a child process runs a projection while events
// flow and prints "pos N" (the projection's stored position) now and
// then; the test kills it (SIGKILL) on observed progress, ten times.
#pragma once

#include <doctest/doctest.h>

#include "child_process.hpp"

#include <chrono>
#include <functional>
#include <random>
#include <string>
#include <vector>

namespace perdure::test {

/// Starts child `entry` with `args_of(round, rng)` ten times and kills
/// each once its position passed the previous round's by 1..max_ahead
/// (seeded; the seed is reported). Fails when a position goes back or no
/// progress shows for two minutes: a projection that stopped moving must
/// fail the test, not let the log grow until the disk fills.
inline void kill_on_progress(
  const std::string& entry,
  const std::function<std::vector<std::string>(int, std::mt19937&)>& args_of,
  unsigned max_ahead) {
  std::mt19937 rng{std::random_device{}()};
  auto seed = rng();
  INFO("seed " << seed);
  rng.seed(seed);
  unsigned long long last = 0;
  for (int round = 0; round < 10; ++round) {
    auto args = args_of(round, rng);
    auto ahead = 1 + rng() % max_ahead;
    child_process child{entry, args};
    unsigned long long pos = 0;
    auto deadline = std::chrono::steady_clock::now() + std::chrono::minutes{2};
    while (pos < last + ahead) {
      auto line = child.read_line();
      INFO("round " << round << " line '" << line << "'");
      REQUIRE(std::chrono::steady_clock::now() < deadline);
      REQUIRE(line.rfind("pos ", 0) == 0);
      pos = std::stoull(line.substr(4));
      CHECK(pos >= last); // resumed from its offset, never before it
    }
    child.kill();
    last = pos;
  }
}

} // namespace perdure::test
