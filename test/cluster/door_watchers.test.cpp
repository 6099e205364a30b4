// SPDX-License-Identifier: Apache-2.0
// A door keeps one promise per process watching it (to tell it when this
// process leaves) and lets go of a watcher whose process is gone: a door
// that lives through months of its peers' restarts holds only the live
// ones. Two doors in one process stand for two processes: destroying one
// closes its actor system and its connections, as a killed process does.

#include <doctest/doctest.h>

#include "engine_door.hpp"

#include "wait_until.hpp"

#include <atomic>
#include <memory>
#include <string>

using namespace perdure;
using namespace perdure::cluster;
using namespace perdure::test;

namespace {

std::unique_ptr<engine_door> open_door() {
  auto d = engine_door::start(
    "127.0.0.1:0", [](std::uint8_t, const std::string&, const std::string&,
                      const std::string&) -> result<std::string> {
      return std::string{};
    });
  REQUIRE_MESSAGE(d.has_value(), d.as_status().to_string());
  return std::move(*d);
}

} // namespace

TEST_CASE("a door lets go of a watcher whose process is gone, and tells a live one that it leaves") {
  auto a = open_door();
  {
    auto b = open_door();
    b->watch(a->endpoint(), [](const std::string&) {});
    REQUIRE(wait_until([&] { return a->watching() == 1; }));
    CHECK(a->watched_by() == 1);
  } // b's process is gone: its connection to a closes
  CHECK(wait_until([&] { return a->watching() == 0; }));
  // A live watcher hears the leave, and is then let go too.
  auto c = open_door();
  std::atomic<int> gone{0};
  c->watch(a->endpoint(), [&](const std::string& endpoint) {
    if (endpoint == a->endpoint())
      ++gone;
  });
  REQUIRE(wait_until([&] { return a->watching() == 1; }));
  CHECK(a->watched_by() == 2);
  a->leave();
  CHECK(wait_until([&] { return gone.load() == 1; }));
  CHECK(a->watching() == 0);
}
