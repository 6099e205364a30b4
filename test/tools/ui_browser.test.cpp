// SPDX-License-Identifier: Apache-2.0
// `perdure ui` in headless Chromium: the real page, its JavaScript and the
// JSON API, checked against the CLI's --json output. Skips (with a message)
// only when chromium is not installed.

#include <doctest/doctest.h>

#include "chromium_page.hpp"
#include "cli_runner.hpp"
#include "storage_fixture.hpp"
#include "temp_dir.hpp"
#include "ui.hpp"

#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <sstream>
#include <thread>

using namespace perdure;
using namespace perdure::test;
using nlohmann::json;

namespace {

// The fixture served on 127.0.0.1:0; dom() loads a page in Chromium.
struct browser {
  temp_dir dir;
  std::ostringstream out, err;
  tools::cli_io io{out, err};
  tools::http_server server;
  std::atomic<bool> stop{false};
  std::thread thread;

  browser() {
    {
      auto log = open_log(dir.path());
      write_fixture(*log);
    }
    tools::context ctx;
    ctx.storage = dir.path();
    ctx.utc = true;
    ctx.io = &io;
    REQUIRE(server.open({"127.0.0.1", 0}).is_ok());
    thread = std::thread{[this, h = tools::make_ui_handler(ctx, {})] {
      server.run(h, stop);
    }};
  }
  ~browser() {
    stop = true;
    thread.join();
  }
  std::string dom(const std::string& hash, const std::string& shot = {}) {
    return chromium_dom(server.port(), hash, dir.path() / "chromium", shot);
  }
  json cli_json(std::vector<std::string> args) {
    args.insert(args.begin(), {"--storage", dir.path().string(), "--utc"});
    args.push_back("--json");
    auto r = run_perdure(args);
    REQUIRE_MESSAGE(r.code == 0, r.err);
    return json::parse(r.out);
  }
};

} // namespace

TEST_CASE("ui in chromium: the list, filtered by status") {
  if (!chromium_path()) {
    MESSAGE("skipped: chromium is not installed (scripts/deps installs it)");
    return;
  }
  browser b;
  auto all = b.dom("/", "list");
  for (auto& e : b.cli_json({"list"}))
    CHECK(all.find("data-id=\"" + e["id"].get<std::string>() + "\"")
          != std::string::npos);
  auto failed = b.dom("/?status=failed");
  CHECK(occurrences(failed, "class=\"row\"") == 1);
  CHECK(failed.find("data-id=\"flaky\"") != std::string::npos);
}

TEST_CASE("ui in chromium: a workflow's timeline and graph") {
  if (!chromium_path()) {
    MESSAGE("skipped: chromium is not installed (scripts/deps installs it)");
    return;
  }
  browser b;
  auto show = b.cli_json({"show", "sum_example"});
  auto page = b.dom("/workflow/sum_example", "workflow");
  auto& steps = show["workflow"]["steps"];
  CHECK(occurrences(page, "class=\"step\"") == steps.size());
  for (auto& s : steps)
    CHECK(page.find("data-step=\"" + s["step"].get<std::string>() + "\"")
          != std::string::npos);
  CHECK(page.find("<svg") != std::string::npos);
  CHECK(occurrences(page, "class=\"node\"") >= steps.size());
}
