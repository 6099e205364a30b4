// SPDX-License-Identifier: Apache-2.0
// Human formatting for the CLI.

#include "format.hpp"

#include <algorithm>
#include <charconv>
#include <ctime>
#include <ostream>

#include <fmt/format.h>

namespace perdure::tools {

// -- colours ------------------------------------------------------------------

std::string paint(std::string_view text, style s, bool color) {
  if (!color || s == style::none)
    return std::string{text};
  const char* code = "";
  switch (s) {
    case style::none: break;
    case style::bold: code = "1"; break;
    case style::dim: code = "2"; break;
    case style::red: code = "31"; break;
    case style::green: code = "32"; break;
    case style::yellow: code = "33"; break;
    case style::cyan: code = "36"; break;
  }
  return fmt::format("\x1b[{}m{}\x1b[0m", code, text);
}

style status_style(std::string_view status) {
  if (status == "successful" || status == "succeeded")
    return style::green;
  if (status == "failed")
    return style::red;
  if (status == "running" || status == "retrying")
    return style::cyan;
  if (status == "resumable" || status == "continued")
    return style::yellow;
  if (status == "canceled" || status == "pending")
    return style::dim;
  return style::none;
}

std::size_t display_width(std::string_view text) {
  std::size_t n = 0;
  for (unsigned char c : text)
    if ((c & 0xC0) != 0x80)
      ++n;
  return n;
}

// -- numbers ------------------------------------------------------------------

std::string group_digits(std::uint64_t n) {
  auto digits = std::to_string(n);
  std::string out;
  for (std::size_t i = 0; i < digits.size(); ++i) {
    if (i > 0 && (digits.size() - i) % 3 == 0)
      out += ',';
    out += digits[i];
  }
  return out;
}

std::string human_size(std::uint64_t bytes) {
  static constexpr const char* units[] = {"B", "KiB", "MiB", "GiB", "TiB"};
  if (bytes < 1024)
    return fmt::format("{} B", bytes);
  double v = static_cast<double>(bytes);
  std::size_t u = 0;
  while (v >= 1024 && u + 1 < std::size(units)) {
    v /= 1024;
    ++u;
  }
  return v < 10 ? fmt::format("{:.2f} {}", v, units[u])
                : v < 100 ? fmt::format("{:.1f} {}", v, units[u])
                          : fmt::format("{:.0f} {}", v, units[u]);
}

std::string human_duration(std::int64_t ns) {
  if (ns < 0)
    return "-";
  if (ns < 1'000)
    return fmt::format("{} ns", ns);
  auto d = static_cast<double>(ns);
  if (ns < 1'000'000)
    return fmt::format("{:.1f} µs", d / 1e3);
  if (ns < 1'000'000'000)
    return fmt::format("{:.2f} ms", d / 1e6);
  if (ns < 60'000'000'000)
    return fmt::format("{:.2f} s", d / 1e9);
  auto s = ns / 1'000'000'000;
  if (s < 3600)
    return fmt::format("{}m{:02}s", s / 60, s % 60);
  if (s < 86400)
    return fmt::format("{}h{:02}m", s / 3600, (s % 3600) / 60);
  return fmt::format("{}d{:02}h", s / 86400, (s % 86400) / 3600);
}

// -- times --------------------------------------------------------------------

namespace {

struct split_time {
  std::tm tm{};
  std::int64_t sub_ns = 0; // 0..999'999'999
  long offset_s = 0;       // local offset east of UTC
};

split_time split(eventlog::time_ns t, bool utc) {
  split_time out;
  auto secs = t / 1'000'000'000;
  out.sub_ns = t % 1'000'000'000;
  if (out.sub_ns < 0) {
    out.sub_ns += 1'000'000'000;
    --secs;
  }
  auto tt = static_cast<std::time_t>(secs);
  if (utc) {
    ::gmtime_r(&tt, &out.tm);
  } else {
    ::localtime_r(&tt, &out.tm);
    out.offset_s = out.tm.tm_gmtoff;
  }
  return out;
}

} // namespace

std::string human_time(eventlog::time_ns t, bool utc) {
  if (t == 0)
    return "-";
  auto s = split(t, utc);
  return fmt::format("{:04}-{:02}-{:02} {:02}:{:02}:{:02}.{:03}{}",
                     s.tm.tm_year + 1900, s.tm.tm_mon + 1, s.tm.tm_mday,
                     s.tm.tm_hour, s.tm.tm_min, s.tm.tm_sec,
                     s.sub_ns / 1'000'000, utc ? "Z" : "");
}

std::string iso_time(eventlog::time_ns t, bool utc) {
  auto s = split(t, utc);
  std::string zone = "Z";
  if (!utc) {
    auto off = s.offset_s;
    char sign = off < 0 ? '-' : '+';
    off = off < 0 ? -off : off;
    zone = fmt::format("{}{:02}:{:02}", sign, off / 3600, (off % 3600) / 60);
  }
  return fmt::format("{:04}-{:02}-{:02}T{:02}:{:02}:{:02}.{:06}{}",
                     s.tm.tm_year + 1900, s.tm.tm_mon + 1, s.tm.tm_mday,
                     s.tm.tm_hour, s.tm.tm_min, s.tm.tm_sec, s.sub_ns / 1000,
                     zone);
}

bool parse_time(std::string_view text, bool utc, eventlog::time_ns& out) {
  auto all_digits = !text.empty() && std::all_of(text.begin(), text.end(), [](char c) {
    return c >= '0' && c <= '9';
  });
  if (all_digits && text.size() > 8) {
    auto [p, ec] = std::from_chars(text.data(), text.data() + text.size(), out);
    return ec == std::errc{} && p == text.data() + text.size();
  }
  int y = 0, mo = 0, d = 0, h = 0, mi = 0, s = 0, used = 0;
  std::string buf{text};
  if (std::sscanf(buf.c_str(), "%4d-%2d-%2d%*1[T ]%2d:%2d:%2d%n", &y, &mo, &d,
                  &h, &mi, &s, &used)
        != 6
      || used <= 0)
    return false;
  // time_ns spans the years 1677..2262.
  if (y < 1678 || y > 2261 || mo < 1 || mo > 12 || d < 1 || d > 31 || h > 23
      || mi > 59 || s > 60)
    return false;
  std::string_view rest = text.substr(static_cast<std::size_t>(used));
  std::int64_t frac = 0;
  if (!rest.empty() && rest.front() == '.') {
    rest.remove_prefix(1);
    int n = 0;
    while (!rest.empty() && rest.front() >= '0' && rest.front() <= '9') {
      if (n < 9) {
        frac = frac * 10 + (rest.front() - '0');
        ++n;
      }
      rest.remove_prefix(1);
    }
    if (n == 0)
      return false;
    for (; n < 9; ++n)
      frac *= 10;
  }
  std::tm tm{};
  tm.tm_year = y - 1900;
  tm.tm_mon = mo - 1;
  tm.tm_mday = d;
  tm.tm_hour = h;
  tm.tm_min = mi;
  tm.tm_sec = s;
  std::int64_t secs = 0;
  if (rest.empty() && !utc) {
    tm.tm_isdst = -1;
    secs = ::mktime(&tm);
  } else {
    long offset = 0;
    if (!rest.empty() && rest != "Z") {
      int oh = 0, om = 0;
      char sign = rest.front();
      std::string zone{rest.substr(1)};
      if ((sign != '+' && sign != '-')
          || std::sscanf(zone.c_str(), "%2d:%2d", &oh, &om) != 2)
        return false;
      offset = (sign == '-' ? -1 : 1) * (oh * 3600L + om * 60L);
    }
    secs = ::timegm(&tm) - offset;
  }
  out = secs * 1'000'000'000 + frac;
  return true;
}

// -- tables -------------------------------------------------------------------

table::table(std::vector<std::string> headers, std::vector<std::size_t> right)
  : headers_(std::move(headers)), right_(headers_.size(), false) {
  for (auto c : right)
    if (c < right_.size())
      right_[c] = true;
}

void table::add(std::vector<cell> row) {
  row.resize(headers_.size(), cell{""});
  rows_.push_back(std::move(row));
}

void table::print(std::ostream& out, bool color) const {
  std::vector<std::size_t> width(headers_.size(), 0);
  for (std::size_t c = 0; c < headers_.size(); ++c) {
    width[c] = display_width(headers_[c]);
    for (auto& row : rows_)
      width[c] = std::max(width[c], display_width(row[c].text));
  }
  auto line = [&](const std::vector<cell>& row, bool header) {
    std::string text;
    for (std::size_t c = 0; c < row.size(); ++c) {
      auto pad = std::string(width[c] - display_width(row[c].text), ' ');
      auto look = header ? style::bold : row[c].look;
      auto painted = paint(row[c].text, look, color);
      if (c > 0)
        text += "  ";
      text += right_[c] ? pad + painted : painted + pad;
    }
    while (!text.empty() && text.back() == ' ')
      text.pop_back();
    out << text << '\n';
  };
  std::vector<cell> head;
  for (auto& h : headers_)
    head.emplace_back(h);
  line(head, true);
  for (auto& row : rows_)
    line(row, false);
}

void print_fields(std::ostream& out,
                  const std::vector<std::pair<std::string, cell>>& fields,
                  bool color) {
  std::size_t width = 0;
  for (auto& [k, v] : fields)
    width = std::max(width, display_width(k));
  for (auto& [k, v] : fields)
    out << paint(k + ":", style::bold, color)
        << std::string(width - display_width(k) + 1, ' ')
        << paint(v.text, v.look, color) << '\n';
}

} // namespace perdure::tools
