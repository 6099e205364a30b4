// SPDX-License-Identifier: Apache-2.0
// event_log::release: the storage is given up while the object lives on
// (held by code that outlived its owner), so it opens again at once; the
// old object then answers `closed`. A read that does not end keeps it.

#include "perdure/eventlog/event_log.hpp"

#include <doctest/doctest.h>

#include "temp_dir.hpp"
#include "wait_until.hpp"

#include <atomic>
#include <thread>

using namespace perdure;
using namespace perdure::eventlog;

namespace {

std::shared_ptr<event_log> open_shared(const std::filesystem::path& dir) {
  auto r = event_log::open({.dir = dir});
  REQUIRE_MESSAGE(r.has_value(), r.as_status().to_string());
  return std::shared_ptr<event_log>{std::move(*r)};
}

} // namespace

TEST_CASE("a released log's storage opens again at once and the old object answers closed") {
  test::temp_dir dir;
  auto log = open_shared(dir.path());
  REQUIRE(log->append("s", 1, "kept"));
  // Before release a second writer is refused.
  CHECK(event_log::open({.dir = dir.path()}).as_status().code()
        == errc::busy);
  CHECK(log->release(std::chrono::seconds{5}));
  auto again = open_shared(dir.path());
  CHECK(again->read("s")->front().payload == "kept");
  CHECK(log->read("s").as_status().code() == errc::closed);
  CHECK(log->append("s", 1, "lost").as_status().code() == errc::closed);
  CHECK(log->release(std::chrono::seconds{5})); // twice is harmless
  CHECK(again->read("s")->size() == 1);
}

TEST_CASE("a read that does not end keeps the storage open: release says so") {
  test::temp_dir dir;
  auto log = open_shared(dir.path());
  REQUIRE(log->append("s", 1, "x"));
  std::atomic<bool> inside{false}, go{false};
  std::thread reader{[&] {
    static_cast<void>(log->scan("s", 1, [&](const record_view&) {
      inside = true;
      while (!go)
        std::this_thread::yield();
      return false;
    }));
  }};
  REQUIRE(test::wait_until([&] { return inside.load(); }));
  CHECK_FALSE(log->release(std::chrono::milliseconds{50}));
  CHECK(log->read("s")->size() == 1); // still open
  go = true;
  reader.join();
  CHECK(log->release(std::chrono::seconds{5}));
  CHECK(log->read("s").as_status().code() == errc::closed);
}
