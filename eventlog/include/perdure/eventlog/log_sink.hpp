// SPDX-License-Identifier: Apache-2.0
#pragma once

// Where perdure reports what it cannot return to a caller: work abandoned at
// shutdown, a listener callback that threw, a Kafka broker that is away.
// The library never writes to stderr itself; it calls a log_sink.

#include <functional>
#include <string_view>

namespace perdure::eventlog {

enum class log_level : unsigned char { debug, info, warning, error };

/// "debug", "info", "warning" or "error".
std::string_view to_string(log_level level) noexcept;

/// Receives one message (without a trailing newline). Called from
/// perdure's own threads, possibly several at once: it must be thread-safe,
/// quick, must not throw (what it throws is dropped) and must not call back
/// into the engine.
using log_sink = std::function<void(log_level, std::string_view)>;

/// The default sink: "perdure: LEVEL: message" and a newline on stderr.
log_sink stderr_log_sink();

/// Sends `message` to `sink`, or to stderr_log_sink() when `sink` is empty;
/// an exception from the sink is dropped.
void emit(const log_sink& sink, log_level level, std::string_view message) noexcept;

} // namespace perdure::eventlog
