// SPDX-License-Identifier: Apache-2.0
// `perdure signal ID NAME JSON` from another process while an engine runs
// the waiting workflow: JSON values decode as the waits' types (a struct,
// an int, a string, a vector), the history shows them, and signals to
// unknown or finished workflows are refused.

#include <doctest/doctest.h>
#include <perdure/perdure.hpp>

#include "child_process.hpp"
#include "cli_child.hpp"
#include "cli_runner.hpp"
#include "temp_dir.hpp"

#include <chrono>
#include <cstdio>
#include <string>
#include <thread>
#include <vector>

#include <nlohmann/json.hpp>

using namespace perdure;
using namespace std::chrono_literals;
using nlohmann::json;

namespace {

struct verdict {
  std::string by;
  bool ok = false;
};
PERDURE_FIELDS(verdict, by, ok)

const auto cs_sum = step("cs_sum", [](verdict v, int n, std::string s,
                                      std::vector<int> xs) -> std::string {
  int total = 0;
  for (int x : xs)
    total += x;
  return v.by + (v.ok ? " true " : " false ") + std::to_string(n) + " "
         + s + " " + std::to_string(total);
});

} // namespace

// args: storage. Prints "started", then the workflow's output.
PERDURE_CHILD_ENTRY("signal_target") {
  engine eng{{.storage = args.at(0), .external_cancel_check = 50ms}};
  auto h = eng.run_async(cs_sum(wait_for_signal<verdict>("approve"),
                                wait_for_signal<int>("n"),
                                wait_for_signal<std::string>("s"),
                                wait_for_signal<std::vector<int>>("xs")),
                         "sigwf");
  return test::announce_and_report(eng, h, "sigwf");
}

TEST_CASE("perdure signal wakes waits of several types in a running engine "
          "and the history shows the signals") {
  test::temp_dir dir;
  auto storage = (dir / "storage").string();
  test::child_process child{"signal_target", {storage}};
  REQUIRE(child.read_line() == "started");
  auto send = [&](const char* name, const char* value) {
    auto out = test::run_perdure(
      {"--storage", storage, "signal", "sigwf", name, value});
    REQUIRE_MESSAGE(out.code == 0, out.err);
    CHECK(out.out.find("sent signal '") == 0);
  };
  send("approve", R"({"by":"ann","ok":true})");
  send("n", "42");
  send("s", R"("yes")");
  send("xs", "[1,2,3]");
  CHECK(child.read_line() == "ann true 42 yes 6");
  CHECK(child.wait() == 0);

  auto hist = test::run_perdure(
    {"--storage", storage, "history", "sigwf", "--json"});
  REQUIRE_MESSAGE(hist.code == 0, hist.err);
  bool seen = false;
  for (auto& r : json::parse(hist.out))
    if (r["kind_name"] == "event_received"
        && r["payload"]["id"] == "signal:approve") {
      seen = true;
      CHECK(r["payload"]["output"]["by"] == "ann");
    }
  CHECK(seen);
  auto sigs = test::run_perdure(
    {"--storage", storage, "history", "signals/sigwf", "--json"});
  REQUIRE_MESSAGE(sigs.code == 0, sigs.err);
  auto recs = json::parse(sigs.out);
  REQUIRE(recs.size() == 4);
  CHECK(recs[0]["kind_name"] == "signal_sent");
  CHECK(recs[0]["payload"]["sender"] == "cli");
  CHECK(recs[1]["payload"]["value"] == 42);

  // Finished now: refused, nothing stored.
  auto late = test::run_perdure(
    {"--storage", storage, "signal", "sigwf", "n", "1"});
  CHECK(late.code == 5);
  CHECK(late.err.find("already finished (successful)") != std::string::npos);
  auto unknown = test::run_perdure(
    {"--storage", storage, "signal", "nobody", "n", "1"});
  CHECK(unknown.code == 2);
  auto bad = test::run_perdure(
    {"--storage", storage, "signal", "sigwf", "n", "yes"});
  CHECK(bad.code == 1);
  CHECK(bad.err.find("is not JSON") != std::string::npos);
  sigs = test::run_perdure(
    {"--storage", storage, "history", "signals/sigwf", "--json"});
  CHECK(json::parse(sigs.out).size() == 4);

  // Deleting the workflow deletes its signals (a reused id starts afresh).
  auto del = test::run_perdure({"--storage", storage, "delete", "sigwf"});
  REQUIRE_MESSAGE(del.code == 0, del.err);
  sigs = test::run_perdure(
    {"--storage", storage, "history", "signals/sigwf", "--json"});
  CHECK(sigs.code == 2);
}
