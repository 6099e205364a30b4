// SPDX-License-Identifier: Apache-2.0
// The CLI on storage written by a real engine: the runtime runs workflows in
// this process, then `perdure` (a subprocess) reads what it wrote.

#include <doctest/doctest.h>
#include <perdure/perdure.hpp>

#include "cli_runner.hpp"
#include "temp_dir.hpp"

#include <atomic>
#include <stdexcept>

#include <nlohmann/json.hpp>

using namespace perdure;
using nlohmann::json;

namespace {

const auto t_value1 = step("get_value1", [] { return 100; });
const auto t_value2 = step("get_value2", [](int x) { return 10 * x; });
const auto t_sum = step("sum", [](int x, int y, int z) { return x + y + z; });

const auto t_add = step("add", [](int a, int b) { return a + b; });
flow<int> fib_impl(int n);
const auto t_fib = step("fib", fib_impl);
flow<int> fib_impl(int n) {
  if (n <= 1)
    return n;
  return t_add(t_fib(n - 1), t_fib(n - 2));
}

std::atomic<int> failures_left{0};
const auto t_flaky = step("flaky", [](int x) {
  if (failures_left.fetch_sub(1) > 0)
    throw std::runtime_error("flaky failure");
  return x;
});

test::cli_result cli(const test::temp_dir& dir, std::vector<std::string> args) {
  args.insert(args.begin(), {"--storage", dir.path().string()});
  return test::run_perdure(args);
}

} // namespace

TEST_CASE("the CLI reads workflows a real engine ran: show, output, "
          "history, graph, verify") {
  test::temp_dir dir;
  {
    engine eng{{.storage = dir.path(),
                .durability = eventlog::durability::process}};
    REQUIRE(eng.run(t_sum(t_value1(), t_value2(10), 100), "sum_example") == 300);
    REQUIRE(eng.run(t_fib(5), "fib5") == 5);
    failures_left = 1;
    REQUIRE(eng.run(t_flaky.options({.max_attempts = 3, .local = true})(7),
                    "retried")
            == 7);
    failures_left = 5;
    CHECK_THROWS(eng.run(t_flaky.options({.max_attempts = 2})(1), "broken"));
  }
  auto out = cli(dir, {"output", "sum_example"});
  REQUIRE_MESSAGE(out.code == 0, out.err);
  CHECK(out.out == "300\n");
  CHECK(cli(dir, {"output", "sum_example", "--step", "get_value2"}).out
        == "100\n");
  CHECK(cli(dir, {"output", "fib5"}).out == "5\n");

  auto list = json::parse(cli(dir, {"list", "--json"}).out);
  REQUIRE(list.size() == 4);
  std::map<std::string, std::string> status;
  for (auto& e : list)
    status[e["id"]] = e["status"];
  CHECK(status["sum_example"] == "successful");
  CHECK(status["broken"] == "failed");

  auto show = json::parse(cli(dir, {"show", "retried", "--json"}).out);
  auto& steps = show["workflow"]["steps"];
  REQUIRE(steps.size() == 1);
  CHECK(steps[0]["status"] == "succeeded");
  CHECK(steps[0]["attempts"] == 2);
  CHECK(steps[0]["max_attempts"] == 3);
  CHECK(steps[0]["local"] == true);
  CHECK(steps[0]["error"] == "std::runtime_error: flaky failure");
  CHECK(steps[0]["error_attempt"] == 1);
  // A failed attempt's error shows, also when a later attempt succeeded.
  auto retried = cli(dir, {"show", "retried"});
  CHECK(retried.out.find("attempt 1 failed: std::runtime_error: flaky "
                         "failure") != std::string::npos);
  CHECK(retried.out.find("flaky (local)") != std::string::npos);

  auto broken = cli(dir, {"show", "broken"});
  CHECK(broken.out.find("flaky failure") != std::string::npos);
  CHECK(broken.out.find("2/2") != std::string::npos);
  CHECK(broken.out.find("(local)") == std::string::npos);

  auto fib = json::parse(cli(dir, {"show", "fib5", "--json"}).out);
  CHECK(fib["workflow"]["steps"].size() > 5);
  for (auto& s : fib["workflow"]["steps"])
    CHECK(s["status"] == "succeeded");

  auto hist = json::parse(cli(dir, {"history", "sum_example", "--json"}).out);
  REQUIRE(!hist.empty());
  CHECK(hist[0]["kind_name"] == "workflow_submitted");
  CHECK(hist.back()["kind_name"] == "workflow_succeeded");
  bool saw_output = false;
  for (auto& r : hist)
    if (r["kind_name"] == "step_succeeded" && r["payload"]["output"] == 300)
      saw_output = true;
  CHECK(saw_output);

  auto svg = cli(dir, {"graph", "fib5", "--format", "svg"});
  REQUIRE_MESSAGE(svg.code == 0, svg.err);
  CHECK(svg.out.find("<svg") != std::string::npos);
  CHECK(svg.out.find("</svg>") != std::string::npos);
  CHECK(cli(dir, {"verify"}).code == 0);
}
