// SPDX-License-Identifier: Apache-2.0
// `perdure promise complete|reject ID ...` from another process while an
// engine runs the waiting workflow: the value decodes as the wait's type,
// a second settlement is refused, and so are unknown ids.

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

#include <nlohmann/json.hpp>

using namespace perdure;
using namespace std::chrono_literals;
using nlohmann::json;

namespace {

struct payment {
  std::string psp;
  int cents = 0;
};
PERDURE_FIELDS(payment, psp, cents)

const auto cp_hand = step("cp_hand", [] {
  return this_step::promise_id("paid");
});

const auto cp_done = step("cp_done", [](std::string id, payment p,
                                        caught<int> refund) {
  return id + " " + p.psp + " " + std::to_string(p.cents) + " "
         + (refund.ok() ? "refunded" : refund.error());
});

} // namespace

// args: storage. Prints the promise id, then the workflow's output.
PERDURE_CHILD_ENTRY("promise_target") {
  engine eng{{.storage = args.at(0), .external_cancel_check = 50ms}};
  auto h = eng.run_async(cp_done(cp_hand(), wait_for_promise<payment>("paid"),
                                 try_wait_for_promise<int>("refund")),
                         "pay-7");
  return test::announce_and_report(eng, h, "pay-7");
}

TEST_CASE("perdure promise completes and rejects promises of a workflow "
          "running in another process, each once") {
  test::temp_dir dir;
  auto storage = (dir / "storage").string();
  test::child_process child{"promise_target", {storage}};
  REQUIRE(child.read_line() == "started");
  auto run = [&](std::vector<std::string> a) {
    a.insert(a.begin(), {"--storage", storage, "promise"});
    return test::run_perdure(a);
  };
  auto ok = run({"complete", "paid@pay-7", R"({"psp":"acme","cents":500})"});
  REQUIRE_MESSAGE(ok.code == 0, ok.err);
  CHECK(ok.out.find("completed promise 'paid@pay-7'") == 0);
  auto again = run({"complete", "paid@pay-7", "{}"});
  CHECK(again.code == 5);
  CHECK(again.err.find("already completed (by cli)") != std::string::npos);
  auto rej = run({"reject", "refund@pay-7", "not refundable"});
  REQUIRE_MESSAGE(rej.code == 0, rej.err);
  CHECK(child.read_line()
        == "paid@pay-7 acme 500 promise 'refund@pay-7' was rejected: not "
           "refundable");
  CHECK(child.wait() == 0);

  auto sigs = test::run_perdure(
    {"--storage", storage, "history", "signals/pay-7", "--json"});
  REQUIRE_MESSAGE(sigs.code == 0, sigs.err);
  auto recs = json::parse(sigs.out);
  REQUIRE(recs.size() == 2);
  CHECK(recs[0]["kind_name"] == "promise_settled");
  CHECK(recs[0]["payload"]["value"]["cents"] == 500);
  CHECK(recs[1]["payload"]["ok"] == false);

  // Finished now; unknown workflow; malformed id.
  CHECK(run({"reject", "paid@pay-7", "x"}).code == 5);
  CHECK(run({"complete", "paid@nobody", "1"}).code == 2);
  CHECK(run({"complete", "no-at-sign", "1"}).code == 1);
}
