// SPDX-License-Identifier: Apache-2.0
#pragma once

// A workflow's graph as bytes, to send it to another process (a cluster
// node forwards a run to its id's owner). The encoding is the one a parent
// logs for a child workflow (records::child_graph): steps by their
// registered names and per-call options, values encoded; the receiving
// program looks the steps up in its own registry, so both sides must
// register the same steps.

#include "perdure/runtime/child.hpp"
#include "perdure/runtime/graph.hpp"

#include <memory>
#include <string>
#include <string_view>

namespace perdure {

/// The graph of `wf`, encoded. Throws `perdure::error`
/// (`invalid_argument`) for a node without a registered step.
template <class T>
std::string encode_workflow_graph(const workflow<T>& wf) {
  return detail::encode_child_graph(wf.node());
}

/// The graph `encode_workflow_graph` encoded, its steps looked up in this
/// program's registry: an engine runs it with engine::submit. Errors:
/// corruption for bytes that are no graph, not_found naming a step that is
/// not registered here.
result<std::shared_ptr<detail::node>>
decode_workflow_graph(std::string_view bytes);

} // namespace perdure
