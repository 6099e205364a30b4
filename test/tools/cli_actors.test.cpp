// SPDX-License-Identifier: Apache-2.0
// The CLI on an actor stream written by a real engine: history decodes the
// actor's state, arguments and results without the actor's code.

#include <doctest/doctest.h>
#include <perdure/perdure.hpp>

#include "cli_runner.hpp"
#include "temp_dir.hpp"

#include <map>

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

TEST_CASE("replay of an actor at seq k prints the state it had after its k-th event") {
  test::temp_dir dir;
  std::vector<int> after{0}; // seq 1 creates the actor with count 0
  {
    engine eng{{.storage = dir.path(),
                .durability = eventlog::durability::process}};
    auto t = eng.actor<tally>("tally-2");
    for (int by : {3, 4, 10, -1})
      after.push_back(t.call(&tally::add, by, "n"));
  }
  auto replay = [&](std::vector<std::string> extra) {
    std::vector<std::string> args{"--storage", dir.path().string(), "replay",
                                  "actor/tally-2"};
    args.insert(args.end(), extra.begin(), extra.end());
    return test::run_perdure(args);
  };
  for (std::size_t k = 1; k <= after.size(); ++k) {
    auto out = replay({"--until", std::to_string(k), "--json"});
    REQUIRE_MESSAGE(out.code == 0, out.err);
    auto j = json::parse(out.out);
    CHECK(j["as_of_seq"] == k);
    CHECK(j["state"]["count"] == after[k - 1]);
    CHECK(j["state"]["notes"].size() == k - 1);
  }
  auto human = replay({"--until", "3"});
  CHECK(human.out.find("\"count\": 7") != std::string::npos);
  CHECK(replay({"--until", "99"}).code != 0);
}

TEST_CASE("diff names what changed in an actor's state between two seqs") {
  test::temp_dir dir;
  {
    engine eng{{.storage = dir.path(),
                .durability = eventlog::durability::process}};
    auto t = eng.actor<tally>("tally-3");
    t.call(&tally::add, 4, std::string{"first"});
    t.call(&tally::add, 6, std::string{"second"});
  }
  auto out = test::run_perdure({"--storage", dir.path().string(), "diff",
                                "actor/tally-3", "2", "3", "--json"});
  REQUIRE_MESSAGE(out.code == 0, out.err);
  auto j = json::parse(out.out);
  std::map<std::string, json> changes;
  for (auto& c : j["changes"])
    changes[c["path"]] = c;
  REQUIRE(changes.size() == 2);
  CHECK(changes["count"]["before"] == 4);
  CHECK(changes["count"]["after"] == 10);
  CHECK(changes["notes"]["after"] == json::array({"first", "second"}));
  auto human = test::run_perdure({"--storage", dir.path().string(), "diff",
                                  "actor/tally-3", "1", "2"});
  CHECK(human.out.find("count: 0 -> 4") != std::string::npos);
}

TEST_CASE("fork copies an actor's history up to a seq into a usable new actor") {
  test::temp_dir dir;
  {
    engine eng{{.storage = dir.path(),
                .durability = eventlog::durability::process}};
    auto t = eng.actor<tally>("original");
    for (int by : {1, 2, 3})
      t.call(&tally::add, by, std::string{"x"});
  }
  auto out = test::run_perdure({"--storage", dir.path().string(), "fork",
                                "actor/original", "--at", "3", "--as",
                                "what-if"});
  REQUIRE_MESSAGE(out.code == 0, out.err);
  CHECK(out.out.find("as 'actor/what-if' (3 records)") != std::string::npos);
  // The id is taken now: a second fork is refused.
  CHECK(test::run_perdure({"--storage", dir.path().string(), "fork",
                           "actor/original", "--at", "2", "--as", "what-if"})
          .code
        != 0);
  engine eng{{.storage = dir.path(),
              .durability = eventlog::durability::process}};
  auto fork = eng.get_actor<tally>("what-if");
  CHECK(fork.call(&tally::value) == 3); // state after seq 3: 1 + 2
  CHECK(fork.call(&tally::add, 100, std::string{"sandbox"}) == 103);
  CHECK(eng.get_actor<tally>("original").call(&tally::value) == 6);
}

TEST_CASE("show finds an actor by its bare id and prints its current state and last calls") {
  test::temp_dir dir;
  {
    engine eng{{.storage = dir.path(),
                .durability = eventlog::durability::process}};
    auto t = eng.actor<tally>("cart-7");
    for (int by : {2, 3, 4})
      t.call(&tally::add, by, "note " + std::to_string(by));
  }
  for (std::string id : {"cart-7", "actor/cart-7"}) {
    CAPTURE(id);
    auto out = test::run_perdure({"--storage", dir.path().string(), "show", id});
    REQUIRE_MESSAGE(out.code == 0, out.err);
    CHECK(out.out.find("id:       actor/cart-7") != std::string::npos);
    CHECK(out.out.find("STATE (seq 4)") != std::string::npos);
    CHECK(out.out.find("\"count\": 9") != std::string::npos);
    CHECK(out.out.find("note 4") != std::string::npos);
    CHECK(out.out.find("LAST CALLS") != std::string::npos);
  }
  auto j = test::run_perdure(
    {"--storage", dir.path().string(), "show", "cart-7", "--json"});
  REQUIRE_MESSAGE(j.code == 0, j.err);
  auto shown = json::parse(j.out);
  CHECK(shown["state"]["count"] == 9);
  CHECK(shown["state_seq"] == 4);
  REQUIRE(shown["last_calls"].size() == 3);
  CHECK(shown["last_calls"][2]["method"] == "add");
  CHECK(shown["last_calls"][2]["args"][0] == 4);
  CHECK(shown["last_calls"][2]["result"] == 9);
  // An id that is neither a workflow nor an actor is still not found.
  auto missing = test::run_perdure(
    {"--storage", dir.path().string(), "show", "cart-8"});
  CHECK(missing.code == 2);
  CHECK(missing.err.find("no workflow or actor 'cart-8'") != std::string::npos);
}
