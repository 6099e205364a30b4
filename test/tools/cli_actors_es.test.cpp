// SPDX-License-Identifier: Apache-2.0
// The CLI on an event-sourced actor: history shows each event's type and
// fields; `perdure` (without the application's apply) shows the nearest
// snapshot and the events after it, never a state that is not the
// actor's; with the application's fold (the embedded CLI's cli_io::fold)
// replay, show and diff print the folded state. Fork copies the events.

#include <doctest/doctest.h>
#include <perdure/perdure.hpp>

#include "perdure/actors/fold.hpp"
#include "perdure/tools/cli.hpp"

#include "cli_runner.hpp"
#include "temp_dir.hpp"

#include <sstream>

#include <nlohmann/json.hpp>

using namespace perdure;
using json = nlohmann::json;

namespace {

struct credited {
  int amount = 0;
  std::string memo;
};
PERDURE_EVENT(credited, amount, memo)

struct wallet : event_sourced<wallet, credited> {
  int balance = 0;
  std::vector<std::string> memos;
  void apply(const credited& e) {
    balance += e.amount;
    memos.push_back(e.memo);
  }
  int credit(int amount, std::string memo) {
    emit(credited{amount, std::move(memo)});
    return balance;
  }
};
PERDURE_ACTOR(wallet, (balance, memos), (credit))

// Seqs 2..4 carry one event each (seq 1 creates the wallet).
void write_wallet(const std::string& storage) {
  engine eng{{.storage = storage}};
  auto w = eng.actor<wallet>("w");
  w.call(&wallet::credit, 10, std::string{"a"});
  w.call(&wallet::credit, 20, std::string{"b"});
  w.call(&wallet::credit, 30, std::string{"c"});
}

// run_cli in this process, with the application's fold.
test::cli_result run_folding(const std::vector<std::string>& args) {
  std::ostringstream out, err;
  tools::cli_io io{out, err, false, false, fold_actors<wallet>()};
  std::vector<std::string> argv{"app"};
  argv.insert(argv.end(), args.begin(), args.end());
  test::cli_result r;
  r.code = tools::run_cli(argv, io);
  r.out = out.str();
  r.err = err.str();
  return r;
}

} // namespace

TEST_CASE("history shows an event-sourced actor's events with their fields") {
  test::temp_dir dir;
  auto storage = dir.path().string();
  write_wallet(storage);
  auto r = test::run_perdure({"--storage", storage, "--json", "history",
                              "actor/w"});
  REQUIRE_MESSAGE(r.code == 0, r.err);
  auto doc = json::parse(r.out);
  REQUIRE(doc.size() == 4);
  auto& third = doc[2]["payload"];
  CHECK(third["method"] == "credit");
  CHECK(third["args"] == json::array({20, "b"}));
  CHECK(third["result"] == 30);
  CHECK(third["events"][0]["type"] == "credited");
  CHECK(third["events"][0]["data"]["amount"] == 20);
  CHECK(third["events"][0]["data"]["memo"] == "b");
  // The class's feed too.
  auto feed = test::run_perdure({"--storage", storage, "--json", "history",
                                 "actor-feed/wallet"});
  REQUIRE_MESSAGE(feed.code == 0, feed.err);
  auto f = json::parse(feed.out);
  CHECK(f[0]["payload"]["data"]["memo"] == "a");
}

TEST_CASE("replay of an event-sourced actor shows the nearest state and the "
          "events after it, folded only with the application's fold") {
  test::temp_dir dir;
  auto storage = dir.path().string();
  write_wallet(storage);
  auto plain = test::run_perdure({"--storage", storage, "--json", "replay",
                                  "actor/w", "--until", "3"});
  REQUIRE_MESSAGE(plain.code == 0, plain.err);
  auto j = json::parse(plain.out);
  CHECK(j["event_sourced"] == true);
  CHECK(j["folded"] == false);
  CHECK(j["state_seq"] == 1);
  CHECK(j["state"]["balance"] == 0);
  REQUIRE(j["events_since_state"].size() == 2);
  CHECK(j["events_since_state"][1]["seq"] == 3);
  CHECK(j["events_since_state"][1]["data"]["amount"] == 20);
  auto text = test::run_perdure({"--storage", storage, "replay", "actor/w",
                                 "--until", "3"});
  CHECK(text.out.find("EVENTS AFTER IT (2") != std::string::npos);

  auto folded = run_folding({"--storage", storage, "--json", "replay",
                             "actor/w", "--until", "3"});
  REQUIRE_MESSAGE(folded.code == 0, folded.err);
  auto k = json::parse(folded.out);
  CHECK(k["folded"] == true);
  CHECK(k["state"]["balance"] == 30);
  CHECK(k["state"]["memos"] == json::array({"a", "b"}));

  auto show = run_folding({"--storage", storage, "--json", "show", "w"});
  REQUIRE_MESSAGE(show.code == 0, show.err);
  auto s = json::parse(show.out);
  CHECK(s["state"]["balance"] == 60);
  CHECK(s["last_calls"].size() == 3);
}

TEST_CASE("diff of an event-sourced actor folds with the application's "
          "fold and refuses clearly without it") {
  test::temp_dir dir;
  auto storage = dir.path().string();
  write_wallet(storage);
  auto plain = test::run_perdure({"--storage", storage, "diff", "actor/w",
                                  "2", "4"});
  CHECK(plain.code != 0);
  CHECK(plain.err.find("event-sourced") != std::string::npos);
  auto d = run_folding({"--storage", storage, "--json", "diff", "actor/w",
                        "2", "4"});
  REQUIRE_MESSAGE(d.code == 0, d.err);
  auto j = json::parse(d.out);
  bool balance = false;
  for (auto& c : j["changes"])
    if (c["path"] == "balance") {
      balance = true;
      CHECK(c["before"] == 10);
      CHECK(c["after"] == 60);
    }
  CHECK(balance);
}

TEST_CASE("fork of an event-sourced actor at an event gives an actor with "
          "the state of that point") {
  test::temp_dir dir;
  auto storage = dir.path().string();
  write_wallet(storage);
  auto r = test::run_perdure({"--storage", storage, "fork", "actor/w",
                              "--at", "3", "--as", "w2"});
  REQUIRE_MESSAGE(r.code == 0, r.err);
  engine eng{{.storage = storage}};
  auto w2 = eng.get_actor<wallet>("w2");
  CHECK(w2.call(&wallet::credit, 1, std::string{"x"}) == 31);
  CHECK(eng.get_actor<wallet>("w").call(&wallet::credit, 0,
                                        std::string{"y"})
        == 60);
}
