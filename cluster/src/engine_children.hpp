// SPDX-License-Identifier: Apache-2.0
#pragma once

// Child workflows of another partition: each partition's engine gets a
// remote_workflows (engine_options::remote) that starts and follows a
// child whose id maps elsewhere through its host's requests (one try each:
// the engine's child source looks again later), and the owner's side of
// request_kind::child_start.

#include "perdure/cluster/engine_host.hpp"

#include <chrono>
#include <memory>
#include <perdure/runtime/remote_workflows.hpp>
#include <shared_mutex>
#include <string>

namespace perdure::cluster {

class engine_door;

/// What a partition's engine reaches its host through. An engine may
/// outlive its host (a holder of engine_of's pointer): `host` is cleared
/// under `mutex` when the host stopped, and requests then fail closed.
struct host_link {
  std::shared_mutex mutex;
  engine_host* host = nullptr; ///< guarded by mutex; null once stopped
  engine_door* door = nullptr; ///< the host's door (null: none)
  const engine_host_options* options = nullptr;
};

/// The remote_workflows of partition `p`'s engine: ids `map` puts in
/// another partition are elsewhere.
std::shared_ptr<remote_workflows>
make_remote_children(std::shared_ptr<host_link> link, partition_map map,
                     partition_id p);

/// request_kind::child_ended on the parent's engine: the parent's look at
/// child `child` happens at once (remote_workflows::set_wake).
void child_ended_here(engine& eng, const std::string& child);

/// request_kind::child_start's bytes: the graph, the parent, its step.
std::string child_start_bytes(const std::string& graph,
                              const std::string& parent,
                              const std::string& parent_step);

/// Serves request_kind::child_start on the engine of the child's
/// partition: stores child `id` linked to its parent, or finds it stored
/// or live as that parent step's child (ok: nothing else happens). A child
/// stored here tells its parent's owner when it ends
/// (request_kind::child_ended, one try).
/// Errors: conflict when `id` is another workflow; busy while another
/// request is starting it or when the log refused the commit (another
/// node claimed the partition); the engine's (invalid_argument, not_found for
/// a step this program does not register, closed).
perdure::status start_child_here(engine& eng, const std::string& id,
                                 const std::string& bytes);

} // namespace perdure::cluster
