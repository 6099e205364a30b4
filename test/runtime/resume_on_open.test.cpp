// SPDX-License-Identifier: Apache-2.0
// engine_options::resume_on_open: a process killed with SIGKILL mid-chain
// comes back by a plain reopen, without a resume call; resume(id) and
// run_async(wf, id) then return the run the open resumed; with the option
// off the workflow waits for a resume.

#include <doctest/doctest.h>
#include <perdure/perdure.hpp>

#include "child_process.hpp"
#include "temp_dir.hpp"
#include "wait_until.hpp"

#include <atomic>
#include <cstdio>
#include <thread>

using namespace perdure;
using namespace std::chrono_literals;
using test::wait_until;

namespace {

// Blocks in the child only, once the chain is half done.
std::atomic<bool> roo_block{false};

const auto roo_add = step("roo_add", [](int x, int k) {
  if (roo_block && k == 3) {
    std::printf("blocked\n");
    std::fflush(stdout);
    std::this_thread::sleep_for(60s);
  }
  return x + k;
});

workflow<int> roo_chain() {
  auto w = roo_add(0, 1);
  for (int k = 2; k <= 5; ++k)
    w = roo_add(w, k);
  return w;
}

// Runs "a" and "b" into step 3 of their chains in a child, then kills it.
void crash_midway(const std::string& storage) {
  test::child_process child{"roo_crash", {storage}};
  REQUIRE(child.read_line() == "blocked");
  REQUIRE(child.read_line() == "blocked");
  child.kill();
}

} // namespace

PERDURE_CHILD_ENTRY("roo_crash") {
  roo_block = true;
  engine eng{{.storage = args.at(0)}};
  auto a = eng.run_async(roo_chain(), "a");
  auto b = eng.run_async(roo_chain(), "b");
  std::this_thread::sleep_for(60s);
  return 0;
}

TEST_CASE("after a SIGKILL a plain reopen finishes the running workflows "
          "without a resume call") {
  test::temp_dir dir;
  auto storage = (dir / "s").string();
  crash_midway(storage);
  engine eng{{.storage = storage}};
  // output() blocks while a workflow is live: the open resumed both.
  CHECK(eng.output<int>("a") == 15);
  CHECK(eng.output<int>("b") == 15);
  CHECK(eng.status("a") == workflow_status::successful);
}

TEST_CASE("resume and run_async of a workflow the open resumed return its "
          "run") {
  test::temp_dir dir;
  auto storage = (dir / "s").string();
  crash_midway(storage);
  engine eng{{.storage = storage}};
  auto ha = eng.resume<int>("a");
  auto hb = eng.run_async(roo_chain(), "b");
  CHECK(ha.get() == 15);
  CHECK(hb.get() == 15);
  // Another live id is still busy.
  auto x = eng.run_async(roo_chain(), "x");
  auto again = eng.try_run_async(roo_chain(), "x");
  CHECK((again || again.error() == errc::busy));
  CHECK(x.get() == 15);
}

TEST_CASE("with resume_on_open off a crashed workflow stays resumable until "
          "resumed") {
  test::temp_dir dir;
  auto storage = (dir / "s").string();
  crash_midway(storage);
  engine eng{{.storage = storage, .resume_on_open = false}};
  CHECK(eng.status("a") == workflow_status::resumable);
  CHECK(eng.status("b") == workflow_status::resumable);
  CHECK(eng.resume<int>("a").get() == 15);
  CHECK(eng.status("b") == workflow_status::resumable);
}
