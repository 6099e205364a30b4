// SPDX-License-Identifier: Apache-2.0
// Races across SIGKILL: a child runs a race until its winner is logged
// (the step after it runs and holds), the test kills it, makes the other
// side ready (sends the losing signal), and restarts: the logged winner
// wins again and the loser's signal is still there for the next wait.

#include <doctest/doctest.h>
#include <perdure/perdure.hpp>

#include "child_process.hpp"
#include "temp_dir.hpp"
#include "wait_until.hpp"

#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <thread>
#include <variant>
#include <vector>

using namespace perdure;
using namespace std::chrono_literals;
using test::wait_until;

namespace {

// Set in the child only: the step after the race holds there.
std::atomic<bool> rc_child_holds{false};

void hold(const std::string& what) {
  if (!rc_child_holds)
    return;
  std::printf("holding %s\n", what.c_str());
  std::fflush(stdout);
  std::this_thread::sleep_for(60s);
}

const auto rc_list = step("rc_list", [](int won, int a, int b) {
  return std::vector<int>{won, a, b};
});

// After first_of(a, b): holds, then waits for the loser's signal.
const auto rc_after_first = step(
  "rc_after_first", [](std::variant<int, int> w) -> flow<std::vector<int>> {
    hold("first " + std::to_string(w.index()));
    if (w.index() == 0)
      return rc_list(0, std::get<0>(w), wait_for_signal<int>("b"));
    return rc_list(1, wait_for_signal<int>("a"), std::get<1>(w));
  });

// After with_timeout: holds, then (timed out) waits for "x".
const auto rc_after_timeout = step(
  "rc_after_timeout", [](std::optional<int> r) -> flow<std::vector<int>> {
    hold(r ? "value" : "timeout");
    if (r)
      return std::vector<int>{1, *r, 0};
    return rc_list(0, wait_for_signal<int>("x"), 0);
  });

workflow<std::vector<int>> first_flow() {
  return rc_after_first(
    first_of(wait_for_signal<int>("a"), wait_for_signal<int>("b")));
}

workflow<std::vector<int>> timeout_flow() {
  return rc_after_timeout(with_timeout(wait_for_signal<int>("x"), 20ms));
}

void wait_stored(engine& eng, const std::string& id) {
  if (!wait_until([&] { return eng.try_status(id).has_value(); }))
    std::abort();
}

} // namespace

PERDURE_CHILD_ENTRY("race_signal_won") {
  rc_child_holds = true;
  engine eng{{.storage = args.at(0)}};
  auto h = eng.run_async(first_flow(), "rc");
  wait_stored(eng, "rc");
  eng.signal("rc", "a", 1);
  std::this_thread::sleep_for(60s);
  return 0;
}

PERDURE_CHILD_ENTRY("race_timeout_won") {
  rc_child_holds = true;
  engine eng{{.storage = args.at(0)}};
  auto h = eng.run_async(timeout_flow(), "rt");
  std::this_thread::sleep_for(60s);
  return 0;
}

TEST_CASE("the logged winner of first_of wins again after a SIGKILL, and "
          "the loser's signal is kept") {
  test::temp_dir dir;
  auto storage = (dir / "s").string();
  {
    test::child_process child{"race_signal_won", {storage}};
    REQUIRE(child.read_line() == "holding first 0");
    child.kill();
  }
  engine eng{{.storage = storage, .resume_on_open = false}};
  REQUIRE(eng.status("rc") == workflow_status::resumable);
  // Both sides are ready now: a re-run race could pick either.
  eng.signal("rc", "b", 2);
  auto h = eng.resume<std::vector<int>>("rc");
  CHECK(h.get() == std::vector<int>{0, 1, 2});
}

TEST_CASE("a timeout logged as the winner stays the winner after a SIGKILL "
          "even when the signal is there at the restart") {
  test::temp_dir dir;
  auto storage = (dir / "s").string();
  {
    test::child_process child{"race_timeout_won", {storage}};
    REQUIRE(child.read_line() == "holding timeout");
    child.kill();
  }
  engine eng{{.storage = storage, .resume_on_open = false}};
  REQUIRE(eng.status("rt") == workflow_status::resumable);
  eng.signal("rt", "x", 9);
  auto h = eng.resume<std::vector<int>>("rt");
  CHECK(h.get() == std::vector<int>{0, 9, 0});
}
