// SPDX-License-Identifier: Apache-2.0
// Durable promises across SIGKILL: a child process runs a workflow that
// hands out a promise id and waits; the test kills it (while it waits,
// and after the completion was consumed), then settles or resumes on the
// same storage: the id is the same after the restart, the value is
// delivered once, and a second completion is still refused.

#include <doctest/doctest.h>
#include <perdure/perdure.hpp>

#include "child_process.hpp"
#include "temp_dir.hpp"
#include "wait_until.hpp"

#include <algorithm>
#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <thread>
#include <vector>

using namespace perdure;
using namespace std::chrono_literals;
using test::wait_until;

namespace {

// Set in the child only: the step after the wait blocks there.
std::atomic<bool> pc_child_holds{false};

const auto pc_hand = step("pc_hand", [] {
  auto id = this_step::promise_id("callback");
  std::printf("id %s\n", id.c_str());
  std::fflush(stdout);
  return id;
});

const auto pc_use = step("pc_use", [](std::string id, int v) {
  if (pc_child_holds) {
    std::printf("holding %d\n", v);
    std::fflush(stdout);
    std::this_thread::sleep_for(60s);
  }
  return id + "=" + std::to_string(v);
});

workflow<std::string> callback_flow() {
  return pc_use(pc_hand(), wait_for_promise<int>("callback"));
}

std::size_t settlements(engine& eng, const std::string& id) {
  auto recs = eng.event_log()->read("signals/" + id);
  return recs ? recs->size() : 0;
}

} // namespace

PERDURE_CHILD_ENTRY("promise_waits") {
  engine eng{{.storage = args.at(0)}};
  auto h = eng.run_async(callback_flow(), "cb");
  std::this_thread::sleep_for(60s);
  return 0;
}

PERDURE_CHILD_ENTRY("promise_consumed") {
  pc_child_holds = true;
  engine eng{{.storage = args.at(0)}};
  auto h = eng.run_async(callback_flow(), "cb");
  if (!wait_until([&] { return eng.try_status("cb").has_value(); }))
    std::abort();
  eng.complete("callback@cb", 41);
  std::printf("completed\n");
  std::fflush(stdout);
  std::this_thread::sleep_for(60s);
  return 0;
}

TEST_CASE("a promise id handed out before a SIGKILL completes the workflow "
          "after the restart") {
  test::temp_dir dir;
  auto storage = (dir / "s").string();
  std::string id;
  {
    test::child_process child{"promise_waits", {storage}};
    auto line = child.read_line();
    REQUIRE(line.rfind("id ", 0) == 0);
    id = line.substr(3);
    child.kill();
  }
  CHECK(id == "callback@cb");
  {
    engine eng{{.storage = storage, .resume_on_open = false}};
    CHECK(eng.status("cb") == workflow_status::resumable);
    // Settled while nobody runs it: kept.
    eng.complete(id, 7);
  }
  engine eng{{.storage = storage}}; // resume_on_open
  CHECK(eng.output<std::string>("cb") == "callback@cb=7");
  CHECK(eng.try_complete(id, 8).code() == errc::conflict);
  CHECK(settlements(eng, "cb") == 1);
}

TEST_CASE("a promise consumed before a SIGKILL keeps its value after the "
          "restart and a second completion is refused") {
  test::temp_dir dir;
  auto storage = (dir / "s").string();
  {
    test::child_process child{"promise_consumed", {storage}};
    // "id ..." before "holding 41"; "completed" anywhere (a completion
    // made before the wait runs is kept).
    std::vector<std::string> lines;
    for (int i = 0; i < 3; ++i)
      lines.push_back(child.read_line());
    auto at = [&](const std::string& l) {
      return std::find(lines.begin(), lines.end(), l) - lines.begin();
    };
    REQUIRE(at("completed") < 3);
    REQUIRE(at("id callback@cb") < at("holding 41"));
    REQUIRE(at("holding 41") < 3);
    child.kill();
  }
  engine eng{{.storage = storage, .resume_on_open = false}};
  CHECK(eng.status("cb") == workflow_status::resumable);
  auto st = eng.try_complete("callback@cb", 99);
  CHECK(st.code() == errc::conflict);
  CHECK(st.message().find("already completed") != std::string::npos);
  auto h = eng.resume<std::string>("cb");
  CHECK(h.get() == "callback@cb=41");
  CHECK(settlements(eng, "cb") == 1);
}
