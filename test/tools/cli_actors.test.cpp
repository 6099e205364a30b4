// The CLI on an actor stream written by a real engine: history decodes the
// actor's state, arguments and results without the actor's code.

#include <doctest/doctest.h>
#include <perdure/perdure.hpp>

#include "cli_runner.hpp"
#include "temp_dir.hpp"

#include <nlohmann/json.hpp>

using namespace perdure;
using json = nlohmann::json;

struct tally {
  int count = 0;
  std::vector<std::string> notes;
  int add(int by, std::string note) {
    count += by;
    notes.push_back(std::move(note));
    return count;
  }
  int value() const {
    return count;
  }
};
PERDURE_ACTOR(tally, (count, notes), (add, value))

TEST_CASE("history shows an actor's state after each event as JSON") {
  test::temp_dir dir;
  std::vector<int> after; // the state the actor really had after each call
  {
    engine eng{{.storage = dir.path(),
                .durability = eventlog::durability::process}};
    auto t = eng.actor<tally>("tally-1");
    for (int by : {5, 7, -2})
      after.push_back(t.call(&tally::add, by, "by " + std::to_string(by)));
  }
  auto out = test::run_perdure(
    {"--storage", dir.path().string(), "history", "actor/tally-1", "--json"});
  REQUIRE_MESSAGE(out.code == 0, out.err);
  auto hist = json::parse(out.out);
  std::vector<int> seen;
  for (auto& r : hist) {
    if (r["kind_name"] == "actor_created") {
      CHECK(r["payload"]["cls"] == "tally");
      CHECK(r["payload"]["state"]["count"] == 0);
    }
    if (r["kind_name"] != "actor_called")
      continue;
    auto& p = r["payload"];
    CHECK(p["method"] == "add");
    CHECK(p["args"][0] == p["state"]["count"].get<int>()
                             - (seen.empty() ? 0 : seen.back()));
    CHECK(p["result"] == p["state"]["count"]);
    seen.push_back(p["state"]["count"].get<int>());
  }
  CHECK(seen == after);
  CHECK(after == std::vector<int>{5, 12, 10});
}
