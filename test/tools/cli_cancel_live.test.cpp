// SPDX-License-Identifier: Apache-2.0
// `perdure cancel` from another process while an engine runs the workflow:
// the engine notices (on its next write, or by its periodic check while a
// step runs), stops the workflow, and its remaining steps never run. Side
// effects are counted in a file outside the engine.

#include <doctest/doctest.h>
#include <perdure/perdure.hpp>

#include "child_process.hpp"
#include "cli_runner.hpp"
#include "temp_dir.hpp"

#include <chrono>
#include <cstdio>
#include <fcntl.h>
#include <fstream>
#include <thread>
#include <unistd.h>

#include <nlohmann/json.hpp>

using namespace perdure;
using namespace std::chrono_literals;
using nlohmann::json;

namespace {

std::string effects_file;

// Appends this step's id to the effects file; returns how many lines the
// file holds then.
std::size_t record_effect() {
  auto line = this_step::step_id() + "\n";
  int fd = ::open(effects_file.c_str(), O_WRONLY | O_APPEND | O_CREAT, 0644);
  if (fd >= 0) {
    (void) !::write(fd, line.data(), line.size());
    ::close(fd);
  }
  std::ifstream in{effects_file};
  std::size_t n = 0;
  for (std::string s; in >> s;)
    ++n;
  return n;
}

// The test's go-ahead for the n-th step: a file it creates.
std::string go_file(std::size_t n) {
  return effects_file + ".go" + std::to_string(n);
}

// A step of a slow chain: records that it ran, then holds until the test
// lets it end (or two minutes pass), so the test decides where a cancel
// lands, whatever the machine's speed.
const auto x_slow = step("x_slow", [](int x) {
  auto path = go_file(record_effect());
  auto end = std::chrono::steady_clock::now() + 120s;
  while (::access(path.c_str(), F_OK) != 0
         && std::chrono::steady_clock::now() < end)
    std::this_thread::sleep_for(2ms);
  return x + 1;
});

// A long step (10 minutes) that stops early when its workflow is canceled.
const auto x_long = step("x_long", [](int x) {
  record_effect();
  for (int i = 0; i < 6000 && !this_step::canceled(); ++i)
    std::this_thread::sleep_for(100ms);
  return x + 1;
});

workflow<int> chain_of(const step_handle<int, int>& first, int n) {
  auto w = first(0);
  for (int k = 1; k < n; ++k)
    w = x_slow(w);
  return w;
}

std::vector<std::string> effects() {
  std::vector<std::string> out;
  std::ifstream in{effects_file};
  for (std::string s; in >> s;)
    out.push_back(s);
  return out;
}

bool wait_for_effects(std::size_t n, std::chrono::seconds limit = 20s) {
  auto end = std::chrono::steady_clock::now() + limit;
  while (effects().size() < n) {
    if (std::chrono::steady_clock::now() > end)
      return false;
    std::this_thread::sleep_for(20ms);
  }
  return true;
}

} // namespace

// args: storage, effects file, "slow" or "long". Prints "started", then how
// the run ended and the status the engine reports.
PERDURE_CHILD_ENTRY("cancel_target") {
  effects_file = args.at(1);
  engine eng{{.storage = args.at(0),
              .durability = eventlog::durability::process,
              .external_cancel_check = 100ms}};
  auto first = args.at(2) == "slow" ? x_slow : x_long;
  auto h = eng.run_async(chain_of(first, 6), "victim");
  std::printf("started\n");
  std::fflush(stdout);
  auto t0 = std::chrono::steady_clock::now();
  auto r = h.try_get();
  auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(
              std::chrono::steady_clock::now() - t0)
              .count();
  std::printf("%s %lld\n",
              r ? "ok" : std::string{to_string(r.error().code())}.c_str(),
              static_cast<long long>(ms));
  std::printf("%s\n", std::string{to_string(eng.status("victim"))}.c_str());
  std::fflush(stdout);
  return 0;
}

namespace {

// After the cancel: the history holds no step record after the CLI's
// workflow_canceled record, and the status is canceled.
void check_history_ends_canceled(const test::temp_dir& dir) {
  auto hist = test::run_perdure(
    {"--storage", (dir / "storage").string(), "history", "victim", "--json"});
  REQUIRE_MESSAGE(hist.code == 0, hist.err);
  auto recs = json::parse(hist.out);
  REQUIRE(!recs.empty());
  CHECK(recs.back()["kind_name"] == "workflow_canceled");
  int canceled = 0;
  for (auto& r : recs)
    canceled += r["kind_name"] == "workflow_canceled";
  CHECK(canceled == 1);
  auto list = json::parse(
    test::run_perdure({"--storage", (dir / "storage").string(), "list",
                       "--json"})
      .out);
  REQUIRE(list.size() == 1);
  CHECK(list[0]["status"] == "canceled");
}

} // namespace

TEST_CASE("a CLI cancel from another process stops a running workflow at "
          "its next write, and later steps never run") {
  test::temp_dir dir;
  effects_file = (dir / "effects.txt").string();
  test::child_process child{
    "cancel_target", {(dir / "storage").string(), effects_file, "slow"}};
  REQUIRE(child.read_line() == "started");
  // Cancel while the second step runs, and only then let it end.
  REQUIRE(wait_for_effects(1));
  std::ofstream{go_file(1)};
  REQUIRE(wait_for_effects(2));
  auto out = test::run_perdure(
    {"--storage", (dir / "storage").string(), "cancel", "victim"});
  REQUIRE_MESSAGE(out.code == 0, out.err);
  CHECK(out.out.find("canceled workflow 'victim' (was running") == 0);
  std::ofstream{go_file(2)};
  auto ended = child.read_line();
  CHECK(ended.starts_with("canceled "));
  CHECK(child.read_line() == "canceled");
  CHECK(child.wait() == 0);
  // The step running at the cancel may finish; none starts after it.
  CHECK(effects().size() == 2);
  check_history_ends_canceled(dir);
}

TEST_CASE("a workflow idle in a long step notices a CLI cancel by its "
          "periodic check and ends canceled at once") {
  test::temp_dir dir;
  effects_file = (dir / "effects.txt").string();
  test::child_process child{
    "cancel_target", {(dir / "storage").string(), effects_file, "long"}};
  REQUIRE(child.read_line() == "started");
  REQUIRE(wait_for_effects(1)); // x_long runs (for up to 10 minutes)
  auto out = test::run_perdure(
    {"--storage", (dir / "storage").string(), "cancel", "victim"});
  REQUIRE_MESSAGE(out.code == 0, out.err);
  // The long step saw its token: only then can the run end before its
  // 10 minutes, and so within this read's deadline.
  auto ended = child.read_line(120s);
  REQUIRE(ended.starts_with("canceled "));
  auto ms = std::stoll(ended.substr(9));
  MESSAGE("run ended " << ms << " ms after it started");
  CHECK(child.read_line() == "canceled");
  CHECK(child.wait() == 0);
  CHECK(effects() == std::vector<std::string>{"x_long"});
  check_history_ends_canceled(dir);
}
