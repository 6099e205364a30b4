// SPDX-License-Identifier: Apache-2.0
#pragma once

// A cluster torture's run that the mock cluster itself ends (one of
// librdkafka's rdkafka_mock assertions, a defect of the mock after which
// no broker answers: docs/cluster.md, "Failover on the mock") is run again
// with another seed, at most twice; every other failure, and every
// violation, is final.

#include <cstdint>
#include <cstdio>
#include <exception>
#include <memory>

namespace perdure::test {

/// Runs `Driver{c}.run()`; Driver has `int run()` and `bool
/// mock_aborted()`, Config a `seed`. Returns run()'s code, or 1 (the
/// failure printed on stderr, prefixed by `program`).
template <class Driver, class Config>
int run_again_if_mock_aborts(const char* program, Config c) {
  for (int attempt = 0;; ++attempt) {
    std::unique_ptr<Driver> d;
    try {
      d = std::make_unique<Driver>(c);
      return d->run();
    } catch (const std::exception& e) {
      if (d && d->mock_aborted() && attempt < 2) {
        std::printf("the mock cluster aborted (an rdkafka_mock assertion, "
                    "on stderr) during seed %llu: %s; running again with "
                    "seed %llu\n",
                    static_cast<unsigned long long>(c.seed), e.what(),
                    static_cast<unsigned long long>(c.seed + 1000));
        std::fflush(stdout);
        c.seed += 1000;
        continue;
      }
      std::fprintf(stderr, "%s (seed %llu) failed: %s\n", program,
                   static_cast<unsigned long long>(c.seed), e.what());
      return 1;
    }
  }
}

} // namespace perdure::test
