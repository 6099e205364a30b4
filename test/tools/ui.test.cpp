// SPDX-License-Identifier: Apache-2.0
// `perdure ui`: the JSON API over a real server on 127.0.0.1 (port 0),
// compared with the CLI's own --json output, and the safety rules.

#include <doctest/doctest.h>

#include "ui_served.hpp"
#include "wait_until.hpp"

using namespace perdure;
using namespace perdure::test;
using nlohmann::json;

TEST_CASE("ui serves the embedded page") {
  served s;
  auto r = s.get("/");
  CHECK(r.code == 200);
  CHECK(r.body.find("<title>perdure</title>") != std::string::npos);
  CHECK(s.get("/nothing").code == 404);
}

TEST_CASE("ui list: the CLI's entries, filters, prefix and cursor paging") {
  served s;
  auto all = s.get_json("/api/list");
  CHECK(all["items"] == s.cli_json({"list"}));
  CHECK(all["next"].is_null());

  auto failed = s.get_json("/api/list?status=failed");
  REQUIRE(failed["items"].size() == 1);
  CHECK(failed["items"][0]["id"] == "flaky");
  auto actors = s.get_json("/api/list?kind=actor");
  REQUIRE(actors["items"].size() == 1);
  CHECK(actors["items"][0]["id"] == "counter_1");
  auto pre = s.get_json("/api/list?prefix=pe");
  REQUIRE(pre["items"].size() == 1);
  CHECK(pre["items"][0]["id"] == "pending_job");

  std::vector<std::string> paged;
  std::string after;
  for (int pages = 0; pages < 10; ++pages) {
    auto p = s.get_json("/api/list?limit=2&after=" + after);
    CHECK(p["items"].size() <= 2);
    for (auto& e : p["items"])
      paged.push_back(e["id"]);
    if (p["next"].is_null())
      break;
    after = p["next"];
  }
  std::vector<std::string> ids;
  for (auto& e : all["items"])
    ids.push_back(e["id"]);
  CHECK(paged == ids);

  CHECK(s.get("/api/list?status=lost").code == 400);
  CHECK(s.get("/api/list?kind=thing").code == 400);
}

TEST_CASE("ui workflow detail, history and graph match the CLI") {
  served s;
  auto show = s.get_json("/api/show?id=sum_example");
  CHECK(show == s.cli_json({"show", "sum_example"}));
  CHECK(show["workflow"]["steps"].size() == 3);
  auto hist = s.get_json("/api/history?id=sum_example");
  CHECK(hist == s.cli_json({"history", "sum_example"}));
  auto svg = s.get("/api/graph.svg?id=sum_example");
  REQUIRE_MESSAGE(svg.code == 200, svg.body);
  CHECK(svg.body.find("<svg") != std::string::npos);
  std::size_t nodes = 0;
  for (auto at = svg.body.find("class=\"node\""); at != std::string::npos;
       at = svg.body.find("class=\"node\"", at + 1))
    ++nodes;
  CHECK(nodes >= show["workflow"]["steps"].size());

  auto missing = s.get("/api/show?id=nobody");
  CHECK(missing.code == 404);
  CHECK(missing.body.find("nobody") != std::string::npos);
  CHECK(s.get("/api/show").code == 400);
}

TEST_CASE("ui actor state at seq k is the CLI's replay --until k") {
  served s;
  auto show = s.get_json("/api/show?id=counter_1");
  std::uint64_t first = show["first_seq"], last = show["last_seq"];
  REQUIRE(last > first);
  for (auto k = first; k <= last; ++k) {
    auto q = "/api/replay?id=counter_1&until=" + std::to_string(k);
    CHECK(s.get_json(q)
          == s.cli_json({"replay", "counter_1", "--until",
                         std::to_string(k)}));
  }
  CHECK(s.get("/api/replay?id=counter_1&until=999").code == 400);
}

TEST_CASE("ui safety: a non-loopback address needs --allow-remote") {
  tools::ui_options o;
  CHECK(!tools::check_ui_options({"0.0.0.0", 0}, o).is_ok());
  CHECK(tools::check_ui_options({"127.0.0.1", 0}, o).is_ok());
  CHECK(tools::check_ui_options({"::1", 0}, o).is_ok());
  o.allow_remote = true;
  CHECK(tools::check_ui_options({"0.0.0.0", 0}, o).is_ok());

  temp_dir dir;
  { auto log = open_log(dir.path()); }
  auto r = run_perdure({"--storage", dir.path().string(), "ui", "--listen",
                        "0.0.0.0:0"});
  CHECK(r.code == 1);
  CHECK(r.err.find("--allow-remote") != std::string::npos);
  r = run_perdure({"--storage", dir.path().string(), "ui", "--listen",
                   "localhost"});
  CHECK(r.code == 1);
  CHECK(r.err.find("no port") != std::string::npos);
}

TEST_CASE("ui safety: writes are refused without --allow-writes") {
  served ro;
  auto r = http(ro.server.port(), "POST", "/api/cancel?id=pending_job");
  CHECK(r.code == 403);
  CHECK(r.body.find("--allow-writes") != std::string::npos);
  CHECK(ro.get_json("/api/show?id=pending_job")["status"] != "canceled");
  CHECK(ro.get_json("/api/config")["writes"] == false);

  tools::ui_options o;
  o.allow_writes = true;
  served rw{o};
  auto ok = http(rw.server.port(), "POST", "/api/cancel?id=pending_job");
  CHECK_MESSAGE(ok.code == 200, ok.body);
  CHECK(rw.get_json("/api/show?id=pending_job")["status"] == "canceled");
}

TEST_CASE("ui safety: --token is required on every request") {
  tools::ui_options o;
  o.token = "s3cret";
  served s{o};
  CHECK(s.get("/").code == 401);
  CHECK(s.get("/api/list").code == 401);
  CHECK(s.get("/api/list?token=wrong").code == 401);
  CHECK(s.get("/api/list?token=s3cret").code == 200);
  CHECK(s.get("/api/list", "Authorization: Bearer s3cret\r\n").code == 200);
}

TEST_CASE("ui --redact hides payloads") {
  tools::ui_options o;
  o.redact = true;
  served s{o};
  auto show = s.get_json("/api/show?id=sum_example");
  CHECK(show["workflow"]["output"] == "(redacted)");
  CHECK(show["workflow"]["steps"][0]["inputs"] == "(redacted)");
}

TEST_CASE("ui server: a slow request does not hold up the next one") {
  // Request /a waits (up to a minute, the failing case) until /b was
  // answered, which needs a second worker while /a is in its handler.
  tools::http_server server;
  REQUIRE(server.open({"127.0.0.1", 0}).is_ok());
  std::atomic<bool> stop{false}, a_in{false}, b_done{false}, a_ok{false};
  tools::http_handler h = [&](const tools::http_request& r) {
    if (r.path == "/a") {
      a_in = true;
      a_ok = wait_until([&] { return b_done.load(); });
    }
    return tools::http_response{200, "text/plain", r.path};
  };
  std::thread serving{[&] { server.run(h, stop, 2); }};
  std::thread a{[&] {
    auto r = http(server.port(), "GET", "/a");
    CHECK(r.body == "/a");
  }};
  REQUIRE(wait_until([&] { return a_in.load(); }));
  auto b = http(server.port(), "GET", "/b");
  CHECK(b.body == "/b");
  b_done = true;
  a.join();
  CHECK(a_ok); // /b was answered while /a was still in its handler
  stop = true;
  serving.join();
}
