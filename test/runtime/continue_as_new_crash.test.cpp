// SPDX-License-Identifier: Apache-2.0
// Continue-as-new across SIGKILL: a child process runs a loop of one run
// per number (each run's step appends its number to a file, its effect)
// and is killed once the loop passed 150, wherever it is then (in a
// step, between runs, in a commit). The storage then holds the live run
// only (under 100 records) and the last 10 runs; the run resumes at the
// number it had reached: no earlier number runs again, and only the one
// in flight at the kill may run twice.

#include <doctest/doctest.h>
#include <perdure/perdure.hpp>

#include "perdure/eventlog/records/runs.hpp"

#include "child_process.hpp"
#include "temp_dir.hpp"

#include <cstdio>
#include <fstream>
#include <map>
#include <string>

using namespace perdure;

namespace {

constexpr int cak_limit = 1000;

flow<int> cak_loop_impl(std::string path, int i);
const auto cak_loop = step("cak_loop", cak_loop_impl);
flow<int> cak_loop_impl(std::string path, int i) {
  std::ofstream{path, std::ios::app} << i << '\n';
  if (i == 150) {
    std::printf("at 150\n");
    std::fflush(stdout);
  }
  if (i >= cak_limit)
    return i;
  return continue_as_new(cak_loop(path, i + 1));
}

// How many times each number ran.
std::map<int, int> effects(const std::string& path) {
  std::map<int, int> out;
  std::ifstream in{path};
  for (std::string line; std::getline(in, line);)
    ++out[std::stoi(line)];
  return out;
}

} // namespace

PERDURE_CHILD_ENTRY("continue_loop") {
  engine eng{{.storage = args.at(0)}};
  auto h = eng.run_async(cak_loop(args.at(1), 0), "cak");
  h.get();
  return 0;
}

TEST_CASE("a continue-as-new loop killed mid-run resumes at the run it "
          "reached and never repeats a finished run") {
  test::temp_dir dir;
  auto storage = (dir / "s").string();
  auto path = (dir / "effects").string();
  {
    test::child_process proc{"continue_loop", {storage, path}};
    REQUIRE(proc.read_line() == "at 150");
    proc.kill();
  }
  int reached = 0;
  {
    engine eng{{.storage = storage, .resume_on_open = false}};
    REQUIRE(eng.status("cak") == workflow_status::resumable);
    auto m = eng.metadata("cak");
    reached = m.run_number - 1; // the number of the live run
    CHECK(reached >= 150);
    REQUIRE(reached < cak_limit);
    auto info = eng.event_log()->info("cak").value();
    CHECK(info.last_seq - info.first_seq + 1 < 100);
    auto kept = records::archived_runs(*eng.event_log(), "cak").value();
    REQUIRE(kept.size() == 10);
    CHECK(kept.back() == static_cast<std::uint32_t>(m.run_number - 1));
    auto ran = effects(path);
    for (int i = 0; i < reached; ++i) {
      CAPTURE(i);
      CHECK(ran[i] == 1);
    }
    CHECK(ran[reached] <= 1);
    CHECK(ran.rbegin()->first <= reached);
    CHECK(eng.resume<int>("cak").get() == cak_limit);
    CHECK(eng.metadata("cak").run_number == cak_limit + 1);
  }
  auto ran = effects(path);
  CHECK(ran.size() == static_cast<std::size_t>(cak_limit + 1));
  for (auto [i, times] : ran) {
    CAPTURE(i);
    CHECK(times >= 1);
    CHECK(times <= (i == reached ? 2 : 1));
  }
}
