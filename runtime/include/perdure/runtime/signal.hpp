// SPDX-License-Identifier: Apache-2.0
#pragma once

// Signals: `wait_for_signal<T>(name)` is a graph node whose output is the
// next signal `name` sent to its workflow with `engine::signal(id, name,
// value)` (or `perdure signal ID NAME JSON`). A signal sent before the
// workflow reaches its wait is kept; each signal is consumed once, in send
// order per name, and its consumption commits with the wait's output.

#include "perdure/runtime/errors.hpp"
#include "perdure/runtime/step.hpp"

#include "perdure/eventlog/records/workflow.hpp"

#include <memory>
#include <string>
#include <utility>

namespace perdure {
namespace detail {

/// The event source name of every wait_for_signal node.
inline constexpr const char* signal_source_name = "perdure.signal";

/// The registered definition behind `wait_for_signal<T>`: its body (run by
/// the signal source, never by the step pool) checks that the signal's
/// stored value decodes as a `T`. One attempt by default: a signal of the
/// wrong type fails the workflow instead of silently waiting for another.
template <class T>
std::shared_ptr<const step_def> make_signal_def() {
  auto def = make_step_def("perdure.signal<" + value_signature<T>() + ">",
                           [](T v) { return v; },
                           step_options{.max_attempts = 1}, type_list<T>{});
  def->source_name = signal_source_name;
  return register_step(std::move(def));
}

/// A namespace-scope variable, so it is registered before main and a
/// resumed workflow finds it.
template <class T>
inline const std::shared_ptr<const step_def> signal_def = make_signal_def<T>();

} // namespace detail

/// A node that completes with the next signal `name` sent to its workflow
/// (see engine::signal), decoded as a `T`. The node's step id is
/// `signal:NAME` (made unique per workflow: `signal:NAME_1`, ...), so
/// `perdure history` shows which signal each wait received.
///
/// Semantics: signals of one name are consumed in the order they were
/// sent, one per wait, each exactly once: the consumed position (a per
/// workflow and name offset) commits in the same batch as the wait's
/// `event_received`, so a crash either keeps both or neither. A signal
/// sent before the wait runs is kept until a wait consumes it. A signal
/// whose value does not decode as `T` is consumed by the wait, which fails
/// (`perdure::type_mismatch` naming the signal); the workflow fails unless
/// the call gives `.max_attempts` > 1 (then the next signal is awaited).
/// Throws `perdure::error` (`invalid_argument`) for a name that is empty,
/// longer than 64 bytes or holds control characters.
template <class T>
workflow<T> wait_for_signal(std::string name) {
  if (auto why = records::check_signal_name(name); !why.empty())
    throw_error(status{errc::invalid_argument, why});
  // The node's one argument is the signal name (logged with the graph);
  // the body's parameter is the signal's value, supplied by the source.
  auto n = std::make_shared<detail::node>();
  n->def = detail::signal_def<T>;
  n->opts.name = "signal:" + name;
  n->args.push_back(detail::make_arg<std::string>(std::move(name)));
  return workflow<T>{std::move(n)};
}

} // namespace perdure
