// SPDX-License-Identifier: Apache-2.0
#include "perdure/eventlog/log_sink.hpp"

#include <cstdio>

namespace perdure::eventlog {

std::string_view to_string(log_level level) noexcept {
  switch (level) {
    case log_level::debug: return "debug";
    case log_level::info: return "info";
    case log_level::warning: return "warning";
    case log_level::error: return "error";
  }
  return "?";
}

log_sink stderr_log_sink() {
  return [](log_level level, std::string_view message) {
    auto name = to_string(level);
    // One write per message, so that concurrent messages do not interleave.
    std::fprintf(stderr, "perdure: %.*s: %.*s\n", static_cast<int>(name.size()),
                 name.data(), static_cast<int>(message.size()), message.data());
  };
}

void emit(const log_sink& sink, log_level level,
          std::string_view message) noexcept {
  try {
    if (sink)
      sink(level, message);
    else
      stderr_log_sink()(level, message);
  } catch (...) {
    // A sink that throws loses its message; perdure goes on.
  }
}

} // namespace perdure::eventlog
