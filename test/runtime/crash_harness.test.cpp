// SPDX-License-Identifier: Apache-2.0
// The crash-at-every-write harness applied to the fibonacci (8-6) and trip
// booking (8-7) samples' workflows (their headers under samples/).

#include <doctest/doctest.h>
#include <perdure/perdure.hpp>
#include <perdure/runtime/crash_harness.hpp>

#include "fibonacci/fibonacci.hpp"
#include "temp_dir.hpp"
#include "trip_booking/trip_booking.hpp"

#include <string>
#include <vector>

using namespace perdure;

using samples::fibonacci::fib;
using samples::trip_booking::book_trip;
using samples::trip_booking::bookings_made;

TEST_CASE("fibonacci resumes to the same output after a crash at every write") {
  test::temp_dir dir;
  auto report = testing::crash_at_every_write(fib(7), "fib7",
                                              {.work_dir = dir.path()});
  for (auto& f : report.failures)
    FAIL_CHECK(f);
  CHECK(report.ok());
  // fib(7) has dozens of steps; each step's success is one write at least.
  CHECK(report.writes > 20);
  CHECK(report.prefixes == report.writes + 1);
  // Only the empty prefix precedes the durable submission.
  CHECK(report.not_found == 1);
  CHECK(report.resumed == report.writes);
  MESSAGE("fib(7): " << report.writes << " writes, " << report.prefixes
                     << " prefixes resumed");
}

TEST_CASE("trip booking resumes to the same receipt after a crash at every write") {
  test::temp_dir dir;
  bookings_made = 0;
  auto wf = book_trip("OAK", "SAN", std::vector<std::string>{"6/12", "7/5"});
  auto report = testing::crash_at_every_write(wf, "trip",
                                              {.work_dir = dir.path()});
  for (auto& f : report.failures)
    FAIL_CHECK(f);
  CHECK(report.ok());
  CHECK(report.writes >= 4);
  CHECK(report.resumed + report.not_found == report.prefixes);
  // Each prefix re-runs only the bookings whose success it did not log: far
  // fewer than three per prefix.
  CHECK(bookings_made < 3 * static_cast<int>(report.prefixes));
}

TEST_CASE("the harness samples prefixes evenly when asked to") {
  test::temp_dir dir;
  auto report = testing::crash_at_every_write(fib(6), "fib6",
                                              {.work_dir = dir.path(),
                                               .max_prefixes = 4});
  CHECK(report.ok());
  CHECK(report.prefixes == 4);
  CHECK(report.not_found == 1);
}
