// SPDX-License-Identifier: Apache-2.0
// Engine shutdown when user code touched the actor system from a step-pool
// thread: the engine must still stop. engine::close() returns the storage's
// final status.

#include <doctest/doctest.h>
#include <perdure/perdure.hpp>

#include "child_process.hpp"
#include "temp_dir.hpp"
#include "wait_until.hpp"

#include <sys/resource.h>

#include <chrono>
#include <csignal>
#include <cstdio>
#include <mutex>
#include <string>
#include <vector>

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

// Runs a workflow, then lowers the file-size limit below what the final
// checkpoint writes (the other journal file's zeroed head) and closes.
PERDURE_CHILD_ENTRY("wf_close_past_limit") {
  engine eng{{.storage = args.at(0)}};
  std::printf("output %d\n", eng.run(s_child(1), "one"));
  std::fflush(stdout);
  std::signal(SIGXFSZ, SIG_IGN);
  rlimit lim{128 << 10, 128 << 10};
  ::setrlimit(RLIMIT_FSIZE, &lim);
  auto st = eng.close();
  std::printf("closed %s\n", st.to_string().c_str());
  std::printf("again %s\n", eng.close().to_string().c_str());
  auto s = eng.try_status("one");
  std::printf("status %s\n", s ? to_string(*s).data() : "?");
  return 0;
}

TEST_CASE("close returns the final checkpoint's failure with its code") {
  test::temp_dir dir;
  test::child_process child{"wf_close_past_limit", {dir.path().string()}};
  CHECK(child.read_line(20s) == "output 2");
  auto closed = child.read_line(20s);
  CHECK(closed.starts_with("closed full: "));
  CHECK(closed.find("journal-1") != std::string::npos);
  CHECK(child.read_line(20s) == "again " + closed.substr(7));
  CHECK(child.read_line(20s) == "status successful");
  CHECK(child.wait() == 0);
  // Nothing acknowledged was lost.
  engine eng{{.storage = dir.path()}};
  CHECK(eng.try_status("one").value() == workflow_status::successful);
}

TEST_CASE("close returns ok, stops new work and keeps reads") {
  test::temp_dir dir;
  engine eng{{.storage = dir.path()}};
  CHECK(eng.run(s_child(1), "one") == 2);
  CHECK(eng.close());
  CHECK(eng.close());
  CHECK(eng.try_status("one").value() == workflow_status::successful);
  auto late = eng.try_run(s_child(2), "two");
  REQUIRE_FALSE(late);
  CHECK(late.error() == errc::closed);
}

namespace {

const auto s_after_signal = step("s_after_signal", [](int v) { return v + 1; });
const auto s_awaiting = step("s_awaiting", [](int) -> flow<int> {
  return s_after_signal(wait_for_signal<int>("go"));
});

} // namespace

// A deploy's restart of an engine holding many waiting workflows: stopping
// them outlasts a short grace time, which is for step bodies, not for runs
// that end as soon as they are asked. None is reported as not ending, and
// every one resumes with the next engine.
TEST_CASE("close stops many waiting workflows past the grace time and "
          "warns of none") {
  constexpr int n = 5000;
  test::temp_dir dir;
  std::vector<std::string> warnings;
  std::mutex mu;
  {
    engine eng{{.storage = dir.path(),
                .log = [&](eventlog::log_level l, std::string_view m) {
                  std::lock_guard guard{mu};
                  if (l >= eventlog::log_level::warning)
                    warnings.emplace_back(m);
                },
                .stop_timeout = 1ms}};
    for (int i = 0; i < n; ++i)
      eng.run_async(s_awaiting(i), "wait-" + std::to_string(i));
    auto& ready =
      eng.metrics().get_gauge("perdure_signal_waits_ready", "", {});
    REQUIRE(test::wait_until([&] { return ready.value() == n; }, 120s));
    CHECK(eng.close());
  }
  {
    std::lock_guard guard{mu};
    for (auto& w : warnings)
      CHECK_MESSAGE(w.find("did not end") == std::string::npos, w);
  }
  engine eng{{.storage = dir.path()}};
  CHECK(eng.list({workflow_status::running}).size() == n);
  for (int i : {0, n / 2, n - 1}) {
    auto id = "wait-" + std::to_string(i);
    eng.signal(id, "go", i);
    CHECK(eng.resume<int>(id).get() == i + 1);
  }
}
