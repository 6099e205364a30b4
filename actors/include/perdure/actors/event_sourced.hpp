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

#include <optional>
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

/// The old shapes of an event type (PERDURE_EVENT_VERSIONS).
template <class... Old>
struct event_versions {};

/// `data` decoded as old shape `Old` and upcast to `E`.
template <class E, class Old>
result<E> upcast_event(std::string_view data) {
  auto v = codec::decode<Old>(data);
  if (!v)
    return unexpected{errc::type_mismatch, v.error().message()};
  static_assert(std::is_same_v<decltype(perdure_upcast(std::as_const(*v))),
                               E>,
                "perdure_upcast(const Old&) must return the event type "
                "PERDURE_EVENT_VERSIONS names");
  return perdure_upcast(std::as_const(*v));
}

/// `E`'s declared old shapes; none unless PERDURE_EVENT_VERSIONS names
/// some (found by ADL in E's namespace).
template <class E>
constexpr auto versions_of() noexcept {
  if constexpr (requires { perdure_event_versions(event_tag<E>{}); })
    return perdure_event_versions(event_tag<E>{});
  else
    return event_versions<>{};
}

/// Decodes a stored event of type `E` whose codec signature was
/// `signature` (empty: E's own): as the declared old shape of that
/// signature, upcast, if there is one; else as `E` (fields added since
/// decode). `type_mismatch` when it decodes as neither.
template <class E>
result<E> decode_event(std::string_view signature, std::string_view data) {
  if (!signature.empty() && signature != codec::type_signature<E>()) {
    std::optional<result<E>> old;
    [&]<class... Old>(event_versions<Old...>) {
      (void) ((signature == codec::type_signature<Old>()
                 ? (old.emplace(upcast_event<E, Old>(data)), true)
                 : false)
              || ...);
    }(versions_of<E>());
    if (old)
      return std::move(*old);
  }
  auto v = codec::decode<E>(data);
  if (!v)
    return unexpected{errc::type_mismatch,
                      v.error().message()
                        + "; declare the stored shape with "
                          "PERDURE_EVENT_VERSIONS and a perdure_upcast to "
                          "read it"};
  return v;
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

  /// Applies the stored event `type`, stored with codec signature
  /// `signature` (empty: the current one) and encoded as `data`, to
  /// `self`. An event stored in one of the shapes PERDURE_EVENT_VERSIONS
  /// declared for its type is decoded as that shape and upcast (the
  /// type's `perdure_upcast` overload); any other is decoded as the
  /// current type (fields added since still decode). Errors: `not_found`
  /// (no such type), `type_mismatch` (it decodes as neither).
  static status perdure_fold(Self& self, std::string_view type,
                             std::string_view signature,
                             std::string_view data) {
    status out{errc::not_found, "no event type of that name"};
    (void) ((type == detail::event_name<Events>()
               ? (out = fold_one<Events>(self, signature, data), true)
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
  static status fold_one(Self& self, std::string_view signature,
                         std::string_view data) {
    auto v = detail::decode_event<E>(signature, data);
    if (!v)
      return v.error();
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

/// Declares, at namespace scope after PERDURE_EVENT(Type, ...), the old
/// shapes `Old...` in which events of `Type` were stored (each a struct
/// with PERDURE_FIELDS). A stored `Type` event whose signature is an old
/// shape's is decoded as it and turned into an event by the function
/// `perdure_upcast(const Old&)` the application writes beside it (found
/// by ADL; it returns a `Type`). Projections' `as<Type>()` upcast alike:
///
///   struct noted_v1 { long amount = 0; };        // how it was stored
///   PERDURE_FIELDS(noted_v1, amount)
///   struct noted { std::string amount; };        // what it is now
///   PERDURE_EVENT(noted, amount)
///   PERDURE_EVENT_VERSIONS(noted, noted_v1)
///   noted perdure_upcast(const noted_v1& o) { return {fmt(o.amount)}; }
#define PERDURE_EVENT_VERSIONS(Type, ...)                                     \
  [[maybe_unused]] constexpr ::perdure::detail::event_versions<__VA_ARGS__>  \
  perdure_event_versions(::perdure::detail::event_tag<Type>) noexcept {       \
    return {};                                                                \
  }
