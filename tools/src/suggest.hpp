// SPDX-License-Identifier: Apache-2.0
#pragma once

// "Did you mean": the nearest names to a mistyped command, status or kind.

#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace CLI {
class App;
}

namespace perdure::tools {

struct cli_io;

/// The candidates closest to `word` (edit distance at most 2, or one being a
/// prefix of the other), nearest first; empty when none is close.
std::vector<std::string> nearest(std::string_view word,
                                 const std::vector<std::string>& candidates);

/// "did you mean 'a' or 'b'?" / "did you mean 'a'?", or "" for no names.
std::string did_you_mean(const std::vector<std::string>& names);

/// When the first word of the command line that is not an option (or an
/// option's value) names no subcommand of `app`, prints which command is
/// unknown, the nearest commands and `try_hint`, and returns exit code 2
/// (not found); otherwise nothing.
std::optional<int> reject_unknown_command(const CLI::App& app, int argc,
                                          const char* const* argv,
                                          const cli_io& io,
                                          const std::string& try_hint);

} // namespace perdure::tools
