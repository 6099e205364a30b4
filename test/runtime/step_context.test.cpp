// SPDX-License-Identifier: Apache-2.0
// this_step::engine(): a step body reaches the engine running it (to send
// a signal, start a workflow) without a global; outside a body it throws.

#include <doctest/doctest.h>
#include <perdure/perdure.hpp>

#include "temp_dir.hpp"
#include "wait_until.hpp"

#include <string>

using namespace perdure;
using test::wait_until;

namespace {

const auto ctx_double = step("ctx_double", [](int x) { return 2 * x; });

// Starts "child-<id>" and signals workflow `target` with its output.
const auto ctx_notify = step("ctx_notify", [](std::string target, int x) {
  auto& eng = this_step::engine();
  auto child = eng.run(ctx_double(x), "child-" + this_step::workflow_id());
  eng.signal(target, "result", child);
  return child;
});

} // namespace

TEST_CASE("a step body reaches its engine: it starts a workflow and signals "
          "another") {
  test::temp_dir dir;
  engine eng{{.storage = dir.path()}};
  auto waiter = eng.run_async(wait_for_signal<int>("result"), "waiter");
  REQUIRE(wait_until([&] { return eng.try_status("waiter").has_value(); }));
  CHECK(eng.run(ctx_notify(std::string{"waiter"}, 21), "notifier") == 42);
  CHECK(waiter.get() == 42);
  CHECK(eng.output<int>("child-notifier") == 42);
}

TEST_CASE("this_step::engine() outside a step body is an error") {
  CHECK(this_step::engine_or_null() == nullptr);
  CHECK_THROWS_AS(this_step::engine(), perdure::error);
}
