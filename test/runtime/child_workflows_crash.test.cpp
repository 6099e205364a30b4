// SPDX-License-Identifier: Apache-2.0
// Child workflows across SIGKILL: a child process runs a parent with three
// children; the test kills it once two children succeeded and the third
// one's step runs. After the restart no child is started twice, each
// child's work is done once, a child that finished while its parent was
// down is picked up, and the parent's output is right.

#include <doctest/doctest.h>
#include <perdure/perdure.hpp>

#include "perdure/eventlog/records/child.hpp"

#include "child_process.hpp"
#include "temp_dir.hpp"
#include "wait_until.hpp"

#include <algorithm>
#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <string>
#include <thread>
#include <vector>

using namespace perdure;
using namespace std::chrono_literals;
using test::wait_until;

namespace {

// Set in the child process only: the third child's step blocks there.
std::atomic<bool> cc_holds{false};

// The child's work: appends `k` to the file at `path` (its effect), once
// the body is past its hold.
const auto cc_work = step("cc_work", [](std::string path, int k) {
  if (cc_holds && k == 3) {
    std::printf("holding 3\n");
    std::fflush(stdout);
    std::this_thread::sleep_for(60s);
  }
  std::ofstream{path, std::ios::app} << k << '\n';
  return 10 * k;
});

const auto cc_sum = step("cc_sum",
                         [](int a, int b, int c) { return a + b + c; });

workflow<int> parent_flow(const std::string& path) {
  return cc_sum(child(cc_work(path, 1), "cc-p/1"),
                child(cc_work(path, 2), "cc-p/2"),
                child(cc_work(path, 3), "cc-p/3"));
}

std::vector<std::string> effects(const std::string& path) {
  std::vector<std::string> out;
  std::ifstream in{path};
  for (std::string line; std::getline(in, line);)
    out.push_back(line);
  std::sort(out.begin(), out.end());
  return out;
}

std::size_t submissions(engine& eng, const std::string& id) {
  auto recs = eng.event_log()->read(id);
  std::size_t n = 0;
  if (recs)
    for (auto& r : *recs)
      n += r.kind
           == eventlog::to_u16(eventlog::record_kind::workflow_submitted);
  return n;
}

// Runs the parent in a child process and kills it once children 1 and 2
// succeeded (durably) and child 3's step holds.
void run_and_kill(const std::string& storage, const std::string& path) {
  test::child_process proc{"children_run", {storage, path}};
  std::vector<std::string> lines{proc.read_line(), proc.read_line()};
  std::sort(lines.begin(), lines.end());
  REQUIRE(lines == std::vector<std::string>{"children 1 2 done",
                                            "holding 3"});
  proc.kill();
}

void check_after(engine& eng, const std::string& path) {
  CHECK(eng.output<int>("cc-p") == 60);
  auto kids = records::read_children(*eng.event_log(), "cc-p");
  REQUIRE(kids);
  CHECK(kids->size() == 3);
  for (std::string id : {"cc-p/1", "cc-p/2", "cc-p/3"}) {
    CAPTURE(id);
    CHECK(submissions(eng, id) == 1);
    CHECK(eng.status(id) == workflow_status::successful);
  }
  CHECK(effects(path) == std::vector<std::string>{"1", "2", "3"});
}

} // namespace

PERDURE_CHILD_ENTRY("children_run") {
  cc_holds = true;
  engine eng{{.storage = args.at(0)}};
  auto h = eng.run_async(parent_flow(args.at(1)), "cc-p");
  auto done = [&](const char* id) {
    auto st = eng.try_status(id);
    return st && *st == workflow_status::successful;
  };
  if (!wait_until([&] { return done("cc-p/1") && done("cc-p/2"); }))
    std::abort();
  std::printf("children 1 2 done\n");
  std::fflush(stdout);
  std::this_thread::sleep_for(60s);
  return 0;
}

TEST_CASE("a parent killed while its children run resumes without "
          "starting a child twice and takes a child that ended meanwhile") {
  test::temp_dir dir;
  auto storage = (dir / "s").string();
  auto path = (dir / "effects").string();
  run_and_kill(storage, path);
  {
    engine eng{{.storage = storage, .resume_on_open = false}};
    CHECK(eng.status("cc-p") == workflow_status::resumable);
    CHECK(eng.status("cc-p/3") == workflow_status::resumable);
    // The child finishes while its parent is down.
    CHECK(eng.resume<int>("cc-p/3").get() == 30);
    CHECK(eng.status("cc-p") == workflow_status::resumable);
  }
  engine eng{{.storage = storage}}; // resume_on_open resumes the parent
  check_after(eng, path);
}

TEST_CASE("a parent and its running child killed together both resume "
          "and the parent's output is right") {
  test::temp_dir dir;
  auto storage = (dir / "s").string();
  auto path = (dir / "effects").string();
  run_and_kill(storage, path);
  engine eng{{.storage = storage}};
  check_after(eng, path);
}
