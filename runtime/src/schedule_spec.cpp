// SPDX-License-Identifier: Apache-2.0
// Schedule specs: an interval (`every 5m`), a cron macro (`@daily`) or five
// cron fields, all in UTC, and the next tick after a time.

#include "perdure/runtime/schedule.hpp"

#include <fmt/format.h>

#include <charconv>
#include <ctime>
#include <vector>

namespace perdure::detail {

namespace {

using clock = std::chrono::system_clock;

result<std::uint64_t> parse_number(std::string_view s, std::string_view what) {
  std::uint64_t v = 0;
  auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (s.empty() || ec != std::errc{} || p != s.data() + s.size())
    return unexpected{errc::invalid_argument,
                      fmt::format("'{}' is not a number in the {} field", s,
                                  what)};
  return v;
}

// One cron field (`lo`..`hi` allowed) as a bit set.
result<std::uint64_t> parse_field(std::string_view f, unsigned lo,
                                  unsigned hi, std::string_view what) {
  std::uint64_t bits = 0;
  while (!f.empty()) {
    auto item = f.substr(0, f.find(','));
    f.remove_prefix(std::min(f.size(), item.size() + 1));
    std::uint64_t step = 1, a = lo, b = hi;
    if (auto slash = item.find('/'); slash != std::string_view::npos) {
      auto s = parse_number(item.substr(slash + 1), what);
      if (!s)
        return std::move(s).error();
      if (*s == 0)
        return unexpected{errc::invalid_argument,
                          fmt::format("a step of 0 in the {} field", what)};
      step = *s;
      item = item.substr(0, slash);
    }
    if (item != "*") {
      auto dash = item.find('-');
      auto x = parse_number(item.substr(0, dash), what);
      if (!x)
        return std::move(x).error();
      a = b = *x;
      if (dash != std::string_view::npos) {
        auto y = parse_number(item.substr(dash + 1), what);
        if (!y)
          return std::move(y).error();
        b = *y;
      } else if (step > 1) {
        b = hi; // `a/n`: from a to the end
      }
    }
    if (a < lo || b > hi || a > b)
      return unexpected{errc::invalid_argument,
                        fmt::format("'{}' is outside {}..{} in the {} field",
                                    item, lo, hi, what)};
    for (auto v = a; v <= b; v += step)
      bits |= std::uint64_t{1} << v;
  }
  if (bits == 0)
    return unexpected{errc::invalid_argument,
                      fmt::format("an empty {} field", what)};
  return bits;
}

bool has(std::uint64_t bits, int v) {
  return (bits >> v) & 1U;
}

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t'))
    s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t'))
    s.remove_suffix(1);
  return s;
}

} // namespace

result<schedule_spec> schedule_spec::parse(std::string_view text) {
  auto t = trim(text);
  schedule_spec out;
  for (auto prefix : {std::string_view{"@every "}, std::string_view{"every "}})
    if (t.starts_with(prefix)) {
      auto v = trim(t.substr(prefix.size()));
      auto unit_at = v.find_first_not_of("0123456789");
      if (unit_at == 0 || unit_at == std::string_view::npos)
        return unexpected{errc::invalid_argument,
                          fmt::format("bad interval '{}': a number and a "
                                      "unit (ms, s, m, h, d), e.g. 'every "
                                      "5m'",
                                      v)};
      auto n = parse_number(v.substr(0, unit_at), "interval");
      if (!n)
        return std::move(n).error();
      auto unit = v.substr(unit_at);
      using namespace std::chrono;
      nanoseconds one{0};
      if (unit == "ms")
        one = milliseconds{1};
      else if (unit == "s")
        one = seconds{1};
      else if (unit == "m")
        one = minutes{1};
      else if (unit == "h")
        one = hours{1};
      else if (unit == "d")
        one = hours{24};
      if (one.count() == 0 || *n == 0 || *n > 100'000'000)
        return unexpected{errc::invalid_argument,
                          fmt::format("bad interval '{}': a number from 1 "
                                      "and a unit (ms, s, m, h, d)",
                                      v)};
      out.every_ = one * static_cast<std::int64_t>(*n);
      return out;
    }
  std::string_view cron = t;
  if (t == "@hourly")
    cron = "0 * * * *";
  else if (t == "@daily" || t == "@midnight")
    cron = "0 0 * * *";
  else if (t == "@weekly")
    cron = "0 0 * * 0";
  else if (t == "@monthly")
    cron = "0 0 1 * *";
  else if (t == "@yearly" || t == "@annually")
    cron = "0 0 1 1 *";
  std::vector<std::string_view> fields;
  while (!(cron = trim(cron)).empty()) {
    auto end = cron.find_first_of(" \t");
    fields.push_back(cron.substr(0, end));
    cron.remove_prefix(std::min(cron.size(), fields.back().size()));
  }
  if (fields.size() != 5)
    return unexpected{errc::invalid_argument,
                      fmt::format("bad schedule '{}': 'every <n><unit>', a "
                                  "macro (@hourly, @daily, @weekly, "
                                  "@monthly, @yearly) or five cron fields "
                                  "(minute hour day month weekday, UTC)",
                                  text)};
  auto mi = parse_field(fields[0], 0, 59, "minute");
  auto ho = parse_field(fields[1], 0, 23, "hour");
  auto da = parse_field(fields[2], 1, 31, "day-of-month");
  auto mo = parse_field(fields[3], 1, 12, "month");
  auto wd = parse_field(fields[4], 0, 7, "day-of-week");
  for (auto* r : {&mi, &ho, &da, &mo, &wd})
    if (!*r)
      return unexpected{errc::invalid_argument,
                        fmt::format("bad schedule '{}': {}", text,
                                    r->error().message())};
  out.minutes_ = *mi;
  out.hours_ = static_cast<std::uint32_t>(*ho);
  out.days_ = static_cast<std::uint32_t>(*da);
  out.months_ = static_cast<std::uint32_t>(*mo);
  auto w = *wd;
  if (has(w, 7))
    w |= 1; // Sunday is 0 or 7
  out.weekdays_ = static_cast<std::uint8_t>(w & 0x7F);
  out.any_day_ = fields[2].starts_with('*');
  out.any_weekday_ = fields[4].starts_with('*');
  return out;
}

clock::time_point schedule_spec::next_after(clock::time_point t) const {
  using namespace std::chrono;
  if (every_.count() > 0) {
    auto since = duration_cast<nanoseconds>(t.time_since_epoch());
    auto n = since.count() >= 0 ? since / every_ + 1 : 0;
    return clock::time_point{duration_cast<clock::duration>(every_ * n)};
  }
  // Whole minutes, strictly after t, field by field in UTC.
  clock::time_point s = floor<minutes>(t) + minutes{1};
  auto limit = s + hours{24 * 366 * 5};
  while (s < limit) {
    std::time_t tt = clock::to_time_t(s); // whole minutes: exact
    std::tm tm{};
    gmtime_r(&tt, &tm);
    auto at = [&](int mon, int mday, int hour, int min) {
      std::tm n{};
      n.tm_year = tm.tm_year;
      n.tm_mon = mon;
      n.tm_mday = mday;
      n.tm_hour = hour;
      n.tm_min = min;
      return clock::from_time_t(timegm(&n));
    };
    if (!has(months_, tm.tm_mon + 1)) {
      s = at(tm.tm_mon + 1, 1, 0, 0); // timegm normalises month 12
      continue;
    }
    bool dom = has(days_, tm.tm_mday), dow = has(weekdays_, tm.tm_wday);
    bool day = any_day_ && any_weekday_ ? true
               : any_day_              ? dow
               : any_weekday_          ? dom
                                       : dom || dow;
    if (!day) {
      s = at(tm.tm_mon, tm.tm_mday + 1, 0, 0);
      continue;
    }
    if (!has(hours_, tm.tm_hour)) {
      s = at(tm.tm_mon, tm.tm_mday, tm.tm_hour + 1, 0);
      continue;
    }
    if (!has(minutes_, tm.tm_min)) {
      s += minutes{1};
      continue;
    }
    return s;
  }
  return clock::time_point::max(); // never (e.g. 30 February)
}

} // namespace perdure::detail
