// SPDX-License-Identifier: Apache-2.0
// The embedded CLI: an application (embedded_app.cpp) is killed with SIGKILL
// mid-workflow, then `app resume ID` and `app resume-all` finish its
// workflows with its own steps; read commands work through it too.

#include <doctest/doctest.h>

#include "cli_runner.hpp"
#include "temp_dir.hpp"

#include <csignal>
#include <fstream>
#include <map>
#include <thread>

#include <nlohmann/json.hpp>

using nlohmann::json;
namespace test = perdure::test;
using namespace std::chrono_literals;

namespace {

std::map<std::string, int> effects(const std::filesystem::path& file) {
  std::map<std::string, int> runs;
  std::ifstream in{file};
  for (std::string wf, step; in >> wf >> step;)
    ++runs[wf + " " + step];
  return runs;
}

} // namespace

TEST_CASE("an application resumes its crashed workflows through the "
          "embedded CLI: resume ID and resume-all") {
  test::temp_dir dir;
  auto storage = (dir / "storage").string();
  auto effects_file = dir / "effects.txt";
  std::map<std::string, std::string> env{
    {"APP_EFFECTS", effects_file.string()}, {"APP_STEP_MS", "150"}};
  {
    test::cli_process run{APP_PATH, {"run", storage, "wf-a", "wf-b", "wf-c"},
                          env};
    REQUIRE(run.wait_for_out("started"));
    // Kill once some steps ran, long before the 5 x 150 ms chains end.
    for (int i = 0; i < 200 && effects(effects_file).size() < 4; ++i)
      std::this_thread::sleep_for(10ms);
    run.signal(SIGKILL);
    CHECK(run.wait().code == -SIGKILL);
  }
  auto before = effects(effects_file);
  REQUIRE(before.size() >= 3);
  REQUIRE(before.size() < 15);

  // Read commands go to the plain CLI, without opening an engine.
  auto list = test::run_program(APP_PATH, {"--storage", storage, "list",
                                           "--json"});
  REQUIRE_MESSAGE(list.code == 0, list.err);
  auto entries = json::parse(list.out);
  REQUIRE(entries.size() == 3);
  for (auto& e : entries)
    CHECK(e["status"] == "resumable");

  auto one = test::run_program(APP_PATH, {"--storage", storage, "resume",
                                          "wf-a"}, env);
  REQUIRE_MESSAGE(one.code == 0, one.err);
  CHECK(one.out.find("status: successful") != std::string::npos);
  CHECK(one.out.find("output: 5") != std::string::npos);

  auto all = test::run_program(APP_PATH, {"--storage", storage, "--json",
                                          "resume-all"}, env);
  REQUIRE_MESSAGE(all.code == 0, all.err);
  auto resumed = json::parse(all.out);
  REQUIRE(resumed.size() == 2);
  CHECK(resumed[0]["id"] == "wf-b");
  CHECK(resumed[1]["id"] == "wf-c");
  for (auto& r : resumed) {
    CHECK(r["status"] == "successful");
    CHECK(r["output"] == 5);
  }

  // Every step ran; only a step cut off by the kill ran twice (at most
  // one per workflow: the chain runs one step at a time).
  auto after = effects(effects_file);
  CHECK(after.size() == 15);
  std::map<std::string, int> reruns;
  for (auto& [key, n] : after) {
    CHECK(n >= 1);
    CHECK(n <= 2);
    if (n == 2)
      ++reruns[key.substr(0, key.find(' '))];
  }
  for (auto& [wf, n] : reruns)
    CHECK(n == 1);

  // Done: nothing left to resume; a finished id resumes to its output.
  auto none = test::run_program(APP_PATH, {"--storage", storage, "resume-all"},
                                env);
  CHECK(none.code == 0);
  CHECK(none.out.find("nothing to resume") != std::string::npos);
  auto again = test::run_program(APP_PATH, {"--storage", storage, "--json",
                                            "resume", "wf-b"}, env);
  CHECK(again.code == 0);
  CHECK(json::parse(again.out)["output"] == 5);
  CHECK(effects(effects_file) == after);
}

TEST_CASE("the embedded CLI reports unknown ids and bad usage with the "
          "documented exit codes") {
  test::temp_dir dir;
  auto storage = (dir / "storage").string();
  {
    // An empty but existing storage.
    auto r = test::run_program(APP_PATH, {"run", storage, "wf-x"},
                               {{"APP_STEP_MS", "0"}});
    REQUIRE(r.code == 0);
  }
  auto missing = test::run_program(APP_PATH, {"--storage", storage, "resume",
                                              "nope"});
  CHECK(missing.code == 2);
  CHECK(missing.err.find("no workflow 'nope'") != std::string::npos);
  CHECK(test::run_program(APP_PATH, {"--storage", storage, "resume"}).code
        == 1);
  auto help = test::run_program(APP_PATH, {"--help"});
  CHECK(help.code == 0);
  CHECK(help.out.find("resume-all [--include-failed]") != std::string::npos);
  CHECK(help.out.find("history") != std::string::npos);
}
