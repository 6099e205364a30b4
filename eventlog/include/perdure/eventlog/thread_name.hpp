// SPDX-License-Identifier: Apache-2.0
#pragma once

// Names for perdure's threads, so that top -H, perf, gdb and
// /proc/PID/task/*/comm tell the log writer from a step worker.

#include <string_view>

namespace perdure::eventlog {

/// Names the calling thread `name` (Linux keeps at most 15 bytes; the rest
/// is cut). Best effort: a failure changes nothing and is not reported.
void set_thread_name(std::string_view name) noexcept;

} // namespace perdure::eventlog
