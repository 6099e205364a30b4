// SPDX-License-Identifier: Apache-2.0
#pragma once

// Between the engine's actor system (actor_host.cpp) and the workflow
// actor (workflow_actor.cpp): the two translation units that include CAF.

#include "engine_impl.hpp"

#include <caf/all.hpp>

#include <memory>
#include <vector>

namespace perdure::detail {

// What the host asks of a workflow actor.
using cancel_atom = caf::atom_constant<caf::atom("cancel")>;
using stop_atom = caf::atom_constant<caf::atom("stop")>;
using abandon_atom = caf::atom_constant<caf::atom("abandon")>;
/// Look whether another process logged your cancel (sent to every live
/// workflow actor every engine_options::external_cancel_check).
using check_atom = caf::atom_constant<caf::atom("check")>;

/// Spawns the actor of `st` on `sys`. Without `begun` it writes the run's
/// first batch; with it, that batch is durable already (see
/// engine::submit_batch) and it starts `*begun` (moved from).
caf::actor spawn_workflow(caf::actor_system& sys, std::shared_ptr<run_state> st,
                          engine::impl& eng, std::vector<dispatch>* begun);

} // namespace perdure::detail
