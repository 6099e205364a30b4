// SPDX-License-Identifier: Apache-2.0
#pragma once

// Durable promises (Restate's awakeables): a workflow names a promise, a
// step hands its id to another system, and that system (or anything with
// the engine, or `perdure promise complete|reject`) settles it once with
// `engine::complete(id, value)` / `engine::reject(id, reason)`; the
// workflow's `wait_for_promise<T>(name)` nodes complete with the value.

#include "perdure/runtime/signal.hpp"
#include "perdure/runtime/step.hpp"

#include "perdure/eventlog/records/promise.hpp"

#include <memory>
#include <string>
#include <string_view>
#include <utility>

namespace perdure {
namespace detail {

/// The prefix of the registered names of the promise waits (their source
/// is the signal source, which tells them apart by it).
inline constexpr std::string_view promise_def_prefix = "perdure.promise<";

template <class T>
std::shared_ptr<const step_def> make_promise_def() {
  auto def = make_step_def(std::string{promise_def_prefix}
                             + value_signature<T>() + ">",
                           [](T v) { return v; },
                           step_options{.max_attempts = 1}, type_list<T>{});
  def->source_name = signal_source_name;
  return register_step(std::move(def));
}

/// Registered before main, so a resumed workflow finds it.
template <class T>
inline const std::shared_ptr<const step_def> promise_def =
  make_promise_def<T>();

template <class T>
std::shared_ptr<node> promise_node(std::string name, bool catching) {
  if (auto why = records::check_promise_name(name); !why.empty())
    throw_error(status{errc::invalid_argument, why});
  auto n = std::make_shared<node>();
  n->def = promise_def<T>;
  n->catching = catching;
  n->opts.name = "promise:" + name;
  n->args.push_back(make_arg<std::string>(std::move(name)));
  return n;
}

} // namespace detail

/// The id of promise `name` of workflow `workflow_id`: "NAME@WORKFLOW".
/// Stable: the same on every attempt, resume and engine.
inline std::string promise_id(std::string_view workflow_id,
                              std::string_view name) {
  return records::promise_id(workflow_id, name);
}

namespace this_step {

/// The id of the running workflow's promise `name`, to hand to the system
/// that will settle it (a callback token). Deterministic: a retried or
/// resumed step gets the same id. Throws `perdure::error`
/// (`invalid_argument`) outside a step body or for a bad name.
std::string promise_id(std::string_view name);

} // namespace this_step

/// A node that completes with the value of its workflow's promise `name`
/// (see engine::complete), decoded as a `T`; its step id is
/// `promise:NAME` (`promise:NAME_1`, ... when waited on more than once).
///
/// Semantics: a promise is settled at most once (a second complete or
/// reject fails `conflict` and changes nothing); a settlement made before
/// the wait runs is kept; every wait on the same name sees the same
/// settlement (it is read, not consumed), also after a crash. A name is
/// one promise per workflow: a loop that needs a new promise per round
/// puts the round into the name ("payment-3"). A rejection fails the wait
/// with `perdure::promise_rejected` (text: the reason); a value that does
/// not decode as `T` fails it with `perdure::type_mismatch`; the wait has
/// one attempt. Names: 1..64 bytes, no control characters, no '@'
/// (else `perdure::error`, `invalid_argument`).
template <class T>
workflow<T> wait_for_promise(std::string name) {
  return workflow<T>{detail::promise_node<T>(std::move(name), false)};
}

/// As wait_for_promise, but a rejection (or a value of the wrong type)
/// becomes the output, a failed `caught<T>`, instead of failing the
/// workflow.
template <class T>
workflow<caught<T>> try_wait_for_promise(std::string name) {
  return workflow<caught<T>>{detail::promise_node<T>(std::move(name), true)};
}

} // namespace perdure
