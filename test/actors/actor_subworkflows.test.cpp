// SPDX-License-Identifier: Apache-2.0
// Sub-workflows started by methods: the next mutating call waits, readonly
// calls do not, steps may call back into their actor, a key whose
// sub-workflow failed answers the resumed result once it was resumed to
// success, and a sub-workflow resumes exactly once after SIGKILL.

#include <doctest/doctest.h>

#include "child_process.hpp"
#include "temp_dir.hpp"
#include "test_actors.hpp"

#include <atomic>
#include <cstdio>
#include <fcntl.h>
#include <fstream>
#include <future>
#include <unistd.h>

using namespace perdure;
using namespace std::chrono_literals;

struct planner {
  int val = 1;
  workflow<int> doubled(int gated);
  workflow<int> double_and_store();
  workflow<int> journey();
  workflow<int> fragile();
  int update(int v) {
    val = v;
    return val;
  }
  int get() const {
    return val;
  }
};
PERDURE_ACTOR(planner, (val),
              (doubled, double_and_store, journey, fragile, update, get))

namespace {

engine* current = nullptr;
std::string effects_file;

void effect(const std::string& what) {
  auto line = what + "\n";
  int fd = ::open(effects_file.c_str(), O_WRONLY | O_APPEND | O_CREAT, 0644);
  if (fd >= 0) {
    (void) !::write(fd, line.data(), line.size());
    ::fsync(fd);
    ::close(fd);
  }
}

int count_lines(const std::string& what) {
  std::ifstream in{effects_file};
  int n = 0;
  for (std::string l; std::getline(in, l);)
    n += l == what ? 1 : 0;
  return n;
}

// Waits at the gate when asked to (gated != 0), so a test can hold a
// sub-workflow running for as long as it needs.
test::test_gate double_gate;
const auto slow_double = step("actors_slow_double", [](int x, int gated) {
  if (gated != 0 && !double_gate.pass())
    throw std::runtime_error("double_gate never opened");
  return 2 * x;
});

const auto store_back = step("actors_store_back", [](int v) {
  return current->get_actor<planner>("pl").call(&planner::update, v);
});

const auto first_leg = step("actors_first_leg", [](int x) {
  effect("first");
  return x + 1;
});
// In the crash child the second leg announces itself and then waits to be
// killed: it starts only once the first leg's success is durable.
bool hold_second_leg = false;
const auto second_leg = step("actors_second_leg", [](int x) {
  if (hold_second_leg) {
    effect("second started");
    for (;;)
      std::this_thread::sleep_for(1s);
  }
  effect("second");
  return x * 10;
});

// Fails while `fragile_fails` is set (one attempt), then triples.
std::atomic<bool> fragile_fails{true};
const auto fragile_leg = step(
  "actors_fragile_leg",
  [](int x) {
    if (fragile_fails.load())
      throw std::runtime_error("the provider is down");
    return 3 * x;
  },
  {.max_attempts = 1});

} // namespace

workflow<int> planner::fragile() {
  return fragile_leg(val);
}

workflow<int> planner::doubled(int gated) {
  return slow_double(val, gated);
}
workflow<int> planner::double_and_store() {
  return store_back(slow_double(val, 0));
}
workflow<int> planner::journey() {
  return second_leg(first_leg(val));
}


TEST_CASE("a method's sub-workflow is its result and the next mutating call waits") {
  test::temp_dir dir;
  engine eng{{.storage = dir.path()}};
  current = &eng;
  auto p = eng.actor<planner>("pl");
  CHECK(p.call(&planner::doubled, 0) == 2);
  double_gate.close();
  auto sub = p.call_async(&planner::doubled, 1);
  auto next = p.call_async(&planner::update, 50);
  REQUIRE(double_gate.wait_inside(1)); // the sub-workflow's step runs
  // Readonly calls do not wait for the sub-workflow: this one returns while
  // its step is held at the gate.
  auto r = std::async(std::launch::async, [&] { return p.call(&planner::get); });
  REQUIRE(r.wait_for(60s) == std::future_status::ready);
  CHECK(r.get() == 1);
  CHECK_FALSE(next.ready());
  double_gate.open();
  CHECK(sub.get() == 2);
  CHECK(next.get() == 50);
  current = nullptr;
}

TEST_CASE("a step of an actor's sub-workflow may call that actor") {
  test::temp_dir dir;
  engine eng{{.storage = dir.path()}};
  current = &eng;
  auto p = eng.actor<planner>("pl");
  CHECK(p.call(&planner::double_and_store) == 2);
  CHECK(p.call(&planner::double_and_store) == 4);
  CHECK(p.call(&planner::get) == 4);
  current = nullptr;
}

TEST_CASE("a key whose sub-workflow failed answers the resumed result once "
          "that workflow was resumed to success") {
  test::temp_dir dir;
  std::string sub_id;
  fragile_fails = true;
  {
    engine eng{{.storage = dir.path()}};
    auto p = eng.actor<planner>("pl");
    auto first = p.with({.key = "order-7"}).try_call(&planner::fragile);
    REQUIRE_FALSE(first.has_value());
    CHECK(first.error().code() == errc::failed);
    CHECK(first.error().message().find("the provider is down") !=
          std::string::npos);
    // The same key keeps answering the logged failure...
    auto again = p.with({.key = "order-7"}).try_call(&planner::fragile);
    REQUIRE_FALSE(again.has_value());
    CHECK(again.error().code() == errc::failed);
    auto failed = eng.list({workflow_status::failed});
    REQUIRE(failed.size() == 1);
    sub_id = failed[0].id;
    CHECK(sub_id.find("order-7") != std::string::npos);
    // ... until the operator resumes the sub-workflow and it succeeds.
    fragile_fails = false;
    eng.resume(sub_id).wait();
    REQUIRE(eng.status(sub_id) == workflow_status::successful);
    CHECK(p.with({.key = "order-7"}).call(&planner::fragile) == 3);
    CHECK(p.with({.key = "order-7"}).call(&planner::fragile) == 3);
    // The state is the actor's: a resumed sub-workflow's output is the
    // call's result, not a state change.
    CHECK(p.call(&planner::get) == 1);
  }
  // The resumed answer is logged under the key: a restart keeps it, and
  // the sub-workflow does not run again.
  fragile_fails = true;
  engine eng{{.storage = dir.path()}};
  auto p = eng.actor<planner>("pl");
  CHECK(p.with({.key = "order-7"}).call(&planner::fragile) == 3);
  CHECK(eng.status(sub_id) == workflow_status::successful);
  fragile_fails = false;
}

PERDURE_CHILD_ENTRY("actor_sub_crash") {
  effects_file = args.at(1);
  hold_second_leg = true;
  engine eng{{.storage = args.at(0)}};
  current = &eng;
  auto p = eng.actor<planner>("pl");
  auto h = p.with({.key = "trip-1"}).call_async(&planner::journey);
  std::printf("started\n");
  std::fflush(stdout);
  h.wait_for(60s);
  return 0;
}

TEST_CASE("a sub-workflow started from a method resumes exactly once after SIGKILL") {
  test::temp_dir dir;
  auto storage = dir / "storage";
  effects_file = (dir / "effects.txt").string();
  {
    test::child_process child{"actor_sub_crash",
                              {storage.string(), effects_file}};
    REQUIRE(child.read_line() == "started");
    // The second leg starts once the first leg's success is durable.
    auto deadline = std::chrono::steady_clock::now() + 60s;
    while (count_lines("second started") == 0
           && std::chrono::steady_clock::now() < deadline)
      std::this_thread::sleep_for(5ms);
    REQUIRE(count_lines("second started") == 1);
    REQUIRE(count_lines("first") == 1);
    child.kill();
  }
  REQUIRE(count_lines("second") == 0);
  engine eng{{.storage = storage}};
  current = &eng;
  auto p = eng.get_actor<planner>("pl"); // activation resumes the call
  // The next mutating call waits for the resumed sub-workflow.
  CHECK(p.call(&planner::update, 7) == 7);
  CHECK(count_lines("first") == 1);
  CHECK(count_lines("second") == 1);
  // The call's key returns the sub-workflow's result, running nothing.
  CHECK(p.with({.key = "trip-1"}).call(&planner::journey) == 20);
  CHECK(count_lines("second") == 1);
  current = nullptr;
}
