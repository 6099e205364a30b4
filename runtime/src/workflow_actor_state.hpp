// SPDX-License-Identifier: Apache-2.0
#pragma once

// The workflow actor's state and the helpers its two translation units
// share: workflow_actor.cpp (behaviour, commits, finishing) and
// workflow_attempts.cpp (starting attempts, event waits, step timeouts).

#include "step_attempt.hpp"
#include "workflow_actor.hpp"

#include <atomic>
#include <cstdint>
#include <deque>
#include <memory>
#include <optional>
#include <unordered_map>
#include <utility>
#include <vector>

CAF_ALLOW_UNSAFE_MESSAGE_TYPE(std::shared_ptr<perdure::detail::step_done>)

namespace perdure::detail {

using commit_atom = caf::atom_constant<caf::atom("commit")>;
using dispatch_atom = caf::atom_constant<caf::atom("dispatch")>;
using done_atom = caf::atom_constant<caf::atom("done")>;
using timeout_atom = caf::atom_constant<caf::atom("timeout")>;

/// A batch submitted to the log and not yet known durable by the actor.
struct pending_batch {
  plan p;
  /// Attempts the batch dispatches that its completion queues in the step
  /// pool as soon as the batch is durable (no hop through the actor):
  /// counted in `running` from submit on, their links in `links`.
  std::vector<std::shared_ptr<attempt_link>> launched;
};

/// The key of an attempt in workflow_state::links.
inline std::uint64_t attempt_key(std::uint32_t node, int attempt) {
  return (std::uint64_t{node} << 32) | static_cast<std::uint32_t>(attempt);
}

struct workflow_state {
  std::shared_ptr<run_state> st;
  engine::impl* eng = nullptr;
  std::uint64_t next_batch = 0;
  std::deque<pending_batch> pending; ///< submitted, not yet durable (FIFO)
  /// Batches submitted whose completion has not run yet (it counts down on
  /// the log's thread, before its commit message reaches this actor).
  std::shared_ptr<std::atomic<std::uint32_t>> in_log =
    std::make_shared<std::atomic<std::uint32_t>>(0);
  int running = 0;          ///< attempts in the step pool
  /// The links of those attempts, by attempt_key (a fan-out of n steps
  /// finds each result's in constant time, not in n).
  std::unordered_multimap<std::uint64_t, std::shared_ptr<attempt_link>> links;
  std::vector<std::shared_ptr<event_wait>> waits; ///< armed event waits
  /// Attempts of race losers whose links were cut: a result of theirs
  /// already on its way is dropped (their `running` was counted down).
  std::vector<std::pair<std::uint32_t, int>> cut;
  /// Bumped when the run continues as new: messages of attempts, waits,
  /// retries and timeouts carry the generation they were made in, and
  /// those of an earlier run are dropped.
  std::uint64_t gen = 0;
  /// A continue-as-new plan waiting for the batches before it to be
  /// durable (it archives their records); nothing starts meanwhile.
  std::optional<plan> continuing;
  bool ended = false;       ///< the terminal record is durable
  bool stopping = false;
  bool abandon = false; ///< shutdown: stop waiting for running bodies
  bool canceled_elsewhere = false; ///< another writer logged the cancel
  status fatal;             ///< a commit failed: the run cannot go on
};

using workflow_actor = caf::stateful_actor<workflow_state>;

/// Logs `p`'s batch (in order) and drops the waits and links of the race
/// losers it names; readies the steps it dispatches. @pre the caller does
/// not hold the run's lock (`st->mu`).
void submit(workflow_actor* self, plan p);
/// Drops every armed event wait (their sources offer the events again).
void drop_waits(workflow_actor* self);
/// Ends the actor once nothing is in flight and the run is over.
void maybe_finish(workflow_actor* self);
/// Tells the sources of `nodes` that their events are durable.
void notify_checkpointed(workflow_actor* self,
                         const std::vector<std::uint32_t>& nodes);
/// Starts attempt `attempt` of `node` (step pool or event wait).
void start_attempt(workflow_actor* self, std::uint32_t node, int attempt);
/// Makes attempt `attempt` of `node` ready for the step pool before the
/// batch that dispatches it is durable; its completion launches it. Event
/// nodes and local steps are left to start_attempt (false, nothing done),
/// which runs a local step on the actor's thread; true when the
/// attempt was handled: `out` holds it, or it must not start (or failed at
/// once, its result sent).
bool ready_early(workflow_actor* self, std::uint32_t node, int attempt,
                 std::optional<ready_attempt>& out);
/// Takes back the launched attempts of pending batches that must no longer
/// start (the run ended or stops, their node lost a race) while their
/// bodies have not begun.
void recheck_launched(workflow_actor* self);
/// Takes back the launched attempts of `b`, whose commit failed.
void drop_launched(workflow_actor* self, pending_batch& b);
/// Continue-as-new (p.next set): cancels what the old run runs and
/// completes `p` once the batches before it are durable.
void continue_as_new(workflow_actor* self, plan p);
/// Completes and submits the waiting continue-as-new plan when the
/// batches before it are durable (drops it when the run stops).
void maybe_continue(workflow_actor* self);
/// The step timeout of `node`'s attempt came (see workflow_attempts.cpp);
/// not yet: another check is armed when `again`.
void check_timeout(workflow_actor* self, std::uint32_t node, int attempt,
                   bool again = true);
/// The actor's current generation and its run's state hold for a message
/// made in generation `gen`.
inline bool current(const workflow_state& s, std::uint64_t gen) {
  return gen == s.gen && !s.continuing;
}

} // namespace perdure::detail
