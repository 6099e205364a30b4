// SPDX-License-Identifier: Apache-2.0
#pragma once

// The engine's event source of child nodes (include/perdure/runtime/
// child.hpp, the "Child workflows" section of the runtime README): one
// thread per engine, started on first use, starts each armed wait's child
// exactly once and hands the wait the child's output once it ended.

#include "perdure/runtime/engine.hpp"
#include "perdure/runtime/graph.hpp"

#include <chrono>
#include <memory>
#include <string_view>

namespace perdure::detail {

/// The source of `eng`'s child nodes. A child that runs in this engine
/// wakes its wait when it ends; one resumed otherwise (resume_on_open) is
/// looked at every `poll`.
std::shared_ptr<event_source> make_child_source(engine::impl& eng,
                                                std::chrono::milliseconds poll);

/// The graph stored by encode_child_graph, with its steps looked up in the
/// registry. Fails `corruption` for bytes that are no child graph,
/// `not_found` naming a step that is not registered.
result<std::shared_ptr<node>> decode_child_graph(std::string_view bytes);

/// Cancels the children of `parent` that are still running (and theirs,
/// through engine::try_cancel). Call once `parent`'s cancel is durable:
/// a child committed after that sees its parent canceled and cancels
/// itself through its source. Children in other partitions
/// (engine_options::remote) are asked up to 16 at once.
status cancel_children(engine& eng, std::string_view parent);

} // namespace perdure::detail
