// SPDX-License-Identifier: Apache-2.0
#pragma once

// The engine's event source of wait_for_signal nodes (see
// include/perdure/runtime/signal.hpp and the "Signals" section of the
// runtime README): one thread per engine, started on first use, hands each
// armed wait the next unconsumed signal of its name from stream
// `signals/ID`, with the offset that consumes it.

#include "perdure/eventlog/event_log.hpp"
#include "perdure/runtime/graph.hpp"

#include <chrono>
#include <memory>
#include <mutex>
#include <string>

namespace perdure::detail {

class signal_source : public event_source {
 public:
  /// A signal for `workflow` was committed: look at its waits now.
  virtual void notify(const std::string& workflow) = 0;
};

/// Where the log's commit hook finds the engine's signal source. A signal
/// wakes its waits as soon as its commit is visible, before it is durable:
/// the wait's own batch commits after it, and a log makes its batches
/// durable in commit order, so the wait's step never starts on a signal
/// that could still be lost (and signal() still returns once durable).
struct signal_hub {
  std::mutex mu;
  std::weak_ptr<signal_source> source; ///< guarded by mu
  /// Wakes the source for each signal `b` appends. On the log's writer
  /// thread (eventlog::options::on_commit): quick, writes nothing.
  void committed(const eventlog::write_batch& b);
};

/// The source reading `log`. Signals written by another process (`perdure
/// signal`) are noticed within `poll` (the engine's
/// external_cancel_check).
std::shared_ptr<signal_source> make_signal_source(
  std::weak_ptr<eventlog::event_log> log, std::chrono::milliseconds poll);

/// The offset key of the signals named `name` of the signal stream created
/// at `created` (a removed workflow's reused id starts afresh).
std::string signal_offset_key(eventlog::time_ns created,
                              std::string_view workflow,
                              std::string_view name);

} // namespace perdure::detail
