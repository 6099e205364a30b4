// Engine shutdown when user code touched the actor system from a step-pool
// thread: the engine must still stop.

#include <doctest/doctest.h>
#include <perdure/perdure.hpp>

#include "child_process.hpp"
#include "temp_dir.hpp"

#include <chrono>
#include <cstdio>
#include <string>

using namespace perdure;
using namespace std::chrono_literals;

namespace {

engine* outer_engine = nullptr;

const auto s_child = step("s_child", [](int x) { return x + 1; });

// Starts a workflow from inside a step body, i.e. from a step-pool thread.
const auto s_spawner = step("s_spawner", [](int x) {
  return outer_engine->run_async(s_child(x), "child-" + std::to_string(x)).get();
});

} // namespace

// Runs a workflow whose step runs another workflow, destroys the engine and
// prints "stopped" once the destructor returned.
PERDURE_CHILD_ENTRY("wf_nested_shutdown") {
  {
    engine eng{{.storage = args.at(0)}};
    outer_engine = &eng;
    std::printf("output %d\n", eng.run(s_spawner(41), "spawner"));
    outer_engine = nullptr;
  }
  std::printf("stopped\n");
  return 0;
}

TEST_CASE("an engine stops after a step body started another workflow") {
  test::temp_dir dir;
  test::child_process child{"wf_nested_shutdown", {dir.path().string()}};
  CHECK(child.read_line(20s) == "output 42");
  // A hang in ~engine leaves this line out; the child is then killed.
  CHECK(child.read_line(20s) == "stopped");
  child.kill();
}
