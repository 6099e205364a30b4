// SPDX-License-Identifier: Apache-2.0
#pragma once

// Event-sourced actors: the state is a fold over the events the methods
// emit. Declare each event type with PERDURE_EVENT, derive the class from
// `event_sourced<Self, Events...>`, give it `void apply(const E&)` per event
// (or one `apply` taking `event_variant`), and register it with the same
// PERDURE_ACTOR line as any actor:
//
//   struct deposited { long amount = 0; };
//   PERDURE_EVENT(deposited, amount)
//
//   struct account : perdure::event_sourced<account, deposited> {
//     long balance = 0;
//     void apply(const deposited& e) { balance += e.amount; }
//     long deposit(long n) { emit(deposited{n}); return balance; }
//     long funds() const { return balance; }
//   };
//   PERDURE_ACTOR(account, (balance), (deposit, funds))
//
// See actors/README.md ("Event-sourced actors").

#include "perdure/eventlog/codec.hpp"
#include "perdure/eventlog/records/actor.hpp"
#include "perdure/eventlog/status.hpp"

#include <stdexcept>
#include <string>
#include <string_view>
#include <type_traits>
#include <utility>
#include <variant>
#include <vector>

namespace perdure {
namespace detail {

/// ADL tag: `perdure_event_name(event_tag<E>)` is found in E's namespace.
template <class E>
struct event_tag {};

/// The events a running method emitted, in order (the actor's runner owns
/// it while the method runs).
struct event_sink {
  std::vector<actor_records::stored_event> events;
};

/// The non-template part of event_sourced: where emit() records. A copy
/// of the state never shares its original's sink.
class event_sourced_base {
 public:
  event_sourced_base() = default;
  event_sourced_base(const event_sourced_base&) noexcept {
    // nop: a copy records nowhere until the runner says so
  }
  event_sourced_base& operator=(const event_sourced_base&) noexcept {
    return *this;
  }
  ~event_sourced_base() = default;

  /// Where emit() records (null: it only applies). For the runner.
  void perdure_set_sink(event_sink* s) noexcept {
    sink_ = s;
  }

 protected:
  event_sink* sink_ = nullptr;
  bool applying_ = false; ///< inside apply(): emit() is refused
};

/// The registered name of event type `E` (PERDURE_EVENT).
template <class E>
constexpr const char* event_name() noexcept {
  return perdure_event_name(event_tag<E>{});
}

} // namespace detail

/// The base of an event-sourced actor class `Self` whose events are
/// `Events...` (each declared with PERDURE_EVENT). A mutating method
/// decides and calls `emit(e)`: `e` is applied to the state at once (the
/// method sees it) and logged with the call's result, in emission order.
/// Only `apply` may change the state: recovery is the latest snapshot plus
/// the fold of the later events, so a field a method writes directly is
/// lost at the next activation. A method that throws logs no event.
/// `apply` must not emit (a replay would apply the nested event twice):
/// emit() inside apply() throws std::logic_error.
template <class Self, class... Events>
class event_sourced : public detail::event_sourced_base {
 public:
  /// Any one of the events (for one `apply` over all of them).
  using event_variant = std::variant<Events...>;

  /// The registered names and codec signatures of `Events...`.
  static std::vector<actor_records::named_signature> perdure_event_table() {
    return {{detail::event_name<Events>(), codec::type_signature<Events>()}...};
  }

  /// Applies the stored event `type` (encoded as `data`) to `self`.
  /// Errors: `not_found` (no such type), `type_mismatch` (it does not
  /// decode as the type of that name).
  static status perdure_fold(Self& self, std::string_view type,
                             std::string_view data) {
    status out{errc::not_found, "no event type of that name"};
    (void) ((type == detail::event_name<Events>()
               ? (out = fold_one<Events>(self, data), true)
               : false)
            || ...);
    return out;
  }

 protected:
  /// Applies `e` and, inside a mutating call, records it for the log.
  template <class E>
  void emit(E&& e) {
    using D = std::remove_cvref_t<E>;
    static_assert((std::is_same_v<D, Events> || ...),
                  "emit: not one of the event types of event_sourced<...>");
    const D& ev = e;
    if (applying_)
      throw std::logic_error{"emit() inside apply(): an event handler "
                             "must not emit events"};
    if (sink_)
      sink_->events.push_back({detail::event_name<D>(),
                               codec::type_signature<D>(),
                               {codec::encode(ev)}});
    apply_one(static_cast<Self&>(*this), ev);
  }

 private:
  template <class E>
  static status fold_one(Self& self, std::string_view data) {
    auto v = codec::decode<E>(data);
    if (!v)
      return {errc::type_mismatch, v.error().message()};
    apply_one(self, std::as_const(*v));
    return {};
  }

  template <class E>
  static void apply_one(Self& self, const E& e) {
    auto& base = static_cast<event_sourced&>(self);
    base.applying_ = true;
    try {
      self.apply(e);
    } catch (...) {
      base.applying_ = false;
      throw;
    }
    base.applying_ = false;
  }
};

} // namespace perdure

/// Declares event type `Type` at namespace scope right after it: its
/// fields for the codec (at least one) and its stored name, `#Type` (keep
/// it when the type moves: stored events are found by it).
#define PERDURE_EVENT(Type, ...)                                              \
  PERDURE_FIELDS(Type, __VA_ARGS__)                                           \
  [[maybe_unused]] constexpr const char* perdure_event_name(                  \
    ::perdure::detail::event_tag<Type>) noexcept {                            \
    return #Type;                                                             \
  }
