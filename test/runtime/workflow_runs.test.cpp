// SPDX-License-Identifier: Apache-2.0
// Running, re-running and resuming: live ids, finished ids, outputs that
// never re-execute, retries counted exactly, catching.

#include <doctest/doctest.h>
#include <perdure/perdure.hpp>

#include "temp_dir.hpp"

#include <atomic>
#include <chrono>
#include <set>
#include <stdexcept>
#include <thread>

using namespace perdure;
using namespace std::chrono_literals;

namespace {

std::atomic<int> effects{0};
std::atomic<bool> gate{false};
std::atomic<int> failures_left{0};
std::atomic<int> flaky_calls{0};

const auto r_effect = step("r_effect", [](int x) {
  ++effects;
  return x * 2;
});
const auto r_wait = step("r_wait", [](int x) {
  while (!gate && !this_step::canceled())
    std::this_thread::sleep_for(1ms);
  return x;
});
const auto r_quick = step("r_quick", [](int x) { return x + 100; });
const auto r_pair = step("r_pair", [](int a, int b) { return a + b; });
const auto r_flaky = step("r_flaky", [](int x) {
  ++flaky_calls;
  if (failures_left.fetch_sub(1) > 0)
    throw std::runtime_error("flaky failure");
  return x;
});

flow<int> deep_impl(int depth);
const auto r_deep = step("r_deep", deep_impl);
flow<int> deep_impl(int depth) {
  if (depth == 0)
    throw std::logic_error("bottom of the recursion");
  return r_deep(depth - 1);
}

engine_options opts(const test::temp_dir& dir) {
  return {.storage = dir.path(), .durability = eventlog::durability::process};
}

} // namespace

// A generated id: time first, so that ids sort by creation (and new
// workflows' keys share the storage's last pages).
TEST_CASE("generated ids are unique and their time prefix never decreases") {
  test::temp_dir dir;
  engine eng{opts(dir)};
  std::string prev;
  std::set<std::string> seen;
  for (int i = 0; i < 50; ++i) {
    auto h = eng.run_async(r_effect(i));
    auto id = h.id();
    REQUIRE(id.size() == 14 + 1 + 32);
    CHECK(id[14] == '.');
    CHECK(id.find_first_not_of("0123456789abcdef.") == std::string::npos);
    if (!prev.empty())
      CHECK(id.substr(0, 14) >= prev.substr(0, 14)); // the system clock's
    CHECK(seen.insert(id).second);
    CHECK(h.get() == 2 * i);
    CHECK(eng.status(id) == workflow_status::successful);
    prev = id;
  }
}

TEST_CASE("a live id can be neither run nor resumed a second time") {
  test::temp_dir dir;
  engine eng{opts(dir)};
  gate = false;
  auto h = eng.run_async(r_wait(1), "live");
  CHECK_THROWS_AS(eng.run(r_wait(1), "live"), workflow_busy);
  CHECK_THROWS_AS(eng.resume("live"), workflow_busy);
  CHECK(eng.status("live") == workflow_status::running);
  gate = true;
  CHECK(h.get() == 1);
}

TEST_CASE("re-running a finished id returns its output and executes nothing") {
  test::temp_dir dir;
  engine eng{opts(dir)};
  effects = 0;
  CHECK(eng.run(r_effect(r_effect(3)), "once") == 12);
  CHECK(effects == 2);
  CHECK(eng.run(r_effect(r_effect(3)), "once") == 12);
  CHECK(eng.run(r_effect(100), "once") == 12);
  CHECK(effects == 2);
  CHECK(eng.resume<int>("once").get() == 12);
  CHECK(eng.output<int>("once") == 12);
  CHECK(eng.output<int>("once", "r_effect_1") == 6);
  CHECK(effects == 2);
}

TEST_CASE("named step outputs are readable while the workflow runs") {
  test::temp_dir dir;
  engine eng{opts(dir)};
  gate = false;
  auto h = eng.run_async(r_pair(r_quick(1), r_wait(2)), "partial");
  CHECK(eng.output<int>("partial", "r_quick") == 101);
  CHECK_THROWS_AS(eng.output<int>("partial", "nope"), not_found);
  CHECK_FALSE(h.wait_for(5ms));
  gate = true;
  CHECK(eng.output<int>("partial", "r_wait") == 2);
  CHECK(eng.output<int>("partial") == 103);
}

TEST_CASE("a step failing every attempt fails the workflow after 3 attempts") {
  test::temp_dir dir;
  engine eng{opts(dir)};
  failures_left = 9;
  flaky_calls = 0;
  CHECK_THROWS_AS(eng.run(r_pair(r_quick(1), r_flaky(5)), "flaky"),
                  workflow_failed);
  CHECK(flaky_calls == 3);
  CHECK(eng.status("flaky") == workflow_status::failed);
  auto m = eng.metadata("flaky", "r_flaky");
  CHECK(m.state == step_state::failed);
  REQUIRE(m.attempts.size() == 3);
  CHECK(m.attempts[2].error_text == "flaky failure");
  CHECK(m.attempts[2].error_type == "std::runtime_error");
  // Outputs of the steps that did succeed stay readable after the failure.
  CHECK(eng.output<int>("flaky", "r_quick") == 101);
  CHECK_THROWS_AS(eng.output<int>("flaky", "r_flaky"), workflow_failed);
  try {
    (void) eng.output<int>("flaky");
    FAIL("output of a failed workflow must throw");
  } catch (const workflow_failed& e) {
    CHECK(std::string{e.what()}.find("flaky failure") != std::string::npos);
  }
}

TEST_CASE("a step failing 9 times succeeds with max_attempts 10") {
  test::temp_dir dir;
  engine eng{opts(dir)};
  failures_left = 9;
  flaky_calls = 0;
  CHECK(eng.run(r_flaky.options({.max_attempts = 10})(5), "ten") == 5);
  CHECK(flaky_calls == 10);
  CHECK(eng.metadata("ten", "r_flaky").attempts.size() == 10);
  CHECK(eng.metadata("ten").attempts == 10);
}

TEST_CASE("retries wait for their backoff") {
  test::temp_dir dir;
  engine eng{opts(dir)};
  failures_left = 2;
  auto t0 = std::chrono::steady_clock::now();
  CHECK(eng.run(r_flaky.options({.retry_backoff = 20ms})(1)) == 1);
  CHECK(std::chrono::steady_clock::now() - t0 >= 60ms); // 20 + 40
}

TEST_CASE("a catching step turns its failure into a caught value") {
  test::temp_dir dir;
  engine eng{opts(dir)};
  failures_left = 100;
  flaky_calls = 0;
  auto c = eng.run(catching(r_flaky)(5), "caught");
  CHECK_FALSE(c.ok());
  CHECK(c.error() == "flaky failure");
  CHECK(flaky_calls == 3);
  CHECK(eng.status("caught") == workflow_status::successful);
  failures_left = 0;
  auto ok = eng.run(catching(r_flaky)(5));
  REQUIRE(ok.ok());
  CHECK(ok.value() == 5);
}

TEST_CASE("catching covers errors from a 5-deep dynamic recursion") {
  test::temp_dir dir;
  engine eng{opts(dir)};
  auto c = eng.run(catching(r_deep.options({.max_attempts = 1}))(5), "deep");
  CHECK_FALSE(c.ok());
  CHECK(c.error_type() == "std::logic_error");
  CHECK(c.error() == "bottom of the recursion");
  CHECK(eng.status("deep") == workflow_status::successful);
  CHECK_THROWS_AS(eng.run(r_deep(5)), workflow_failed);
}

TEST_CASE("the output of an unknown id is a not_found error") {
  test::temp_dir dir;
  engine eng{opts(dir)};
  CHECK_THROWS_AS(eng.output<int>("nobody"), not_found);
  CHECK_THROWS_AS((void) eng.status("nobody"), not_found);
  CHECK_FALSE(eng.try_output<int>("nobody").has_value());
}
