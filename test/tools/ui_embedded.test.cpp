// SPDX-License-Identifier: Apache-2.0
// The UI an application serves: engine_options::ui_address with
// tools::embedded_ui() serves the page and API of `perdure ui` from the
// running engine through its own log (a live workflow shows `running`, a
// finished one equals `perdure show --json` run beside it, a cancel from
// the page reaches the engine), beside /metrics, with the same safety
// rules; it stops with the engine. And `app ui` from the embedded CLI.

#include <doctest/doctest.h>
#include <perdure/perdure.hpp>
#include <perdure/tools/embedded_ui.hpp>

#include "ui_served.hpp"
#include "wait_until.hpp"

#include <csignal>

using namespace perdure;
using namespace perdure::test;
using namespace std::chrono_literals;
using nlohmann::json;

namespace {

const auto ue_add = step("ue_add", [](int a, int b) { return a + b; });
const auto ue_twice = step("ue_twice", [](int x) { return 2 * x; });

engine_options with_ui(const temp_dir& dir, tools::embedded_ui_options o) {
  return {.storage = dir.path(),
          .durability = eventlog::durability::process,
          .metrics_address = "127.0.0.1:0",
          .ui_address = "127.0.0.1:0",
          .ui_server = tools::embedded_ui(std::move(o)),
          .external_cancel_check = 20ms};
}

json get_json(std::uint16_t port, const std::string& target) {
  auto r = http(port, "GET", target);
  REQUIRE_MESSAGE(r.code == 200, r.body);
  return json::parse(r.body);
}

// Whether something accepts connections on 127.0.0.1:port.
bool accepting(std::uint16_t port) {
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(port);
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  bool ok = ::connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0;
  ::close(fd);
  return ok;
}

std::string status_in(const json& list, const std::string& id) {
  for (auto& e : list["items"])
    if (e["id"] == id)
      return e["status"].get<std::string>();
  return "(absent)";
}

} // namespace

TEST_CASE("an application serves the UI from its running engine") {
  temp_dir dir;
  std::uint16_t port = 0;
  {
    engine eng{with_ui(dir, {.allow_writes = true, .utc = true})};
    REQUIRE(eng.ui_port());
    REQUIRE(eng.metrics_port());
    port = *eng.ui_port();
    CHECK(port != *eng.metrics_port());
    CHECK(eng.run_async(ue_twice(ue_add(20, 1)), "done_wf").get() == 42);
    auto waiting = eng.run_async(ue_twice(wait_for_signal<int>("go")),
                                 "waiting_wf");

    auto page = http(port, "GET", "/");
    CHECK(page.code == 200);
    CHECK(page.body.find("<title>perdure</title>") != std::string::npos);
    CHECK(http(*eng.metrics_port(), "GET", "/metrics").code == 200);
    CHECK(wait_until([&] {
      return status_in(get_json(port, "/api/list"), "waiting_wf")
             == "running"; // the engine holds it: not "resumable"
    }));
    CHECK(status_in(get_json(port, "/api/list"), "done_wf") == "successful");

    // The same answer as the CLI's, read from another process.
    auto cli = run_perdure({"--storage", dir.path().string(), "--utc",
                            "show", "done_wf", "--json"});
    REQUIRE_MESSAGE(cli.code == 0, cli.err);
    CHECK(get_json(port, "/api/show?id=done_wf") == json::parse(cli.out));

    auto cancel = http(port, "POST", "/api/cancel?id=waiting_wf");
    CHECK_MESSAGE(cancel.code == 200, cancel.body);
    waiting.wait(); // the engine noticed
    CHECK(waiting.try_get().as_status().code() == errc::canceled);
    CHECK(get_json(port, "/api/show?id=waiting_wf")["status"] == "canceled");
  }
  CHECK_FALSE(accepting(port)); // stopped with the engine
}

TEST_CASE("an application's UI keeps the safety rules") {
  temp_dir dir;
  SUBCASE("an address needs a server") {
    auto o = with_ui(dir, {});
    o.ui_server = nullptr;
    auto e = engine::open(o);
    REQUIRE_FALSE(e.has_value());
    CHECK(e.error().code() == errc::invalid_argument);
    CHECK(e.error().message().find("ui_server") != std::string::npos);
  }
  SUBCASE("not loopback without allow_remote, and the storage is freed") {
    auto o = with_ui(dir, {});
    o.ui_address = "0.0.0.0:0";
    auto e = engine::open(o);
    REQUIRE_FALSE(e.has_value());
    CHECK(e.error().code() == errc::invalid_argument);
    CHECK(e.error().message().find("allow_remote") != std::string::npos);
    CHECK_THROWS_AS(engine{o}, perdure::error);
    CHECK(engine::open(with_ui(dir, {})).has_value());
  }
  SUBCASE("read-only unless allow_writes") {
    engine eng{with_ui(dir, {})};
    auto r = http(*eng.ui_port(), "POST", "/api/delete?id=x");
    CHECK(r.code == 403);
    CHECK(get_json(*eng.ui_port(), "/api/config")["writes"] == false);
  }
  SUBCASE("a token on every request") {
    engine eng{with_ui(dir, {.token = "s3cret"})};
    CHECK(http(*eng.ui_port(), "GET", "/").code == 401);
    CHECK(http(*eng.ui_port(), "GET", "/api/list").code == 401);
    CHECK(http(*eng.ui_port(), "GET", "/api/list?token=s3cret").code
          == 200);
  }
}

TEST_CASE("the embedded CLI serves the UI: app ui") {
  temp_dir dir;
  auto storage = dir.path().string();
  auto ran = run_program(APP_PATH, {"run", storage, "wf-a"},
                         {{"APP_STEP_MS", "0"}});
  REQUIRE_MESSAGE(ran.code == 0, ran.err);
  cli_process ui{APP_PATH,
                 {"--storage", storage, "ui", "--listen", "127.0.0.1:0"},
                 {}};
  REQUIRE(ui.wait_for_out("/\n"));
  auto out = ui.peek_out();
  auto port = static_cast<std::uint16_t>(
    std::stoi(out.substr(out.rfind(':') + 1)));
  CHECK(status_in(get_json(port, "/api/list"), "wf-a") == "successful");
  ui.signal(SIGINT);
  CHECK(ui.wait().code == 0);
}
