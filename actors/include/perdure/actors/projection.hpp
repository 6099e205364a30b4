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
struct projected_event {
  std::string_view actor;    ///< the actor's id
  std::uint64_t seq = 0;     ///< the seq of its call in the actor's stream
  std::uint64_t position = 0; ///< its position in the class's feed (1..)
  std::string_view type;     ///< the event type's registered name
  std::string_view signature; ///< its codec signature when it was stored
  std::string_view data;     ///< the encoded event

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
}

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
  std::string source = perdure_actor_name(detail::actor_tag<Actor>{});
  if constexpr (std::is_invocable_v<Handler&, const projected_event&,
                                    projection_rows&>) {
    return detail::start_projection(eng, std::move(name), std::move(source),
                                    rows_handler{std::move(handler)}, {}, o);
  } else {
    static_assert(std::is_invocable_v<Handler&, const projected_event&>,
                  "project: the handler takes (const projected_event&"
                  "[, projection_rows&])");
    return detail::start_projection(eng, std::move(name), std::move(source),
                                    {}, event_handler{std::move(handler)}, o);
  }
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
