// SPDX-License-Identifier: Apache-2.0
#pragma once

// The folds of an application's event-sourced actor classes, for tools
// that show an actor's state at a point of its history (the embedded CLI:
// `run_embedded_cli(argc, argv, open_default_engine,
// perdure::fold_actors<account, ledger>())`). Only the application has its
// classes' apply(): `perdure` itself shows the events beside the nearest
// snapshot instead.

#include "perdure/actors/actor.hpp"
#include "perdure/eventlog/records/actor.hpp"
#include "perdure/eventlog/status.hpp"

#include <fmt/format.h>

#include <functional>
#include <string>
#include <string_view>
#include <vector>

namespace perdure {

/// Folds `events` of class `cls` onto its encoded `state`: the encoded
/// state after them (tools::actor_fold has this type).
using actor_class_fold = std::function<result<std::string>(
  std::string_view cls, std::string_view state,
  const std::vector<actor_records::stored_event>& events)>;

namespace detail {

/// Decodes `state` as `c`'s state, applies `events` as activation does
/// (upcasts included) and encodes the result.
inline result<std::string>
fold_encoded(const actor_class& c, std::string_view state,
             const std::vector<actor_records::stored_event>& events) {
  auto s = c.decode(state);
  if (!s)
    return std::move(s).error();
  auto mine = c.clone(s->get());
  for (auto& e : events)
    if (auto st = c.fold(mine.get(), e.type, e.signature, e.data.data); !st)
      return unexpected{st.code(),
                        fmt::format("class '{}': stored event of type '{}' "
                                    "(signature '{}') cannot be applied: {}",
                                    c.name, e.type, e.signature,
                                    st.message())};
  return c.encode(mine.get());
}

} // namespace detail

/// The fold of the event-sourced classes `Actors...` (each registered with
/// PERDURE_ACTOR), chosen by class name; `not_found` for another class.
template <class... Actors>
actor_class_fold fold_actors() {
  return [](std::string_view cls, std::string_view state,
            const std::vector<actor_records::stored_event>& events)
           -> result<std::string> {
    const detail::actor_class* found = nullptr;
    (void) ((detail::class_of<Actors>().name == cls
               ? (found = &detail::class_of<Actors>(), true)
               : false)
            || ...);
    if (!found || !found->event_sourced)
      return unexpected{errc::not_found,
                        fmt::format("no event-sourced actor class '{}' "
                                    "among those given to fold_actors",
                                    cls)};
    return detail::fold_encoded(*found, state, events);
  };
}

} // namespace perdure
