// SPDX-License-Identifier: Apache-2.0
// `perdure ui` in headless Chromium: the real page, its JavaScript and the
// JSON API, checked against the CLI's --json output. Skips (with a message)
// only when chromium is not installed.

#include <doctest/doctest.h>

#include "ui_served.hpp"

using namespace perdure;
using namespace perdure::test;
using nlohmann::json;

TEST_CASE("ui in chromium: the list, filtered by status") {
  if (!chromium_path()) {
    MESSAGE("skipped: chromium is not installed (scripts/deps installs it)");
    return;
  }
  served b;
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
  served b;
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
