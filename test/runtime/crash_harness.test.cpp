// The crash-at-every-write harness applied to the fibonacci (8-6) and trip
// booking (8-7) samples' workflows.

#include <doctest/doctest.h>
#include <perdure/perdure.hpp>
#include <perdure/runtime/crash_harness.hpp>

#include "temp_dir.hpp"

#include <atomic>
#include <string>
#include <vector>

using namespace perdure;

namespace {

// -- fibonacci (samples/fibonacci) ---------------------------------------------

flow<int> fib_impl(int n);
const auto add = step("add", [](int a, int b) { return a + b; });
const auto fib = step("fib", fib_impl);
flow<int> fib_impl(int n) {
  if (n <= 1)
    return n;
  return add(fib(n - 1), fib(n - 2));
}

// -- trip booking (samples/trip_booking) ---------------------------------------

std::atomic<int> bookings{0};

const auto book_flight = step("book_flight", [](std::string from,
                                                std::string to,
                                                std::string date) {
  ++bookings;
  return "flight " + from + "->" + to + " on " + date;
});
const auto book_hotel = step("book_hotel", [](std::string city,
                                              std::vector<std::string> dates) {
  ++bookings;
  return "hotel in " + city + " " + dates.front() + ".." + dates.back();
});
const auto finalize_or_cancel = step(
  "finalize_or_cancel",
  [](std::vector<std::string> flights, std::vector<std::string> hotels) {
    std::string receipt = "receipt:";
    for (auto& b : flights)
      receipt += " [" + b + "]";
    for (auto& b : hotels)
      receipt += " [" + b + "]";
    return receipt;
  });
const auto book_trip = step(
  "book_trip",
  [](std::string origin, std::string dest,
     std::vector<std::string> dates) -> flow<std::string> {
    auto f1 = book_flight(origin, dest, dates[0]);
    auto f2 = book_flight(dest, origin, dates[1]);
    auto hotel = book_hotel(dest, dates);
    return finalize_or_cancel(std::vector{f1, f2}, std::vector{hotel});
  });

} // namespace

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
  bookings = 0;
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
  CHECK(bookings < 3 * static_cast<int>(report.prefixes));
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
