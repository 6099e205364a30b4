// SPDX-License-Identifier: Apache-2.0
// Retry backoff with a cap and jitter: the policy's delays as pure
// functions (retry_delay, retry_draw), the options logged with the graph,
// and the engine waiting at least the computed delay between attempts
// (a lower bound, so no clock decides the outcome).

#include <doctest/doctest.h>
#include <perdure/perdure.hpp>

#include "temp_dir.hpp"

#include <atomic>
#include <set>
#include <stdexcept>
#include <string>

using namespace perdure;
using namespace std::chrono_literals;
using std::chrono::milliseconds;

namespace {

std::atomic<int> rb_calls{0};

// Fails its first three attempts.
const auto rb_flaky = step("rb_flaky", [](int x) {
  if (++rb_calls <= 3)
    throw std::runtime_error{"not yet"};
  return x;
});

} // namespace

TEST_CASE("retry_delay doubles the backoff per failed attempt up to its "
          "cap") {
  std::vector<long> got;
  for (int failed = 1; failed <= 6; ++failed)
    got.push_back(retry_delay(100ms, 500ms, 0, failed, 0.7).count());
  CHECK(got == std::vector<long>{100, 200, 400, 500, 500, 500});
  // No cap: doubling, its exponent bounded at 16.
  CHECK(retry_delay(1ms, 0ms, 0, 4, 0).count() == 8);
  CHECK(retry_delay(1ms, 0ms, 0, 40, 0).count() == 65536);
  // No backoff: no wait, whatever the cap and jitter.
  CHECK(retry_delay(0ms, 500ms, 1, 3, 0.5).count() == 0);
}

TEST_CASE("retry_jitter scales the capped delay by 1 - jitter * draw") {
  CHECK(retry_delay(100ms, 300ms, 0.5, 3, 0).count() == 300);
  CHECK(retry_delay(100ms, 300ms, 0.5, 3, 0.5).count() == 225);
  CHECK(retry_delay(100ms, 300ms, 1, 2, 0.25).count() == 150);
  // Every draw keeps the delay within [cap * (1 - jitter), cap] (rounded).
  for (int k = 0; k < 1000; ++k) {
    auto u = retry_draw("wf-" + std::to_string(k), "s", 1);
    auto d = retry_delay(1000ms, 1000ms, 0.2, 1, u).count();
    CHECK(d >= 800);
    CHECK(d <= 1000);
  }
}

TEST_CASE("retry_draw is a pure function of workflow, step and attempt "
          "spread between 0 and 1") {
  CHECK(retry_draw("a", "s", 1) == retry_draw("a", "s", 1));
  CHECK(retry_draw("a", "s", 1) != retry_draw("a", "s", 2));
  CHECK(retry_draw("ab", "c", 1) != retry_draw("a", "bc", 1));
  std::set<int> tenths;
  for (int k = 0; k < 1000; ++k) {
    auto u = retry_draw("wf-" + std::to_string(k), "step", 3);
    REQUIRE(u >= 0);
    REQUIRE(u < 1);
    tenths.insert(static_cast<int>(u * 10));
  }
  CHECK(tenths.size() == 10);
}

TEST_CASE("a step waits at least its capped, jittered delay between "
          "attempts and keeps the options across a reopen") {
  test::temp_dir dir;
  rb_calls = 0;
  auto call = rb_flaky.options({.max_attempts = 4,
                                .retry_backoff = 20ms,
                                .retry_backoff_max = 30ms,
                                .retry_jitter = 0.5})(7);
  {
    engine eng{{.storage = dir / "s"}};
    CHECK(eng.run(call, "rb") == 7);
    auto m = eng.metadata("rb", "rb_flaky");
    REQUIRE(m.attempts.size() == 4);
    for (int failed = 1; failed <= 3; ++failed) {
      CAPTURE(failed);
      auto want = retry_delay(20ms, 30ms, 0.5, failed,
                              retry_draw("rb", "rb_flaky", failed));
      auto& before = m.attempts[failed - 1];
      auto& next = m.attempts[failed];
      REQUIRE(before.end);
      // The next attempt's start: when its body began, after the wait.
      CHECK(next.start - *before.end >= std::chrono::nanoseconds{want}.count());
    }
  }
  engine eng{{.storage = dir / "s"}};
  auto opts = eng.metadata("rb", "rb_flaky").options;
  CHECK(opts.retry_backoff == 20ms);
  CHECK(opts.retry_backoff_max == 30ms);
  CHECK(opts.retry_jitter == 0.5);
  CHECK(rb_calls == 4);
}

TEST_CASE("retry options out of range are refused when the graph is built") {
  CHECK_THROWS_AS(rb_flaky.options({.retry_jitter = 1.5})(1), error);
  CHECK_THROWS_AS(rb_flaky.options({.retry_backoff_max = -1ms})(1), error);
}
