// SPDX-License-Identifier: Apache-2.0
#pragma once

// One step attempt between its workflow actor and the step pool: the body
// runner (CAF-free) and the link that carries its result back. The actor
// cuts the link when it no longer wants the result (its run ended canceled,
// or the engine abandoned the body at shutdown); a body returning after
// that touches nothing of its engine and its result is dropped, never
// logged.

#include "perdure/runtime/context.hpp"
#include "perdure/runtime/graph.hpp"
#include "perdure/runtime/metadata.hpp"

#include "engine_metrics.hpp"
#include "step_pool.hpp"

#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <utility>
#include <vector>

namespace perdure::detail {

/// What a step attempt sends back to its actor.
struct step_done {
  outcome out;
  std::vector<std::string> blobs;
  bool event = false; ///< from an event source, not the step pool
  std::vector<std::pair<std::string, std::int64_t>> offsets;
  /// A signal handed straight from its sender (signal_source.hpp):
  /// logged in the event's batch.
  std::shared_ptr<direct_event> direct;
  time_ns started = 0; ///< when the body began (0: it did not run)
  /// The actor's run generation when the attempt started (a result of an
  /// earlier run, before a continue-as-new, is dropped).
  std::uint64_t gen = 0;
};

/// The way back from one attempt's body to its actor. Thread-safe.
class attempt_link {
 public:
  using sink = std::function<void(std::shared_ptr<step_done>)>;

  /// `m` must outlive every call made while the link is connected (the
  /// engine cuts every link before its metrics go).
  attempt_link(sink to, const engine_metrics* m, std::uint32_t node,
               int attempt)
    : node(node), attempt(attempt), to_(std::move(to)), m_(m) {
  }

  /// Counts the body's start; false when the link is cut.
  bool begin();
  /// How long the body may still run under the start-to-close `limit`:
  /// all of it while it has not begun, zero or less once it is overdue.
  std::chrono::nanoseconds left(std::chrono::milliseconds limit) const;
  /// As left(), for the heartbeat limit `hb` (from the last heartbeat).
  std::chrono::nanoseconds beat_left(std::chrono::milliseconds hb) const;
  /// The body's last heartbeat (steady clock, ns; this_step::heartbeat).
  std::atomic<std::int64_t> beat{0};
  /// Hands `d` (and the body's run time `seconds`, if it ran) to the actor;
  /// drops it when the link is cut.
  void deliver(std::shared_ptr<step_done> d, double seconds = -1);
  /// Drops every later result; returns once no call is in flight.
  void cut();
  /// Cuts the link unless the body has begun (then it is left running and
  /// its result comes as any); true when it was cut before it began.
  bool cut_unbegun();

  const std::uint32_t node;
  const int attempt;
  /// The attempt's own stop flag (its step timeout passed), in its token.
  const std::shared_ptr<std::atomic<bool>> stop =
    std::make_shared<std::atomic<bool>>(false);

 private:
  std::atomic<std::int64_t> began_{0};
  std::mutex mu_;
  sink to_;
  const engine_metrics* m_;
};

/// What the pool runs for one attempt.
struct attempt_job {
  std::shared_ptr<attempt_link> link;
  std::shared_ptr<const step_def> def;
  std::vector<input> inputs;
  std::string workflow;
  std::string step;
  cancellation_token token;
  std::shared_ptr<blob_source> blobs;
  bool local = false; ///< runs on its actor's thread (step_options::local)

  /// "workflow 'W' step 'S' attempt N".
  std::string label() const;

  /// Runs the body on the calling thread (unless the token is set: then a
  /// `perdure::canceled` failure) and delivers the result.
  void operator()();
};

/// An attempt made ready by its actor (link made, inputs read, timeout
/// armed), to be queued in the step pool (or run by the actor: job.local).
struct ready_attempt {
  demand need;
  attempt_job job;
  std::shared_ptr<const std::atomic<bool>> skip; ///< the run's cancel flag
  std::string label;
};

/// Queues `a` in `pool`.
void launch(step_pool& pool, ready_attempt a);

} // namespace perdure::detail
