// SPDX-License-Identifier: Apache-2.0
#pragma once

// The retry wait of a failed step attempt (step_options::retry_backoff,
// retry_backoff_max, retry_jitter), as the engine computes it: pure
// functions, so a policy's delays can be checked without a clock.

#include <chrono>
#include <string_view>

namespace perdure {

/// The wait before attempt `failed + 1` after attempt `failed` (>= 1)
/// failed: `backoff * 2^(failed - 1)` (the exponent capped at 16), capped
/// at `max` when `max` > 0, then scaled by `1 - jitter * draw` (rounded to
/// the millisecond). `jitter` in [0, 1], `draw` in [0, 1). Zero when
/// `backoff` is zero or negative.
std::chrono::milliseconds retry_delay(std::chrono::milliseconds backoff,
                                      std::chrono::milliseconds max,
                                      double jitter, int failed,
                                      double draw) noexcept;

/// The engine's jitter draw in [0, 1) for attempt `failed` of step `step`
/// of workflow `workflow`: a hash of the three, so it differs between
/// workflows and attempts but is the same on every run (a resumed
/// workflow waits as the crashed one would have).
double retry_draw(std::string_view workflow, std::string_view step,
                  int failed) noexcept;

} // namespace perdure
