// SPDX-License-Identifier: Apache-2.0
// A workflow's children, signals and durable timers, written by a real
// engine: `perdure show --json` lists them (a signal consumed or not, a
// timer waiting, a wait that received its signal as succeeded) and the
// UI's workflow page (the `perdure ui` binary in headless Chromium) shows
// the same.

#include <doctest/doctest.h>
#include <perdure/listeners/events.hpp>
#include <perdure/perdure.hpp>

#include "chromium_page.hpp"
#include "cli_runner.hpp"
#include "temp_dir.hpp"
#include "wait_until.hpp"

#include <chrono>
#include <optional>
#include <string>

#include <nlohmann/json.hpp>

using namespace perdure;
using namespace std::chrono_literals;
using nlohmann::json;

namespace {

const auto uw_inc = step("uw_inc", [](int x) { return x + 1; });
const auto uw_sum = step("uw_sum", [](int a, int kid, std::optional<int> b) {
  return a + kid + b.value_or(0);
});

bool has_kind(engine& eng, const std::string& id, eventlog::record_kind k) {
  auto recs = eng.event_log()->read(id);
  if (!recs)
    return false;
  for (auto& r : *recs)
    if (r.kind == eventlog::to_u16(k))
      return true;
  return false;
}

// A stored workflow "uw" that consumed signal "a" (5), was also sent "c"
// (9, never waited for), ran child "uw/kid" to its end and waits for "b"
// with a one-hour timeout; the engine is closed while it waits.
void write_waiting_workflow(const std::string& storage) {
  engine eng{{.storage = storage}};
  auto h = eng.run_async(
    uw_sum(wait_for_signal<int>("a"), child(uw_inc(1), "uw/kid"),
           with_timeout(wait_for_signal<int>("b"), 1h)),
    "uw");
  REQUIRE(test::wait_until([&] { return eng.try_status("uw").has_value(); }));
  // Once both waits are armed, "a" is handed straight to its wait and
  // stored consumed, marked direct (no offset covers it).
  auto& ready = eng.metrics().get_gauge("perdure_signal_waits_ready", "", {});
  REQUIRE(test::wait_until([&] { return ready.value() >= 2; }));
  REQUIRE(eng.try_signal("uw", "a", 5).is_ok());
  auto sigs = eng.event_log()->read("signals/uw");
  REQUIRE(sigs);
  REQUIRE(sigs->size() == 1);
  CHECK(codec::decode<records::signal_sent>(sigs->front().payload)
          .value()
          .direct);
  REQUIRE(eng.try_signal("uw", "c", 9).is_ok());
  REQUIRE(test::wait_until([&] {
    return has_kind(eng, "uw", eventlog::record_kind::event_received)
           && has_kind(eng, "uw", eventlog::record_kind::timer_set)
           && eng.try_status("uw/kid").value_or(workflow_status::running)
                == workflow_status::successful;
  }));
  // "a" consumed: its event_received is in the stream (committed with
  // the signal).
}

const json* find_step(const json& steps, const std::string& part) {
  for (auto& s : steps)
    if (s["id"].get<std::string>().find(part) != std::string::npos)
      return &s;
  return nullptr;
}

} // namespace

TEST_CASE("show and the UI list a workflow's children, signals and "
          "timers") {
  test::temp_dir dir;
  auto storage = (dir / "storage").string();
  write_waiting_workflow(storage);

  auto r = test::run_perdure({"--storage", storage, "--utc", "show", "uw",
                              "--json"});
  REQUIRE_MESSAGE(r.code == 0, r.err);
  auto w = json::parse(r.out)["workflow"];
  INFO(w.dump(2));
  auto& sigs = w["signals"];
  REQUIRE(sigs.size() == 2);
  CHECK(sigs[0]["name"] == "a");
  CHECK(sigs[0]["value"] == 5);
  CHECK(sigs[0]["consumed"] == true);
  CHECK(sigs[0]["sender"] == "engine");
  CHECK(sigs[1]["name"] == "c");
  CHECK(sigs[1]["value"] == 9);
  CHECK(sigs[1]["consumed"] == false);
  CHECK(w["promises"].empty());
  REQUIRE(w["children"].size() == 1);
  CHECK(w["children"][0]["id"] == "uw/kid");
  CHECK(w["children"][0]["status"] == "successful");
  int timers = 0;
  for (auto& s : w["steps"])
    if (!s["due"].is_null()) {
      ++timers;
      CHECK(s["status"] == "running"); // an armed timer
    }
  CHECK(timers == 1);
  // The wait that received "a" (an event_received record) succeeded.
  auto* wait_a = find_step(w["steps"], "signal:a");
  REQUIRE(wait_a);
  CHECK((*wait_a)["status"] == "succeeded");

  auto text = test::run_perdure({"--storage", storage, "show", "uw"});
  CHECK(text.out.find("2 (1 not consumed yet)") != std::string::npos);

  if (!test::chromium_path()) {
    MESSAGE("skipped: chromium is not installed (scripts/deps installs it)");
    return;
  }
  test::cli_process ui{{"--storage", storage, "ui", "--listen",
                        "127.0.0.1:0"}};
  REQUIRE(ui.wait_for_out("/\n"));
  auto out = ui.peek_out();
  auto port = static_cast<std::uint16_t>(
    std::stoi(out.substr(out.rfind(':') + 1)));
  auto page = test::chromium_dom(port, "/workflow/uw", dir.path() / "chr",
                                 "workflow_waits");
  CHECK(page.find(R"(data-name="a" data-consumed="true")")
        != std::string::npos);
  CHECK(page.find(R"(data-name="c" data-consumed="false")")
        != std::string::npos);
  CHECK(page.find(R"(data-child="uw/kid")") != std::string::npos);
  CHECK(test::occurrences(page, R"(class="timer")") == 1);
  CHECK(page.find("<td>waiting</td>") != std::string::npos);
}
