// SPDX-License-Identifier: Apache-2.0
#pragma once

// Projections: read models built from the events of one event-sourced
// actor class, from the first event on, then live. Two delivery modes,
// chosen by the handler's signature:
//
//   // exactly-once: rows in perdure's store, committed with the offset
//   auto p = perdure::project<account>(eng, "balances",
//     [](const perdure::projected_event& e, perdure::projection_rows& rows) {
//       if (auto d = e.as<deposited>())
//         rows.put_as(e.actor, rows.get_as<long>(e.actor).value_or(0)
//                                + d->amount);
//     });
//
//   // at-least-once: any side effect; the offset is stored after it
//   perdure::project<account>(eng, "mailer",
//     [](const perdure::projected_event& e) { send(e); });
//
// See actors/README.md ("Projections") and eventlog/FORMAT.md.

#include "perdure/actors/actor.hpp"
#include "perdure/actors/event_sourced.hpp"
#include "perdure/eventlog/records/projection.hpp"
#include "perdure/eventlog/records/workflow.hpp"

#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <type_traits>
#include <utility>

namespace perdure {

/// One event as a projection sees it (views valid during the handler).
/// Over an actor class: one event of one actor. Over workflows
/// (project_workflows): one record of one workflow: `workflow` is its id,
/// `type` the record kind's name ("step_succeeded"), `data` the stored
/// record (perdure/eventlog/records/workflow.hpp; record_as, output_as).
struct projected_event {
  std::string_view actor;    ///< the actor's id (empty over workflows)
  std::uint64_t seq = 0;     ///< the seq of its call in the actor's stream
  std::uint64_t position = 0; ///< its position in the class's feed (1..)
  std::string_view type;     ///< the event type's registered name
  std::string_view signature; ///< its codec signature when it was stored
  std::string_view data;     ///< the encoded event
  std::string_view workflow; ///< the workflow's id (over workflows)
  /// Over workflows: the workflow was removed before the projection read
  /// this record; `data` is empty, `seq` and `type` say what it was.
  bool removed = false;

  /// Whether the event is of type `E`.
  template <class E>
  bool is() const noexcept {
    return type == detail::event_name<E>();
  }
  /// The event as `E`; none when it is of another type. An event stored
  /// in an old shape of `E` is upcast (PERDURE_EVENT_VERSIONS). Throws
  /// perdure::error (`type_mismatch`) when it is `E` but does not decode.
  template <class E>
  std::optional<E> as() const {
    if (!is<E>())
      return std::nullopt;
    return value_or_throw(detail::decode_event<E>(signature, data));
  }
  /// Over workflows: the record decoded as `R` (a struct of
  /// perdure/eventlog/records/workflow.hpp matching `type`). Throws
  /// perdure::error (`type_mismatch`) when it does not decode.
  template <class R>
  R record_as() const {
    return value_or_throw(codec::decode<R>(data));
  }
  /// Over workflows: for a `step_succeeded` or `event_received` record,
  /// the step's output as `T`; none for other records (or a removed one).
  /// Throws perdure::error (`type_mismatch`) when it is not a `T`.
  template <class T>
  std::optional<T> output_as() const {
    if (removed || (type != "step_succeeded" && type != "event_received"))
      return std::nullopt;
    auto r = record_as<records::step_succeeded>();
    return value_or_throw(codec::decode<T>(r.output.data));
  }
};

/// The rows of an exactly-once projection: a key → value table in
/// perdure's store. Writes go into the batch that also stores the
/// projection's offset, so a row reflects each event exactly once. Keys
/// are 1..200 bytes of UTF-8 without control characters.
class projection_rows {
 public:
  /// The row `key` (as this batch left it); none when absent.
  std::optional<std::string> get(std::string_view key) const;
  template <class T>
  std::optional<T> get_as(std::string_view key) const {
    auto v = get(key);
    if (!v)
      return std::nullopt;
    return value_or_throw(codec::decode<T>(*v));
  }
  void put(std::string_view key, std::string value);
  template <class T>
  void put_as(std::string_view key, const T& v) {
    put(key, codec::encode(v));
  }
  void erase(std::string_view key);

  struct impl;
  explicit projection_rows(impl& i) noexcept : impl_(&i) {
  }

 private:
  impl* impl_;
};

/// Options of one projection.
struct projection_options {
  /// At most this many events per commit of rows and offset (when
  /// caught up, a commit holds what arrived since the last one). Larger
  /// batches catch up faster: a row changed by many events of one batch
  /// is read and written once.
  std::size_t batch = 4096;
  /// How often to look for new events when caught up.
  std::chrono::milliseconds poll = std::chrono::milliseconds{20};
};

using rows_handler =
  std::function<void(const projected_event&, projection_rows&)>;
using event_handler = std::function<void(const projected_event&)>;

namespace detail {
struct projection_runner;
}

/// A running projection. Copies share it; it runs until stop() or until
/// the engine closes, whichever is first (not when the handle goes).
class projection {
 public:
  explicit projection(std::shared_ptr<detail::projection_runner> r)
    : r_(std::move(r)) {
  }
  const std::string& name() const noexcept;
  /// The feed position handled and stored last.
  std::uint64_t position() const noexcept;
  /// Events of the source class not handled yet, as last seen.
  std::uint64_t lag() const noexcept;
  /// Ok while it runs; the handler's failure (`failed`, naming the
  /// projection and event position) or a storage error once it stopped.
  status error() const;
  /// Stops it (waits for the handler in progress); idempotent.
  void stop();

 private:
  std::shared_ptr<detail::projection_runner> r_;
};

namespace detail {
result<projection> start_projection(engine& eng, std::string name,
                                     std::string source, rows_handler rows,
                                     event_handler each,
                                     projection_options o);

// Starts a projection of `source` in the mode the handler's signature says.
template <class Handler>
result<projection> start_with(engine& eng, std::string name,
                              std::string source, Handler handler,
                              projection_options o) {
  if constexpr (std::is_invocable_v<Handler&, const projected_event&,
                                    projection_rows&>) {
    return start_projection(eng, std::move(name), std::move(source),
                            rows_handler{std::move(handler)}, {}, o);
  } else {
    static_assert(std::is_invocable_v<Handler&, const projected_event&>,
                  "project: the handler takes (const projected_event&"
                  "[, projection_rows&])");
    return start_projection(eng, std::move(name), std::move(source), {},
                            event_handler{std::move(handler)}, o);
  }
}
} // namespace detail

/// Runs projection `name` over the events of event-sourced actor class
/// `Actor` from its stored offset (the beginning the first time), then
/// live. `handler(const projected_event&, projection_rows&)`: exactly-once,
/// rows and offset commit together every `o.batch` events.
/// `handler(const projected_event&)`: at-least-once, the offset is stored
/// after the handler returned (an event handled just before a crash is
/// handled again). A handler that throws stops the projection (error()).
/// Fails `invalid_argument` for a bad name ([A-Za-z0-9_.-], 1..100) or a
/// class that is not event-sourced, `conflict` when `name` runs already or
/// is stored with another source or mode.
template <class Actor, class Handler>
result<projection> try_project(engine& eng, std::string name,
                               Handler handler, projection_options o = {}) {
  static_assert(std::is_base_of_v<detail::event_sourced_base, Actor>,
                "project<Actor>: Actor must be an event-sourced class");
  return detail::start_with(eng, std::move(name),
                            perdure_actor_name(detail::actor_tag<Actor>{}),
                            std::move(handler), o);
}

/// Runs projection `name` over the records of every workflow, in commit
/// order, from its stored offset (the beginning the first time), then
/// live; handlers and delivery modes as for try_project. The engine must
/// note workflow records (engine_options::workflow_feed), else
/// `invalid_argument`; records written while it was off are not seen.
template <class Handler>
result<projection> try_project_workflows(engine& eng, std::string name,
                                         Handler handler,
                                         projection_options o = {}) {
  return detail::start_with(
    eng, std::move(name),
    std::string{projection_records::workflows_source}, std::move(handler), o);
}

/// try_project_workflows, throwing perdure::error.
template <class Handler>
projection project_workflows(engine& eng, std::string name, Handler handler,
                             projection_options o = {}) {
  return value_or_throw(try_project_workflows(eng, std::move(name),
                                              std::move(handler), o));
}

/// try_project, throwing perdure::error.
template <class Actor, class Handler>
projection project(engine& eng, std::string name, Handler handler,
                   projection_options o = {}) {
  return value_or_throw(
    try_project<Actor>(eng, std::move(name), std::move(handler), o));
}

/// Forgets where projection `name` is and drops its rows, then (when it
/// runs in `eng`) restarts it: it is rebuilt from the first event.
/// `not_found` when it was never started in this storage. Waits for the
/// projection's thread: not from inside its own handler.
status reset_projection(engine& eng, std::string_view name);

/// The rows of exactly-once projection `name` (values encoded).
result<std::map<std::string, std::string>> projection_table(
  engine& eng, std::string_view name);

} // namespace perdure
