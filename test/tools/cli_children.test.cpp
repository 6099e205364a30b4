// SPDX-License-Identifier: Apache-2.0
// Child workflows in the CLI: `perdure show` lists a workflow's children
// and its parent (text and --json), and `perdure cancel` of a parent
// cancels its running children.

#include <doctest/doctest.h>
#include <perdure/perdure.hpp>

#include "child_process.hpp"
#include "cli_runner.hpp"
#include "temp_dir.hpp"
#include "wait_until.hpp"

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <thread>
#include <vector>

#include <nlohmann/json.hpp>

using namespace perdure;
using namespace std::chrono_literals;
using nlohmann::json;

namespace {

const auto clc_inc = step("clc_inc", [](int x) { return x + 1; });

const auto clc_hold = step("clc_hold", [](int x) {
  std::printf("holding\n");
  std::fflush(stdout);
  std::this_thread::sleep_for(60s);
  return x;
});

} // namespace

// args: storage. Runs a parent whose child holds; killed by the test.
PERDURE_CHILD_ENTRY("children_hold") {
  engine eng{{.storage = args.at(0)}};
  auto h = eng.run_async(clc_inc(child(clc_hold(1), "clc-h/kid")), "clc-h");
  std::this_thread::sleep_for(60s);
  return 0;
}

TEST_CASE("perdure show lists a workflow's children and its parent") {
  test::temp_dir dir;
  auto storage = (dir / "storage").string();
  {
    engine eng{{.storage = storage}};
    CHECK(eng.run(clc_inc(clc_inc(child(clc_inc(1), "clc-p/a"))), "clc-p")
          == 4);
  }
  auto show = [&](std::vector<std::string> a) {
    a.insert(a.begin(), {"--storage", storage, "show"});
    return test::run_perdure(a);
  };
  auto p = show({"clc-p", "--json"});
  REQUIRE_MESSAGE(p.code == 0, p.err);
  auto pj = json::parse(p.out)["workflow"];
  CHECK(pj["parent"].is_null());
  REQUIRE(pj["children"].size() == 1);
  CHECK(pj["children"][0]["id"] == "clc-p/a");
  CHECK(pj["children"][0]["step"] == "child:clc-p/a");
  CHECK(pj["children"][0]["status"] == "successful");
  auto c = show({"clc-p/a", "--json"});
  REQUIRE_MESSAGE(c.code == 0, c.err);
  auto cj = json::parse(c.out)["workflow"];
  CHECK(cj["parent"]["id"] == "clc-p");
  CHECK(cj["parent"]["step"] == "child:clc-p/a");
  CHECK(cj["children"].empty());

  auto pt = show({"clc-p"});
  REQUIRE_MESSAGE(pt.code == 0, pt.err);
  CHECK(pt.out.find("clc-p/a (successful)") != std::string::npos);
  auto ct = show({"clc-p/a"});
  REQUIRE_MESSAGE(ct.code == 0, ct.err);
  CHECK(ct.out.find("clc-p (step child:clc-p/a)") != std::string::npos);
}

TEST_CASE("perdure cancel of a parent cancels its running children") {
  test::temp_dir dir;
  auto storage = (dir / "storage").string();
  {
    test::child_process proc{"children_hold", {storage}};
    REQUIRE(proc.read_line() == "holding");
    proc.kill(); // both stay stored as running
  }
  auto r = test::run_perdure({"--storage", storage, "cancel", "clc-h"});
  REQUIRE_MESSAGE(r.code == 0, r.err);
  CHECK(r.out.find("canceled child workflow 'clc-h/kid'")
        != std::string::npos);
  engine eng{{.storage = storage, .resume_on_open = false}};
  CHECK(eng.status("clc-h") == workflow_status::canceled);
  CHECK(eng.status("clc-h/kid") == workflow_status::canceled);
}
