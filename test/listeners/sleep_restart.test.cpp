// SPDX-License-Identifier: Apache-2.0
// The restart scenario: 200 workflows sleeping 5 s; the process is
// killed and restarted; all complete at their original due time (not a
// new sleep from the restart), none lost, none run twice. How late they
// fire is a figure of `perdure-bench timers`, not a check here.

#include "perdure/listeners/events.hpp"
#include "perdure/runtime/engine.hpp"

#include "child_process.hpp"
#include "temp_dir.hpp"

#include <doctest/doctest.h>

#include <atomic>
#include <csignal>
#include <cstdio>
#include <fstream>
#include <thread>

using namespace perdure;
using namespace std::chrono_literals;

namespace {

constexpr int count = 200;
std::string effects_file;

// Appends one line per run of the step after the sleep (side-effect count).
const auto after_sleep = step("slow_after_sleep", [](timer_event e) {
  std::ofstream{effects_file, std::ios::app}
    << perdure::this_step::workflow_id() << "\n";
  return e;
});

} // namespace

PERDURE_CHILD_ENTRY("sleepers") {
  effects_file = args.at(1);
  engine eng{{.storage = args.at(0)}};
  for (int i = 0; i < count; ++i)
    eng.run_async(after_sleep(sleep(5s)), "sleeper" + std::to_string(i));
  while (eng.event_log()->timers_due(INT64_MAX).value().size() < count)
    std::this_thread::sleep_for(5ms);
  std::printf("sleeping\n");
  std::fflush(stdout);
  // Stopped until the SIGKILL: no sleep can fire here however late the
  // test reads the line.
  ::raise(SIGSTOP);
  std::this_thread::sleep_for(60s);
  return 0;
}

TEST_CASE("200 workflows sleeping 5 s survive a SIGKILL and complete on "
          "time, once") {
  test::temp_dir dir;
  auto storage = (dir / "storage").string();
  effects_file = (dir / "effects.txt").string();
  std::int64_t armed_by = 0; // every sleep was armed before this (ns)
  {
    test::child_process child{"sleepers", {storage, effects_file}};
    REQUIRE(child.read_line() == "sleeping");
    armed_by = std::chrono::duration_cast<std::chrono::nanoseconds>(
                 std::chrono::system_clock::now().time_since_epoch())
                 .count();
    child.kill();
  }
  engine eng{{.storage = storage, .resume_on_open = false}};
  CHECK(eng.resume_all().size() == count);
  std::int64_t worst = 0;
  for (int i = 0; i < count; ++i) {
    auto e = eng.output<timer_event>("sleeper" + std::to_string(i));
    CHECK(e.fired >= e.due);
    // The due time logged before the kill holds: a sleep armed again at the
    // restart would be due 5 s after it, past this bound.
    CHECK(e.due <= armed_by + 5'000'000'000);
    worst = std::max(worst, e.fired - e.due);
  }
  MESSAGE("worst lateness: " << worst / 1000 << " us");
  std::ifstream in{effects_file};
  std::map<std::string, int> runs;
  for (std::string line; std::getline(in, line);)
    ++runs[line];
  CHECK(runs.size() == count);
  for (auto& [id, n] : runs)
    CHECK_MESSAGE(n == 1, id);
}
