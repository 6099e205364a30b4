// SPDX-License-Identifier: Apache-2.0
// Schedule specs: intervals, cron macros and five cron fields in UTC, the
// next tick after a time, and clear errors for bad specs.

#include <doctest/doctest.h>

#include "perdure/runtime/schedule.hpp"

#include <ctime>
#include <string>

using namespace perdure;
using detail::schedule_spec;
using clock_t_ = std::chrono::system_clock;

namespace {

// "YYYY-MM-DD HH:MM:SS" in UTC.
clock_t_::time_point utc(const char* text) {
  std::tm tm{};
  REQUIRE(strptime(text, "%Y-%m-%d %H:%M:%S", &tm) != nullptr);
  return clock_t_::from_time_t(timegm(&tm));
}

clock_t_::time_point next(const char* spec, const char* after) {
  auto s = schedule_spec::parse(spec);
  REQUIRE_MESSAGE(s, s.error().to_string());
  return s->next_after(utc(after));
}

} // namespace

TEST_CASE("an interval ticks at its multiples since the epoch") {
  using namespace std::chrono;
  auto s = schedule_spec::parse("every 100ms");
  REQUIRE(s);
  auto t = utc("2026-12-04 10:00:00") + milliseconds{250};
  CHECK(s->next_after(t) == utc("2026-12-04 10:00:00") + milliseconds{300});
  CHECK(s->next_after(s->next_after(t))
        == utc("2026-12-04 10:00:00") + milliseconds{400});
  CHECK(next("@every 5m", "2026-12-04 10:03:00")
        == utc("2026-12-04 10:05:00"));
  CHECK(next("every 1d", "2026-12-04 10:03:00")
        == utc("2026-12-05 00:00:00"));
}

TEST_CASE("cron fields find the next matching minute in UTC") {
  CHECK(next("0 2 * * *", "2026-12-04 01:59:30")
        == utc("2026-12-04 02:00:00"));
  CHECK(next("0 2 * * *", "2026-12-04 02:00:00")
        == utc("2026-12-05 02:00:00"));
  // 2026-12-05 is a Saturday: weekdays 9..17 every 15 minutes.
  CHECK(next("*/15 9-17 * * 1-5", "2026-12-05 08:00:00")
        == utc("2026-12-07 09:00:00"));
  CHECK(next("*/15 9-17 * * 1-5", "2026-12-07 17:45:00")
        == utc("2026-12-08 09:00:00"));
  CHECK(next("@monthly", "2026-12-04 00:00:00")
        == utc("2027-01-01 00:00:00"));
  CHECK(next("30 4 1,15 * *", "2026-12-02 00:00:00")
        == utc("2026-12-15 04:30:00"));
  // Both day fields restricted: either matches (13th, or a Friday).
  CHECK(next("0 0 13 * 5", "2026-12-05 00:00:00")
        == utc("2026-12-11 00:00:00"));
  CHECK(next("0 0 13 * 5", "2026-12-11 00:00:00")
        == utc("2026-12-13 00:00:00"));
  CHECK(next("0 0 * * 7", "2026-12-04 00:00:00")
        == utc("2026-12-06 00:00:00")); // Sunday as 7
  CHECK(next("0 12 29 2 *", "2026-03-01 00:00:00")
        == utc("2028-02-29 12:00:00"));
  CHECK(next("0 0 30 2 *", "2026-01-01 00:00:00")
        == clock_t_::time_point::max()); // never
}

TEST_CASE("a bad schedule spec is invalid_argument naming what is wrong") {
  for (const char* bad : {"", "every", "every 5", "every 0s", "every 5w",
                          "* * * *", "60 * * * *", "* 24 * * *",
                          "* * 0 * *", "* * * 13 *", "* * * * 8",
                          "*/0 * * * *", "5-1 * * * *", "a * * * *",
                          "@sometimes"}) {
    INFO("spec '" << bad << "'");
    auto s = schedule_spec::parse(bad);
    REQUIRE_FALSE(s);
    CHECK(s.error() == errc::invalid_argument);
    CHECK_FALSE(s.error().message().empty());
  }
}
