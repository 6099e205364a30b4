// SPDX-License-Identifier: Apache-2.0
// A step dispatched by a batch is queued in the step pool by that batch's
// completion, on the thread that made it durable (workflow_actor.cpp,
// submit). These tests hold the batch between the log and the disk (a
// replicated log whose group is held, test_replicator.hpp) and decide
// its fate: a batch that fails never starts its step, and a step whose run
// ended meanwhile does not start when its batch becomes durable.

#include <doctest/doctest.h>
#include <perdure/perdure.hpp>

#include "temp_dir.hpp"
#include "test_replicator.hpp"
#include "wait_until.hpp"

#include <atomic>
#include <stdexcept>

using namespace perdure;
using namespace std::chrono_literals;

namespace {

// A log whose groups a test_replicator holds or refuses, for one test.
struct held_log {
  test::temp_dir dir;
  std::shared_ptr<test::test_replicator> rep =
    std::make_shared<test::test_replicator>();
  std::shared_ptr<eventlog::event_log> log;

  held_log() {
    auto opened = test::open_replicated(dir / "log", rep);
    REQUIRE_MESSAGE(opened, opened.as_status().to_string());
    log = *opened;
  }
  ~held_log() {
    rep->stop(); // a group still held is never reported
  }
};

// A body that says it began and returns (or throws) once told to.
struct gate {
  std::atomic<bool> began{false};
  std::atomic<bool> go{false};
  void pass() {
    began = true;
    if (!test::wait_until([&] { return go.load(); }))
      throw std::runtime_error("the test never opened the gate");
  }
};

gate first_gate;
gate fail_gate;
std::atomic<int> after_runs{0};

const auto ed_first = step("ed_first", [](int x) {
  first_gate.pass();
  return x + 1;
});
const auto ed_after = step("ed_after", [](int x) {
  ++after_runs;
  return x * 10;
});
const auto ed_fail = step(
  "ed_fail",
  [](int) -> int {
    fail_gate.pass();
    throw std::runtime_error("ed_fail refuses");
  },
  {.max_attempts = 1});
const auto ed_join = step("ed_join", [](int a, int b) { return a + b; });

void reset_gates() {
  for (auto* g : {&first_gate, &fail_gate}) {
    g->began = false;
    g->go = false;
  }
  after_runs = 0;
}

} // namespace

TEST_CASE("a step whose dispatching batch fails to commit never starts, and "
          "the caller gets the log's error") {
  reset_gates();
  held_log held;
  auto& rep = held.rep;
  {
    engine eng{{.storage = held.dir / "engine", .event_log = held.log}};
    auto h = eng.run_async(ed_after(ed_first(1)), "lost-batch");
    REQUIRE(test::wait_until([] { return first_gate.began.load(); }));
    // The next group is the one with ed_first's result, which dispatches
    // ed_after.
    rep->next({.hold = true,
               .refuse = {errc::io, "the replicated log lost the group"}});
    first_gate.go = true;
    REQUIRE(test::wait_until([&] { return rep->queued() == 1; }));
    rep->release();
    REQUIRE(h.wait_for(60s));
    auto r = h.try_get();
    REQUIRE_FALSE(r);
    CHECK(r.error() == errc::io);
    CHECK(r.error().message().find("lost the group") != std::string::npos);
    CHECK(after_runs == 0);
  }
  rep->stop();
  // The lost batch is not in the log: the workflow stays where it was.
  auto info = held.log->info("lost-batch");
  REQUIRE(info);
  CHECK(info->status == "running");
}

TEST_CASE("a step whose dispatching batch becomes durable after its run "
          "failed elsewhere does not start") {
  reset_gates();
  held_log held;
  auto& rep = held.rep;
  {
    engine_options o{.storage = held.dir / "engine", .event_log = held.log};
    o.capacity.cpus = 4; // both bodies run at once
    engine eng{std::move(o)};
    auto h =
      eng.run_async(ed_join(ed_after(ed_first(1)), ed_fail(2)), "ended-run");
    REQUIRE(test::wait_until(
      [] { return first_gate.began.load() && fail_gate.began.load(); }));
    // Held: ed_first's result, dispatching ed_after. Behind it: ed_fail's
    // failure, which ends the run before ed_after's batch is durable.
    rep->next({.hold = true});
    first_gate.go = true;
    REQUIRE(test::wait_until([&] { return rep->queued() == 1; }));
    fail_gate.go = true;
    REQUIRE(test::wait_until([&] { return rep->queued() == 2; }));
    rep->release();
    REQUIRE(h.wait_for(60s));
    auto r = h.try_get();
    REQUIRE_FALSE(r);
    CHECK(r.error().message().find("ed_fail refuses") != std::string::npos);
    CHECK(after_runs == 0);
    CHECK(eng.metadata("ended-run", "ed_after").state
          != step_state::succeeded);
  }
  rep->stop();
  auto info = held.log->info("ended-run");
  REQUIRE(info);
  CHECK(info->status == "failed");
}
