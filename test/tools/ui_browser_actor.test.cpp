// SPDX-License-Identifier: Apache-2.0
// `perdure ui` (the binary) in headless Chromium on an actor written by a
// real engine: the slider at seq k shows `perdure replay --until k`.

#include <doctest/doctest.h>
#include <perdure/perdure.hpp>

#include "chromium_page.hpp"
#include "cli_runner.hpp"
#include "temp_dir.hpp"

#include <csignal>
#include <nlohmann/json.hpp>

using namespace perdure;
using json = nlohmann::json;

// (at namespace scope, as PERDURE_ACTOR needs)
struct abacus {
  int total = 0;
  std::vector<std::string> notes;
  int add(int by, std::string note) {
    total += by;
    notes.push_back(std::move(note));
    return total;
  }
};

PERDURE_ACTOR(abacus, (total, notes), (add))

TEST_CASE("ui in chromium: the actor slider shows replay --until k") {
  if (!test::chromium_path()) {
    MESSAGE("skipped: chromium is not installed (scripts/deps installs it)");
    return;
  }
  test::temp_dir dir;
  {
    engine eng{{.storage = dir.path(),
                .durability = eventlog::durability::process}};
    auto a = eng.actor<abacus>("abacus-1");
    for (int by : {3, 4, 10})
      a.call(&abacus::add, by, "n" + std::to_string(by));
  }
  auto storage = dir.path().string();
  test::cli_process ui{{"--storage", storage, "ui", "--listen",
                        "127.0.0.1:0"}};
  REQUIRE(ui.wait_for_out("/\n"));
  auto out = ui.peek_out();
  auto colon = out.rfind(':');
  auto port = static_cast<std::uint16_t>(std::stoi(out.substr(colon + 1)));

  auto replay = [&](const std::string& k) {
    auto r = test::run_perdure({"--storage", storage, "replay",
                                "actor/abacus-1", "--until", k, "--json"});
    REQUIRE_MESSAGE(r.code == 0, r.err);
    return json::parse(r.out)["state"];
  };
  for (std::string k : {"2", "3"}) {
    auto page = test::chromium_dom(port, "/actor/actor/abacus-1?seq=" + k,
                                   dir.path() / "chromium",
                                   k == "3" ? "actor" : "");
    auto box = page.find("id=\"state\" data-seq=\"" + k + "\"");
    REQUIRE_MESSAGE(box != std::string::npos, page);
    auto pre = page.find("<pre>", box);
    auto end = page.find("</pre>", pre);
    REQUIRE(pre != std::string::npos);
    auto state = json::parse(
      test::html_unescape(page.substr(pre + 5, end - pre - 5)));
    CHECK_FALSE(state.is_null());
    CHECK(state == replay(k));
  }
  ui.signal(SIGINT); // serves until Ctrl-C, then exits 0
  CHECK(ui.wait().code == 0);
}
