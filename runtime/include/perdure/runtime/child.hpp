// SPDX-License-Identifier: Apache-2.0
#pragma once

// Child workflows: `child(wf, id)` is a graph node that starts `wf` as a
// workflow of its own (id `id`, its own history and status), linked to the
// parent, and completes with the child's output.

#include "perdure/runtime/errors.hpp"
#include "perdure/runtime/step.hpp"

#include <memory>
#include <string>
#include <utility>

namespace perdure {
namespace detail {

/// The event source name of every child node.
inline constexpr const char* child_source_name = "perdure.child";

/// The child's graph rooted at `root`, encoded for the parent's log
/// (records::child_graph). Throws `perdure::error` (`invalid_argument`)
/// for an event or race node inside it that has no registered step.
std::string encode_child_graph(const std::shared_ptr<node>& root);

/// The registered definition behind `child<T>`: its body (run by the
/// child source with the child's stored output) decodes that output as a
/// `T`. One attempt: a failed child fails the node (catch it with
/// `catching`, or retry the parent with resume).
template <class T>
std::shared_ptr<const step_def> make_child_def() {
  auto def = make_step_def("perdure.child<" + value_signature<T>() + ">",
                           [](T v) { return v; },
                           step_options{.max_attempts = 1}, type_list<T>{});
  def->source_name = child_source_name;
  return register_step(std::move(def));
}

/// A namespace-scope variable, so it is registered before main and a
/// resumed parent finds it.
template <class T>
inline const std::shared_ptr<const step_def> child_def = make_child_def<T>();

} // namespace detail

/// A node that starts `wf` as child workflow `id` and completes with its
/// output. The child has its own history, status and metadata (its
/// user metadata names the parent: `perdure.parent`, `perdure.parent_step`);
/// the parent's stream `children/<parent>` lists it (a `child_started`
/// record, committed with the child's first records). The node's step id
/// is `child:ID`.
///
/// Exactly once: a resumed parent never starts a second child under `id`;
/// it waits for the stored one, resuming it when it is resumable, and
/// takes the output of a child that finished while the parent was down.
/// The node fails with `perdure::workflow_failed` when the child failed,
/// `perdure::canceled` when it was canceled, and `perdure::conflict` when
/// `id` is a workflow that is not this parent's child. Canceling the
/// parent (engine::cancel) cancels its running children.
/// Throws `perdure::error` (`invalid_argument`) for an empty `id`.
template <class T>
workflow<T> child(const workflow<T>& wf, std::string id) {
  if (id.empty())
    throw_error(status{errc::invalid_argument,
                       "a child workflow needs a non-empty id"});
  auto n = std::make_shared<detail::node>();
  n->def = detail::child_def<T>;
  n->opts.name = "child:" + id;
  n->args.push_back(detail::make_arg<std::string>(std::move(id)));
  n->args.push_back(
    detail::make_arg<std::string>(detail::encode_child_graph(wf.node())));
  return workflow<T>{std::move(n)};
}

} // namespace perdure
