// SPDX-License-Identifier: Apache-2.0
// `perdure projection status` and `perdure projection reset NAME` on
// projections run by a real engine.

#include <doctest/doctest.h>
#include <perdure/perdure.hpp>

#include "perdure/actors/event_sourced.hpp"
#include "perdure/actors/projection.hpp"

#include "cli_runner.hpp"
#include "temp_dir.hpp"
#include "wait_until.hpp"

#include <nlohmann/json.hpp>

using namespace perdure;
using json = nlohmann::json;

namespace {

struct added {
  int n = 0;
};
PERDURE_EVENT(added, n)

struct summer : event_sourced<summer, added> {
  int total = 0;
  void apply(const added& e) {
    total += e.n;
  }
  int add(int n) {
    emit(added{n});
    return total;
  }
};
PERDURE_ACTOR(summer, (total), (add))

void count_rows(const projected_event& e, projection_rows& rows) {
  rows.put_as(e.actor, rows.get_as<int>(e.actor).value_or(0) + 1);
}

json status_of(const std::string& storage) {
  auto out = test::run_perdure(
    {"--storage", storage, "projection", "status", "--json"});
  REQUIRE_MESSAGE(out.code == 0, out.err);
  return json::parse(out.out);
}

} // namespace

TEST_CASE("projection status shows position and lag, reset rebuilds") {
  test::temp_dir dir;
  auto storage = dir.path().string();
  {
    engine eng{{.storage = dir.path()}};
    auto s = eng.actor<summer>("s1");
    for (int i = 1; i <= 4; ++i)
      s.call(&summer::add, i);
    auto p = project<summer>(eng, "counts", count_rows);
    REQUIRE(test::wait_until([&] { return p.position() == 4; }));
    // beside the running engine: refused
    auto busy = test::run_perdure(
      {"--storage", storage, "projection", "reset", "counts"});
    CHECK(busy.code == 5);
    CHECK(busy.err.find("reset_projection") != std::string::npos);
    p.stop();
    s.call(&summer::add, 10);
    s.call(&summer::add, 20);
  }
  auto st = status_of(storage);
  REQUIRE(st.size() == 1);
  CHECK(st[0]["name"] == "counts");
  CHECK(st[0]["source"] == "summer");
  CHECK(st[0]["mode"] == "exactly-once");
  CHECK(st[0]["position"] == 4);
  CHECK(st[0]["head"] == 6);
  CHECK(st[0]["lag"] == 2);
  auto human = test::run_perdure({"--storage", storage, "projection",
                                  "status"});
  CHECK(human.code == 0);
  CHECK(human.out.find("counts") != std::string::npos);

  auto reset = test::run_perdure(
    {"--storage", storage, "projection", "reset", "counts"});
  REQUIRE_MESSAGE(reset.code == 0, reset.err);
  CHECK(reset.out.find("1 rows dropped") != std::string::npos);
  st = status_of(storage);
  CHECK(st[0]["position"] == 0);
  CHECK(st[0]["lag"] == 6);

  auto unknown = test::run_perdure(
    {"--storage", storage, "projection", "reset", "nope"});
  CHECK(unknown.code == 2);

  // rebuilt from the first event: one row counting all six
  engine eng{{.storage = dir.path()}};
  auto p = project<summer>(eng, "counts", count_rows);
  REQUIRE(test::wait_until([&] { return p.position() == 6; }));
  auto t = projection_table(eng, "counts");
  REQUIRE(t);
  REQUIRE(t->size() == 1);
  CHECK(codec::decode<int>(t->at("s1")).value() == 6);
}

namespace {
const auto cp_step = step("cp_step", [](int x) { return x + 1; });
} // namespace

TEST_CASE("a workflow projection in the CLI: status, the feed's notes in "
          "history, and a workflow the CLI cancels is noted too") {
  test::temp_dir dir;
  auto storage = dir.path().string();
  {
    engine eng{{.storage = dir.path(), .workflow_feed = true}};
    CHECK(eng.run(cp_step(1), "w1") == 2);
    auto p = project_workflows(eng, "wf-counts",
                               [](const projected_event& e,
                                  projection_rows& rows) {
                                 rows.put_as(e.workflow,
                                             rows.get_as<int>(e.workflow)
                                                 .value_or(0)
                                               + 1);
                               });
    REQUIRE(test::wait_until([&] { return p.position() == 4; }));
    p.stop();
    // A workflow left waiting when the engine closes: the CLI cancels it.
    auto h = eng.run_async(cp_step(wait_for_signal<int>("go")), "w2");
    REQUIRE(test::wait_until(
      [&] { return eng.try_status("w2").has_value(); }));
  }
  auto cancel = test::run_perdure({"--storage", storage, "cancel", "w2"});
  REQUIRE_MESSAGE(cancel.code == 0, cancel.err);
  auto st = status_of(storage);
  REQUIRE(st.size() == 1);
  CHECK(st[0]["source"] == "@workflows");
  CHECK(st[0]["position"] == 4);
  auto h = test::run_perdure(
    {"--storage", storage, "history", "workflow-feed", "--json"});
  REQUIRE_MESSAGE(h.code == 0, h.err);
  auto j = json::parse(h.out);
  auto recs = j.is_array() ? j : j["records"];
  REQUIRE(recs.size() >= 6);
  CHECK(recs[0]["payload"]["stream"] == "w1");
  CHECK(recs[0]["payload"]["seq"] == 1);
  CHECK(recs[0]["payload"]["kind"] == "workflow_submitted");
  CHECK(recs.back()["payload"]["stream"] == "w2");
  CHECK(recs.back()["payload"]["kind"] == "workflow_canceled");
}
