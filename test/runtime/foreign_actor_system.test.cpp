// SPDX-License-Identifier: Apache-2.0
// An engine used from threads of another CAF actor system (a user's own
// system, or the cluster's network door): starting a workflow there must not
// leave the engine's actor system referenced by that thread, or closing the
// engine waits for that thread forever. Each case runs in a child process so
// that a hang shows as a missing line instead of a stuck test binary.

#include <doctest/doctest.h>
#include <perdure/perdure.hpp>

#include <caf/all.hpp>

#include "child_process.hpp"
#include "temp_dir.hpp"

#include <chrono>
#include <cstdio>
#include <future>
#include <string>
#include <thread>

using namespace perdure;
using namespace std::chrono_literals;

namespace {

const auto s_inc = step("s_inc", [](int x) { return x + 1; });

} // namespace

// The calling thread used another system (a scoped actor, as a forwarding
// request does) when it runs a workflow; then another thread closes the
// engine (as the cluster's host does when a partition moves).
PERDURE_CHILD_ENTRY("foreign_scoped_then_close") {
  caf::actor_system_config cfg;
  caf::actor_system other{cfg};
  {
    engine eng{{.storage = args.at(0)}};
    {
      caf::scoped_actor self{other};
      std::printf("output %d\n", eng.run(s_inc(1), "scoped"));
      std::fflush(stdout);
    }
    std::string closed;
    std::thread{[&] { closed = eng.close().to_string(); }}.join();
    std::printf("closed %s\n", closed.c_str());
    std::fflush(stdout);
  }
  std::printf("stopped\n");
  return 0;
}

// A worker of another system starts a workflow from a message handler and
// keeps running; then the engine closes, then the other system.
PERDURE_CHILD_ENTRY("foreign_worker_then_close") {
  caf::actor_system_config cfg;
  cfg.set("scheduler.max-threads", 1);
  caf::actor_system other{cfg};
  {
    engine eng{{.storage = args.at(0)}};
    std::promise<std::string> started;
    auto got = started.get_future();
    // An argument for the spawn: CAF 0.17 binds a reference to a null
    // pointer when a function-based actor takes none (UBSan stops there).
    auto starter = other.spawn(
      [&](caf::event_based_actor*, std::string id) -> caf::behavior {
        return {[&, id](int x) {
          auto h = eng.try_run_async(s_inc(x), id);
          started.set_value(h ? h->id() : h.error().to_string());
        }};
      },
      std::string{"worker"});
    caf::anon_send(starter, 41);
    std::printf("started %s\n", got.get().c_str());
    std::printf("output %d\n", eng.output<int>("worker"));
    std::fflush(stdout);
    caf::anon_send_exit(starter, caf::exit_reason::user_shutdown);
    std::printf("closed %s\n", eng.close().to_string().c_str());
    std::fflush(stdout);
  }
  std::printf("stopped\n");
  return 0;
}

TEST_CASE("an engine closes after a thread of another actor system ran a "
          "workflow") {
  test::temp_dir dir;
  test::child_process child{"foreign_scoped_then_close",
                            {dir.path().string()}};
  CHECK(child.read_line(20s) == "output 2");
  // A hang in close leaves these lines out; the child is then killed.
  REQUIRE(child.read_line(20s) == "closed ok");
  REQUIRE(child.read_line(20s) == "stopped");
  CHECK(child.wait() == 0);
}

TEST_CASE("an engine closes after another system's worker started a "
          "workflow") {
  test::temp_dir dir;
  test::child_process child{"foreign_worker_then_close",
                            {dir.path().string()}};
  CHECK(child.read_line(20s) == "started worker");
  CHECK(child.read_line(20s) == "output 42");
  // A hang in close leaves these lines out; the child is then killed.
  REQUIRE(child.read_line(20s) == "closed ok");
  REQUIRE(child.read_line(20s) == "stopped");
  CHECK(child.wait() == 0);
}
