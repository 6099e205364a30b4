// SPDX-License-Identifier: Apache-2.0
#pragma once

// A child node whose child lives in another engine (engine_options::remote,
// a cluster's other partition): the child source hands such waits here.
// The parent's children stream records the child first (the outbox entry:
// a resumed parent finds it and cancel reaches it), then the child is
// started where it lives (idempotent by its id), then followed there until
// it ended, with a growing pause between looks.

#include "child_index.hpp"

#include "perdure/runtime/engine.hpp"
#include "perdure/runtime/graph.hpp"
#include "perdure/runtime/remote_workflows.hpp"

#include <chrono>
#include <string>

namespace perdure::detail {

/// What the child source remembers of one remote child's wait.
struct remote_child_wait {
  std::string child;     ///< its id (set by the child source)
  bool recorded = false; ///< the parent's children stream names it
  bool started = false;  ///< started where it lives (answered ok)
  std::chrono::steady_clock::time_point next_look{};
  std::chrono::milliseconds pause{0};
};

/// Looks once at wait `w` of child `id` (which `remote` holds elsewhere):
/// records it, starts it, or asks how it ended; true once `w` was handed
/// the child's outcome (its output, or its failure, cancel or conflict).
/// False: look again at `s.next_look`. `kids`: the source's index of the
/// parents' children streams. Called on the child source's thread.
bool look_remote(engine& eng, remote_workflows& remote, event_wait& w,
                 const std::string& id, remote_child_wait& s,
                 children_index& kids);

} // namespace perdure::detail
