// SPDX-License-Identifier: Apache-2.0
#pragma once

// The metrics every engine keeps (engine::metrics()), registered once when
// the engine opens; the workflow actors update them through these pointers.

#include "perdure/eventlog/event_log.hpp"
#include "perdure/runtime/metrics.hpp"

#include <cstddef>
#include <functional>
#include <memory>

namespace perdure::detail {

struct engine_metrics {
  metrics::counter* steps_started = nullptr;   ///< step bodies invoked
  metrics::counter* steps_succeeded = nullptr; ///< bodies that returned
  metrics::counter* steps_failed = nullptr;    ///< bodies that threw
  metrics::histogram* step_seconds = nullptr;  ///< body run time
  metrics::histogram* commit_seconds = nullptr; ///< submit -> durable
  metrics::histogram* batch_records = nullptr;  ///< records per batch
  metrics::counter* external_cancels = nullptr; ///< canceled by another writer
  metrics::counter* runs_continued = nullptr;   ///< continue-as-new

  /// Registers the engine's metrics in `reg`.
  static engine_metrics create(metrics::registry& reg);

  /// Adds the families read at scrape time: workflows by status (live ones
  /// from `live_count`, the others from the log's status index) and the
  /// log writer's totals.
  static void add_callbacks(metrics::registry& reg,
                            std::weak_ptr<eventlog::event_log> log,
                            std::function<std::vector<std::string>()> live);
};

} // namespace perdure::detail
