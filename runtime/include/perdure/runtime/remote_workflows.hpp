// SPDX-License-Identifier: Apache-2.0
#pragma once

// Workflows and actors that live in another engine: on a cluster, every
// partition has an engine of its own (cluster::engine_host); a child
// workflow whose id maps to another partition is started and followed on
// that partition's owner, and a call to an actor of another partition
// (from an actor method, a step body or any caller of the engine's
// actor_ref) runs on that owner. The engine reaches them through this interface
// (engine_options::remote); the runtime knows nothing of clusters.

#include "perdure/eventlog/status.hpp"
#include "perdure/runtime/options.hpp"

#include <functional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace perdure {

/// The mutating actor methods waiting on an actor call, outermost first,
/// as (actor id, method name). A method runs alone on its actor, so a call
/// onto an actor in it would wait on itself: it fails at once with
/// conflict naming the cycle, wherever the actor lives.
using actor_call_path = std::vector<std::pair<std::string, std::string>>;

/// Where workflows this engine does not store are started and followed.
/// Every member is called on the engine's own threads (the child source's,
/// an engine::cancel's caller) and may block for one request; none is
/// retried inside: an error in `transient()` is tried again later by the
/// caller. Implementations are thread-safe.
class remote_workflows {
 public:
  virtual ~remote_workflows() = default;

  /// Whether workflow or actor `id` lives elsewhere (the engine's
  /// accept_id would refuse it for that reason). Quick, no request.
  virtual bool elsewhere(std::string_view id) const = 0;

  /// Starts child workflow `id` where it lives, its graph `graph`
  /// (encode_workflow_graph's bytes), its metadata naming `parent` and
  /// `parent_step` (records::parent_key, parent_step_key), and answers
  /// once it is durable there. Idempotent: when `id` is stored or live
  /// already as that parent step's child, ok and nothing else happens, so
  /// a start sent again (a lost answer, the parent's owner changed) starts
  /// one child. Errors: conflict only when the other side shows `id` is
  /// another workflow (not this parent step's child; it fails the parent's
  /// node for good), invalid_argument / not_found for a graph the other
  /// side cannot run, transient ones (busy, closed, io, timeout) for
  /// everything on the way (an owner not known yet or changing).
  virtual perdure::status start_child(const std::string& id,
                                      const std::string& graph,
                                      const std::string& parent,
                                      const std::string& parent_step) = 0;

  /// The reads below: a conflict is taken as transient (the way to the
  /// child, not the child).
  /// engine::try_status of `id` where it lives.
  virtual result<workflow_status> status(const std::string& id) = 0;
  /// The stored output of finished workflow `id` (engine::output_bytes).
  virtual result<std::string> output_bytes(const std::string& id) = 0;
  /// Why failed workflow `id` failed (its metadata's error text).
  virtual result<std::string> failure(const std::string& id) = 0;
  /// engine::try_cancel of `id` where it lives.
  virtual perdure::status cancel(const std::string& id) = 0;
  /// engine::try_resume of `id` where it lives (a child stored resumable
  /// that its engine did not resume).
  virtual perdure::status resume(const std::string& id) = 0;

  /// Takes what wakes the engine's follow-up of child `id` (its next look
  /// happens at once instead of after its pause): the implementation
  /// calls it when the other side tells it that `id` ended. A hint only:
  /// without it a child's end is seen at the next look (at most a second
  /// later). Called once by the engine, before its first remote child;
  /// `wake` is thread-safe and quick. Default: no hints.
  virtual void set_wake(std::function<void(const std::string& id)> wake) {
    (void) wake;
  }

  /// Calls method `method` of virtual actor `id` (class `cls`, its
  /// registered name) where the actor lives, with `args` (the encoded
  /// argument tuple) and idempotency key `key` (empty: a readonly method),
  /// and waits for the answer: the encoded result, or the call's error
  /// (failed when the method threw). Unlike the members above it is tried
  /// again inside, by its key, until it is answered or the
  /// implementation's deadline passes (timeout): the caller waits for it
  /// as for a local call. A mutating call answered once is applied once
  /// per key (within the actor's key window). Called on an actor pool
  /// thread or the caller's (an actor_ref of an actor that is
  /// `elsewhere`). `waiting`: the mutating methods that wait on this call
  /// (empty: none, the caller is no actor method); the side where the
  /// actor lives fails the call with conflict when the actor is among
  /// them. Default: conflict, no actor is reachable elsewhere.
  virtual result<std::string> call_actor(const std::string& id,
                                         const std::string& cls,
                                         const std::string& method,
                                         const std::string& key,
                                         std::string args,
                                         const actor_call_path& waiting) {
    (void) cls, (void) method, (void) key, (void) args, (void) waiting;
    return unexpected{errc::conflict,
                      "actor '" + id
                        + "' lives elsewhere and this engine cannot call it"};
  }

  /// Whether an error of the members above is worth trying again (the
  /// other side unreachable, busy, changing owner).
  static bool transient(errc c) noexcept {
    return c == errc::busy || c == errc::closed || c == errc::io ||
           c == errc::timeout;
  }
};

} // namespace perdure
