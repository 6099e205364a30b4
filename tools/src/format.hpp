// SPDX-License-Identifier: Apache-2.0
#pragma once

// Human output of the CLI: aligned tables, ANSI colours, times, sizes and
// durations in a form a person reads at a glance.

#include "perdure/eventlog/types.hpp"

#include <cstdint>
#include <iosfwd>
#include <string>
#include <string_view>
#include <vector>

namespace perdure::tools {

/// A colour or emphasis; `none` prints the text as is.
enum class style : std::uint8_t { none, bold, dim, red, green, yellow, cyan };

/// `text` wrapped in the ANSI codes of `s` when `color`, else `text` as is.
std::string paint(std::string_view text, style s, bool color);

/// The style a workflow, step or stream status is shown in.
style status_style(std::string_view status);

/// The number of terminal columns `text` takes (UTF-8 code points).
std::size_t display_width(std::string_view text);

/// "1,234,567".
std::string group_digits(std::uint64_t n);

/// "512 B", "3.4 KiB", "1.2 GiB".
std::string human_size(std::uint64_t bytes);

/// "850 ns", "12.3 µs", "1.25 ms", "3.40 s", "2m05s", "1h02m", "3d04h";
/// "-" for a negative value (unknown).
std::string human_duration(std::int64_t ns);

/// "2025-03-01 14:02:03.123" in local time, or with a trailing "Z" in UTC;
/// "-" for 0.
std::string human_time(eventlog::time_ns t, bool utc);

/// ISO 8601 with microseconds: "2025-03-01T14:02:03.123456+01:00" (local)
/// or "...Z" (UTC), for JSON output.
std::string iso_time(eventlog::time_ns t, bool utc);

/// Parses an ISO 8601 time ("2025-03-01T14:02:03", optional fraction, "Z" or
/// "+hh:mm"; a space may replace the "T"; without a zone it is local time,
/// or UTC when `utc`) or nanoseconds since the epoch. False when malformed.
bool parse_time(std::string_view text, bool utc, eventlog::time_ns& out);

/// One table cell: its text and style.
struct cell {
  std::string text;
  style look = style::none;
  cell(std::string t, style s = style::none) : text(std::move(t)), look(s) {
  }
  cell(const char* t, style s = style::none) : text(t), look(s) {
  }
};

/// A table printed with columns aligned to their widest cell.
class table {
 public:
  /// Columns named by `headers`; `right` lists the columns aligned right
  /// (numbers).
  explicit table(std::vector<std::string> headers,
                 std::vector<std::size_t> right = {});

  /// Adds a row; missing cells print empty. @pre at most as many cells as
  /// headers.
  void add(std::vector<cell> row);

  std::size_t rows() const noexcept {
    return rows_.size();
  }

  /// Prints the header (bold when `color`) and the rows, two spaces between
  /// columns, no trailing blanks.
  void print(std::ostream& out, bool color) const;

 private:
  std::vector<std::string> headers_;
  std::vector<bool> right_;
  std::vector<std::vector<cell>> rows_;
};

/// Prints "key: value" lines with the keys padded to the same width.
void print_fields(std::ostream& out,
                  const std::vector<std::pair<std::string, cell>>& fields,
                  bool color);

} // namespace perdure::tools
