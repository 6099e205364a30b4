// SPDX-License-Identifier: Apache-2.0
// `perdure schedule list|pause|resume|delete` on schedules a real engine
// stored; a pause from the CLI stops a running engine's ticks.

#include <doctest/doctest.h>
#include <perdure/perdure.hpp>

#include "perdure/runtime/schedule.hpp"

#include "cli_runner.hpp"
#include "temp_dir.hpp"
#include "wait_until.hpp"

#include <nlohmann/json.hpp>

using namespace perdure;
using json = nlohmann::json;

namespace {

const auto cs_noop = step("cs_noop", [](int x) { return x; });

std::size_t runs_of(engine& eng) {
  std::size_t n = 0;
  for (auto& w : eng.list())
    n += w.id.rfind("nightly/", 0) == 0;
  return n;
}

} // namespace

TEST_CASE("schedule list, pause, resume and delete from the CLI") {
  test::temp_dir dir;
  auto storage = dir.path().string();
  auto cli = [&](std::vector<std::string> args) {
    args.insert(args.begin(), {"--storage", storage});
    return test::run_perdure(args);
  };
  engine eng{{.storage = dir.path()}};
  schedule<int>(eng, "nightly", "every 50ms",
                [](auto) { return cs_noop(1); }, {.missed = catch_up::skip});
  REQUIRE(test::wait_until([&] { return runs_of(eng) >= 1; }));
  auto list = cli({"--json", "schedule", "list"});
  REQUIRE_MESSAGE(list.code == 0, list.err);
  auto j = json::parse(list.out);
  REQUIRE(j.size() == 1);
  CHECK(j[0]["name"] == "nightly");
  CHECK(j[0]["spec"] == "every 50ms");
  CHECK(j[0]["catch_up"] == "skip");
  CHECK(j[0]["paused"] == false);
  CHECK(j[0]["last_tick"].is_string());

  // Paused beside the running engine: at most the tick in flight runs.
  auto p = cli({"schedule", "pause", "nightly"});
  REQUIRE_MESSAGE(p.code == 0, p.err);
  CHECK(p.out == "schedule 'nightly' paused\n");
  auto at_pause = runs_of(eng);
  auto paused = json::parse(cli({"--json", "schedule", "list"}).out);
  CHECK(paused[0]["paused"] == true);
  auto text = cli({"schedule", "list"});
  CHECK(text.out.find("paused") != std::string::npos);
  REQUIRE(cli({"schedule", "resume", "nightly"}).code == 0);
  REQUIRE(test::wait_until([&] { return runs_of(eng) > at_pause + 1; }));

  CHECK(cli({"schedule", "pause", "nope"}).code == 2);
  CHECK(cli({"schedule", "delete", "nope"}).code == 2);
  auto d = cli({"schedule", "delete", "nightly"});
  REQUIRE_MESSAGE(d.code == 0, d.err);
  auto after = cli({"--json", "schedule", "list"});
  REQUIRE_MESSAGE(after.code == 0, after.err);
  CHECK(json::parse(after.out).empty());
  CHECK(cli({"schedule", "list"}).out == "no schedules\n");
}
