// SPDX-License-Identifier: Apache-2.0
// The crash test: a child process runs 20 workflows whose steps record each
// execution in a file outside the engine; the test kills it with SIGKILL
// mid-flight, resumes on the same storage and checks exact outputs and that
// every step whose success was logged ran exactly once.

#include <doctest/doctest.h>
#include <perdure/perdure.hpp>

#include "child_process.hpp"
#include "effects_file.hpp"
#include "temp_dir.hpp"
#include "wait_until.hpp"

#include <chrono>
#include <cstdio>
#include <fstream>
#include <map>
#include <set>
#include <thread>

using namespace perdure;
using namespace std::chrono_literals;

namespace {

std::string effects_file;
// Set in the child: the last step of every even-numbered workflow waits
// there until the kill, so whatever the machine's speed some workflows
// are mid-flight when it lands.
bool gate_last_steps = false;

constexpr int chain = 5;

bool gated(int k) {
  if (!gate_last_steps || k != chain)
    return false;
  auto& id = this_step::workflow_id();
  return (id.back() - '0') % 2 == 0;
}

const auto c_add = step("c_add", [](int x, int k) {
  while (gated(k))
    std::this_thread::sleep_for(1ms);
  // The side effect: one line per execution, durable before the step ends.
  test::append_durably(effects_file, this_step::workflow_id() + " "
                                       + this_step::step_id() + "\n");
  std::this_thread::sleep_for(2ms);
  return x + k;
});

constexpr int workflows = 20;

workflow<int> chain_of(int i) {
  auto w = c_add(i, 1);
  for (int k = 2; k <= chain; ++k)
    w = c_add(w, k);
  return w;
}

std::size_t effect_lines() {
  std::ifstream in{effects_file};
  std::size_t n = 0;
  for (std::string line; std::getline(in, line);)
    ++n;
  return n;
}

std::string wf_id(int i) {
  return "crash" + std::to_string(i);
}

} // namespace

PERDURE_CHILD_ENTRY("wf_crash") {
  effects_file = args.at(1);
  gate_last_steps = true;
  // Room for every gated step and the others beside them.
  engine eng{{.storage = args.at(0), .capacity = {.cpus = 2 * workflows}}};
  std::vector<handle<int>> hs;
  for (int i = 0; i < workflows; ++i)
    hs.push_back(eng.run_async(chain_of(i), wf_id(i)));
  std::printf("started\n");
  std::fflush(stdout);
  for (auto& h : hs)
    h.wait();
  std::printf("finished\n");
  std::fflush(stdout);
  std::this_thread::sleep_for(60s);
  return 0;
}

TEST_CASE("after SIGKILL every workflow resumes and no logged step reruns") {
  test::temp_dir dir;
  auto storage = dir / "storage";
  effects_file = (dir / "effects.txt").string();
  {
    test::child_process child{"wf_crash", {storage.string(), effects_file}};
    REQUIRE(child.read_line() == "started");
    // Killed on observed progress: half of the steps that can run did.
    REQUIRE(test::wait_until([] { return effect_lines() >= 45; }));
    child.kill();
  }
  // Resumed by hand below, after looking at what the kill left.
  engine eng{{.storage = storage, .resume_on_open = false}};
  // Which step successes made it to the log before the kill.
  std::set<std::string> logged;
  std::size_t resumable = 0;
  for (int i = 0; i < workflows; ++i) {
    auto st = eng.status(wf_id(i));
    if (st == workflow_status::resumable)
      ++resumable;
    else
      CHECK(st == workflow_status::successful);
    for (int k = 0; k < chain; ++k) {
      auto sid = k == 0 ? std::string{"c_add"} : "c_add_" + std::to_string(k);
      auto m = eng.try_metadata(wf_id(i), sid);
      if (m && m->state == step_state::succeeded)
        logged.insert(wf_id(i) + " " + sid);
    }
  }
  MESSAGE("resumable after the kill: " << resumable << ", logged steps: "
                                       << logged.size());
  CHECK(resumable >= workflows / 2); // at least the gated ones
  auto ids = eng.resume_all();
  CHECK(ids.size() == resumable);
  for (int i = 0; i < workflows; ++i)
    CHECK(eng.output<int>(wf_id(i)) == i + chain * (chain + 1) / 2);
  std::map<std::string, int> runs;
  std::ifstream in{effects_file};
  for (std::string wf, sid; in >> wf >> sid;)
    ++runs[wf + " " + sid];
  CHECK(runs.size() == workflows * chain);
  for (auto& key : logged) {
    INFO(key);
    CHECK(runs[key] == 1);
  }
  for (auto& [key, n] : runs) {
    INFO(key);
    CHECK(n >= 1);
    CHECK(n <= 2);
  }
}
