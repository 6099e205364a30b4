// SPDX-License-Identifier: Apache-2.0
// Step options given at registration: the default name is the id's base;
// an attempt's recorded start is when its body began, after its backoff.

#include <doctest/doctest.h>
#include <perdure/perdure.hpp>

#include "temp_dir.hpp"

#include <atomic>
#include <chrono>
#include <stdexcept>

using namespace perdure;
using namespace std::chrono_literals;

namespace {

std::atomic<bool> named_fail{false};

const auto s_registered = step(
  "s_registered",
  [](int x) {
    if (named_fail)
      throw std::runtime_error("not yet");
    return x + 1;
  },
  {.name = "custom", .max_attempts = 1});

std::atomic<int> flaky_calls{0};
constexpr auto backoff = 300ms;

const auto s_flaky = step(
  "s_flaky",
  [](int x) {
    if (++flaky_calls == 1)
      throw std::runtime_error("first attempt fails");
    return x;
  },
  {.max_attempts = 2, .retry_backoff = backoff});

engine_options opts(const test::temp_dir& dir) {
  return {.storage = dir.path(), .durability = eventlog::durability::process};
}

} // namespace

TEST_CASE("a name in a step's default options is the base of its ids, and "
          "a resume finds the step by its registered name") {
  test::temp_dir dir;
  named_fail = true;
  {
    engine eng{opts(dir)};
    CHECK_THROWS_AS(eng.run(s_registered(s_registered(1)), "named"),
                    workflow_failed);
    // Breadth-first from the output: the outer call is `custom`.
    auto m = eng.metadata("named", "custom_1");
    CHECK(m.options.step_name == "s_registered");
    CHECK(m.state == step_state::failed);
    CHECK_THROWS_AS((void) eng.metadata("named", "s_registered"), not_found);
  }
  named_fail = false;
  engine eng{opts(dir)};
  CHECK(eng.resume<int>("named").get() == 3);
  CHECK(eng.output<int>("named", "custom_1") == 2);
  CHECK(eng.output<int>("named", "custom") == 3);
  // A per-call name wins over the default one.
  CHECK(eng.run(s_registered.options({.name = "mine"})(5), "percall") == 6);
  CHECK(eng.metadata("percall", "mine").options.step_name == "s_registered");
}

TEST_CASE("a retried attempt's start is when its body began, after the "
          "backoff") {
  test::temp_dir dir;
  flaky_calls = 0;
  auto check = [](const step_metadata& m) {
    REQUIRE(m.attempts.size() == 2);
    auto& first = m.attempts[0];
    auto& second = m.attempts[1];
    REQUIRE(first.end.has_value());
    // The second body cannot begin before the backoff after the first
    // attempt's failure (the attempt is logged as started at the failure).
    auto wait = std::chrono::nanoseconds{second.start - *first.end};
    CHECK(wait >= backoff);
    CHECK(m.start == first.start);
  };
  {
    engine eng{opts(dir)};
    CHECK(eng.run(s_flaky(5), "flaky") == 5);
    check(eng.metadata("flaky", "s_flaky")); // from memory
  }
  engine eng{opts(dir)};
  check(eng.metadata("flaky", "s_flaky")); // from the log
}
