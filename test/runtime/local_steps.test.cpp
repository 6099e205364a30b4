// SPDX-License-Identifier: Apache-2.0
// Local steps (step_options::local) through the public API: their bodies
// run on the workflow's thread, outside the step pool and its resources;
// retries, timeouts (checked when the body returns), cancellation and
// `this_step` work as for any step; a local body may not wait for a
// workflow, and its signals skip the direct path; the option is logged with the graph (also a child's) and kept
// across a reopen; and after a SIGKILL a resumed workflow reruns no local
// step whose success was logged.

#include <doctest/doctest.h>
#include <perdure/perdure.hpp>

#include "child_process.hpp"
#include "effects_file.hpp"
#include "temp_dir.hpp"
#include "wait_until.hpp"

#include <atomic>
#include <cstdio>
#include <fstream>
#include <map>
#include <pthread.h>
#include <set>
#include <stdexcept>
#include <string>
#include <thread>

using namespace perdure;
using namespace std::chrono_literals;
using test::wait_until;

namespace {

std::string thread_name() {
  char name[32] = {};
  pthread_getname_np(pthread_self(), name, sizeof name);
  return name;
}

std::atomic<bool> ls_held{false};
std::atomic<bool> ls_marked{false};
std::string ls_pool_thread, ls_local_thread;

// Pooled: holds the engine's only cpu until the local step below ran.
const auto ls_hold = step("ls_hold", [] {
  ls_pool_thread = thread_name();
  ls_held = true;
  return wait_until([] { return ls_marked.load(); }) ? 1 : -1;
});

// Local: runs once ls_hold holds the cpu.
const auto ls_meet = step(
  "ls_meet",
  [] {
    ls_local_thread = thread_name();
    ls_marked = wait_until([] { return ls_held.load(); });
    return 2;
  },
  {.local = true});

const auto ls_plain = step("ls_plain", [](int x) { return x; });

const auto ls_mark = step(
  "ls_mark",
  [] {
    ls_local_thread = thread_name();
    ls_marked = true;
    return 2;
  },
  {.local = true});

const auto ls_sum = step(
  "ls_sum", [](int a, int b) { return 10 * a + b; }, {.local = true});

const auto ls_flaky = step(
  "ls_flaky",
  [] {
    if (this_step::attempt() < 3)
      throw std::runtime_error("attempt " + std::to_string(this_step::attempt()));
    return this_step::attempt() * 10;
  },
  {.local = true});

// Attempt 1 runs past the limit it is given (not preempted); attempt 2
// returns at once.
const auto ls_slow_first = step("ls_slow_first", [](int sleep_ms) {
  if (this_step::attempt() == 1)
    std::this_thread::sleep_for(std::chrono::milliseconds{sleep_ms});
  return this_step::attempt();
});

std::atomic<bool> ls_waiting{false};
std::atomic<bool> ls_saw_cancel{false};

const auto ls_until_canceled = step(
  "ls_until_canceled",
  [] {
    ls_waiting = true;
    ls_saw_cancel = wait_until([] { return this_step::canceled(); });
    return 0;
  },
  {.local = true});

std::atomic<bool> ls_release{false};
const auto ls_inner = step("ls_inner", [] {
  return wait_until([] { return ls_release.load(); }) ? 5 : -1;
});

// Starts a workflow and waits for it, from a local body.
const auto ls_waits = step(
  "ls_waits",
  [] {
    auto h = this_step::engine().run_async(ls_inner(), "ls-inner");
    auto r = h.try_get();
    return r ? std::string{"waited"} : r.error().message();
  },
  {.local = true});

// Pooled: returns once a signal wait of the engine is armed for the
// direct path.
const auto ls_after_armed = step("ls_after_armed", [] {
  auto& ready = this_step::engine().metrics().get_gauge(
    "perdure_signal_waits_ready", "", {});
  return wait_until([&] { return ready.value() >= 1; }) ? 1 : -1;
});

// Signals its own workflow, whose wait is armed in another branch.
const auto ls_signal_self = step(
  "ls_signal_self",
  [](int armed) {
    this_step::engine().signal(this_step::workflow_id(), "go", 4);
    return armed;
  },
  {.local = true});

} // namespace

TEST_CASE("a local step runs on its workflow's thread and takes no pool "
          "resources") {
  test::temp_dir dir;
  ls_held = false;
  ls_marked = false;
  {
    // One cpu, held by ls_hold until ls_meet ran: a pooled ls_meet would
    // wait for it (and ls_hold give up after its 60 s).
    engine eng{{.storage = dir.path(), .capacity = {.cpus = 1}}};
    CHECK(eng.run(ls_sum(ls_hold(), ls_meet()), "ls-a") == 12);
    CHECK(ls_pool_thread == "perdure-step");
    CHECK(ls_local_thread != "perdure-step");
    auto m = eng.metadata("ls-a", "ls_meet");
    CHECK(m.options.local);
    CHECK(m.options.cpus == 0);
    CHECK(m.attempts.size() == 1);
    CHECK(!eng.metadata("ls-a", "ls_hold").options.local);
  }
  engine eng{{.storage = dir.path()}};
  CHECK(eng.metadata("ls-a", "ls_sum").options.local);
  CHECK(eng.output<int>("ls-a", "ls_meet") == 2);
}

TEST_CASE("a failing local step is retried as any step") {
  test::temp_dir dir;
  engine eng{{.storage = dir.path()}};
  CHECK(eng.run(ls_flaky(), "ls-r") == 30);
  auto m = eng.metadata("ls-r", "ls_flaky");
  REQUIRE(m.attempts.size() == 3);
  CHECK(m.attempts[0].error_text.find("attempt 1") != std::string::npos);
  CHECK(m.attempts[2].error_type.empty());
  auto once = eng.try_run(ls_flaky.options({.max_attempts = 1})(), "ls-r1");
  REQUIRE(!once);
  CHECK(once.error().code() == errc::failed);
}

TEST_CASE("a local attempt that overran its timeout fails with "
          "perdure::timeout when it returns, and is retried") {
  test::temp_dir dir;
  engine eng{{.storage = dir.path()}};
  // The limits leave a no-op second attempt a second on a slow machine.
  CHECK(eng.run(ls_slow_first.options({.timeout = 1000ms, .local = true})(
                  1100),
                "ls-t")
        == 2);
  auto m = eng.metadata("ls-t", "ls_slow_first");
  REQUIRE(m.attempts.size() == 2);
  CHECK(m.attempts[0].error_type == "perdure::timeout");
  CHECK(m.attempts[1].error_type.empty());
  CHECK(eng.run(ls_slow_first.options({.heartbeat_timeout = 500ms,
                                       .local = true})(600),
                "ls-h")
        == 2);
  m = eng.metadata("ls-h", "ls_slow_first");
  REQUIRE(m.attempts.size() == 2);
  CHECK(m.attempts[0].error_type == "perdure::heartbeat_timeout");
}

TEST_CASE("a local body sees its workflow's cancel through its token") {
  test::temp_dir dir;
  engine eng{{.storage = dir.path()}};
  ls_waiting = false;
  ls_saw_cancel = false;
  auto h = eng.run_async(ls_until_canceled(), "ls-c");
  REQUIRE(wait_until([] { return ls_waiting.load(); }));
  eng.cancel("ls-c");
  CHECK(ls_saw_cancel);
  CHECK(eng.status("ls-c") == workflow_status::canceled);
  CHECK(h.try_get().error().code() == errc::canceled);
}

TEST_CASE("a local body cannot wait for a workflow, and bad local options "
          "are refused") {
  test::temp_dir dir;
  engine eng{{.storage = dir.path()}};
  ls_release = false;
  auto said = eng.run(ls_waits(), "ls-w");
  ls_release = true;
  CHECK(said.find("'ls_waits' of workflow 'ls-w' is a local step and must "
                  "not wait for workflow 'ls-inner'")
        != std::string::npos);
  CHECK(eng.output<int>("ls-inner") == 5); // started all the same
  CHECK_THROWS_AS(ls_mark.options({.resources = {.cpus = 1}})(),
                  perdure::error);
  CHECK_THROWS_AS(ls_inner.options({.resources = {.custom = {{"db", 1}}},
                                    .local = true})(),
                  perdure::error);
  // Unset in a call: the step's default (local) holds.
  CHECK(eng.run(ls_mark.options({.name = "again"})(), "ls-d") == 2);
  CHECK(eng.metadata("ls-d", "again").options.local);
  // And a call may turn it off.
  CHECK(eng.run(ls_mark.options({.local = false})(), "ls-off") == 2);
  CHECK(!eng.metadata("ls-off", "ls_mark").options.local);
  CHECK(ls_local_thread == "perdure-step");
}

TEST_CASE("a local body signals its own waiting workflow through the log, "
          "not the direct path") {
  // The direct path would wait for the workflow's actor, whose thread the
  // body holds.
  test::temp_dir dir;
  engine eng{{.storage = dir.path()}};
  CHECK(eng.run(ls_sum(wait_for_signal<int>("go"),
                       ls_signal_self(ls_after_armed())),
                "ls-s")
        == 41);
}

TEST_CASE("a child workflow keeps its steps' local option") {
  test::temp_dir dir;
  engine eng{{.storage = dir.path()}};
  auto kid = ls_sum(ls_plain.options({.local = true})(2), 3);
  CHECK(eng.run(ls_sum(child(kid, "ls-kid"), 4), "ls-p") == 234);
  CHECK(eng.metadata("ls-kid", "ls_plain").options.local);
  CHECK(eng.metadata("ls-kid", "ls_sum").options.local);
}

// -- SIGKILL -----------------------------------------------------------------

namespace {

std::string lk_effects;
bool lk_gate = false; // in the child: the gated steps wait for the kill

constexpr int lk_workflows = 4;
constexpr int lk_chain = 30;
constexpr int lk_gated_local = 20; // the local step gated in even workflows

void lk_record() {
  test::append_durably(lk_effects, this_step::workflow_id() + " "
                                     + this_step::step_id() + "\n");
}

bool lk_even() {
  return (this_step::workflow_id().back() - '0') % 2 == 0;
}

const auto lk_add = step(
  "lk_add",
  [](int x, int k) {
    while (lk_gate && k == lk_gated_local && lk_even())
      std::this_thread::sleep_for(1ms);
    lk_record();
    return x + k;
  },
  {.local = true});

// Pooled, last: gated in odd workflows.
const auto lk_last = step("lk_last", [](int x) {
  while (lk_gate && !lk_even())
    std::this_thread::sleep_for(1ms);
  lk_record();
  return x + 1000;
});

workflow<int> lk_flow(int i) {
  auto w = lk_add(i, 1);
  for (int k = 2; k <= lk_chain; ++k)
    w = lk_add(w, k);
  return lk_last(w);
}

std::string lk_id(int i) {
  return "lk" + std::to_string(i);
}

std::map<std::string, int> lk_runs() {
  std::map<std::string, int> runs;
  std::ifstream in{lk_effects};
  for (std::string wf, sid; in >> wf >> sid;)
    ++runs[wf + " " + sid];
  return runs;
}

std::size_t lk_lines() {
  std::size_t n = 0;
  for (auto& [key, count] : lk_runs())
    n += count;
  return n;
}

std::string lk_step_id(int k) {
  return k == 1 ? std::string{"lk_add"} : "lk_add_" + std::to_string(k - 1);
}

} // namespace

PERDURE_CHILD_ENTRY("local_kill") {
  lk_effects = args.at(1);
  lk_gate = true;
  // Room for the gated local bodies (two workers) beside the others.
  engine eng{{.storage = args.at(0), .capacity = {.cpus = 8},
              .actor_threads = 6}};
  for (int i = 0; i < lk_workflows; ++i)
    (void) eng.run_async(lk_flow(i), lk_id(i));
  std::printf("started\n");
  std::fflush(stdout);
  std::this_thread::sleep_for(60s);
  return 0;
}

TEST_CASE("after a SIGKILL no local step whose success was logged runs "
          "again, and every workflow resumes to its output") {
  test::temp_dir dir;
  auto storage = dir / "storage";
  lk_effects = (dir / "effects.txt").string();
  {
    test::child_process child{"local_kill", {storage.string(),
                                             lk_effects}};
    REQUIRE(child.read_line() == "started");
    // Killed once every step before the gates ran: even workflows wait in
    // local step 20 (its body holds a worker), odd ones in the last,
    // pooled, step.
    constexpr auto before_gates =
      (lk_workflows / 2) * (lk_gated_local - 1) + (lk_workflows / 2) * lk_chain;
    REQUIRE(wait_until([] { return lk_lines() >= before_gates; }));
    child.kill();
  }
  engine eng{{.storage = storage, .resume_on_open = false}};
  std::set<std::string> logged;
  for (int i = 0; i < lk_workflows; ++i) {
    CHECK(eng.status(lk_id(i)) == workflow_status::resumable);
    for (int k = 1; k <= lk_chain; ++k) {
      auto m = eng.try_metadata(lk_id(i), lk_step_id(k));
      if (m && m->state == step_state::succeeded) {
        CHECK(m->options.local);
        logged.insert(lk_id(i) + " " + lk_step_id(k));
      }
    }
  }
  MESSAGE("local steps logged before the kill: " << logged.size());
  // At least all but the last one or two of each chain before its gate.
  CHECK(logged.size() >= (lk_workflows / 2) * (lk_gated_local - 3)
                           + (lk_workflows / 2) * (lk_chain - 2));
  CHECK(eng.resume_all().size() == lk_workflows);
  for (int i = 0; i < lk_workflows; ++i)
    CHECK(eng.output<int>(lk_id(i))
          == i + lk_chain * (lk_chain + 1) / 2 + 1000);
  auto runs = lk_runs();
  CHECK(runs.size() == lk_workflows * (lk_chain + 1));
  for (auto& key : logged)
    CHECK_MESSAGE(runs[key] == 1, key);
}
