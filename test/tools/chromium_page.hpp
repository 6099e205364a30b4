// SPDX-License-Identifier: Apache-2.0
#pragma once

// Loading a page of `perdure ui` in headless Chromium for the browser tests.

#include "cli_runner.hpp"

#include <doctest/doctest.h>

#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <string>

namespace perdure::test {

/// The installed chromium, or nullptr (the tests then skip).
inline const char* chromium_path() {
  for (auto* p : {"/usr/bin/chromium", "/usr/bin/chromium-browser"})
    if (std::filesystem::exists(p))
      return p;
  return nullptr;
}

/// Undoes the page's HTML escaping of JSON text.
inline std::string html_unescape(std::string s) {
  const std::pair<const char*, const char*> entities[] = {
    {"&lt;", "<"}, {"&gt;", ">"}, {"&quot;", "\""}, {"&#39;", "'"},
    {"&amp;", "&"}};
  for (auto [from, to] : entities)
    for (auto at = s.find(from); at != std::string::npos;
         at = s.find(from, at + 1))
      s.replace(at, std::strlen(from), to);
  return s;
}

/// How often `needle` occurs in `hay`.
inline std::size_t occurrences(const std::string& hay,
                               const std::string& needle) {
  std::size_t n = 0;
  for (auto at = hay.find(needle); at != std::string::npos;
       at = hay.find(needle, at + 1))
    ++n;
  return n;
}

/// Loads http://127.0.0.1:PORT/#HASH and returns the rendered DOM without
/// the page's script, once the page's scripts and fetches are done
/// (Chromium's virtual time advances only while the page is idle; the page
/// marks the route it rendered with data-loaded). With
/// PERDURE_UI_SCREENSHOTS=DIR set and a `shot` name, also saves
/// DIR/SHOT.png (how docs/ui/ is made).
inline std::string chromium_dom(std::uint16_t port, const std::string& hash,
                                const std::filesystem::path& profile,
                                const std::string& shot = {}) {
  auto url = "http://127.0.0.1:" + std::to_string(port) + "/#" + hash;
  std::vector<std::string> common{
    "--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars",
    "--user-data-dir=" + profile.string(), "--virtual-time-budget=30000"};
  if (auto* shots = std::getenv("PERDURE_UI_SCREENSHOTS");
      shots && !shot.empty()) {
    auto args = common;
    args.push_back("--window-size=1200,800");
    args.push_back("--screenshot=" + std::string{shots} + "/" + shot
                   + ".png");
    args.push_back(url);
    auto r = run_program(chromium_path(), args);
    CHECK_MESSAGE(r.code == 0, r.err);
  }
  auto args = common;
  args.push_back("--dump-dom");
  args.push_back(url);
  auto r = run_program(chromium_path(), args);
  REQUIRE_MESSAGE(r.code == 0, r.err);
  REQUIRE_MESSAGE(r.out.find("data-loaded=") != std::string::npos, r.out);
  auto dom = r.out;
  auto script = dom.find("<script>");
  REQUIRE(script != std::string::npos);
  auto end = dom.find("</script>", script);
  REQUIRE(end != std::string::npos);
  return dom.erase(script, end - script);
}

} // namespace perdure::test
