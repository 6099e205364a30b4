// SPDX-License-Identifier: Apache-2.0
#pragma once

// Events as graph nodes: `wait_for_event<L>(args...)` (a node whose output is
// the listener's event, logged once as event_received), `sleep(duration)`,
// `with_timeout(w, duration)` and `gather(w1, w2, ...)`. Timers live in the
// log's durable timer index and hold no thread while they wait; custom
// listeners poll on a bounded pool of listener threads (not CAF workers,
// not the step pool).

#include "perdure/runtime/context.hpp"
#include "perdure/runtime/race.hpp"
#include "perdure/runtime/step.hpp"

#include <chrono>
#include <cstdint>
#include <exception>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <tuple>
#include <type_traits>

namespace perdure {

/// The event of a timer: its logged deadline and when it fired (both ns
/// since the epoch). `fired - due` is the timer's lateness.
struct timer_event {
  std::int64_t due = 0;
  std::int64_t fired = 0;
};
PERDURE_FIELDS(timer_event, due, fired)

/// The built-in listener of durable timers:
/// `wait_for_event<timer_listener>(system_clock::now() + 60s)`.
struct timer_listener {
  using event_type = timer_event;
};

/// The cooperative stop flag of the listener poll running on this thread:
/// set once nobody waits for its event any more (the workflow was
/// canceled, failed or its engine stops). A `poll_for_event` that can
/// block long should poll with a timeout and return (or throw) when set.
cancellation_token listener_token();

namespace detail {

/// The engine's timer source (one thread per engine, idle while waiting).
std::shared_ptr<event_source> make_timer_source();

/// A source running a listener's `poll_for_event` on at most `threads`
/// listener threads (FIFO); `checkpointed` is called with the encoded
/// event after it is durable. A poll failing with `no_event_yet` is
/// queued again `repoll` later.
std::shared_ptr<event_source> make_poll_source(
  std::function<void(const std::string&)> checkpointed, std::size_t threads,
  std::chrono::milliseconds repoll);

/// Raised by the poll of a listener whose `poll_for_event` returns
/// `std::optional<event_type>` and returned none: poll again later.
struct no_event_yet : std::exception {
  const char* what() const noexcept override {
    return "no event yet";
  }
};

template <class T>
struct is_optional : std::false_type {};
template <class T>
struct is_optional<std::optional<T>> : std::true_type {};

/// How long after an empty poll a listener returning `std::optional` is
/// polled again: `L::poll_interval` when declared, else 100 ms.
template <class L>
constexpr std::chrono::milliseconds repoll_interval() {
  if constexpr (requires { std::chrono::milliseconds{L::poll_interval}; })
    return std::chrono::milliseconds{L::poll_interval};
  else
    return std::chrono::milliseconds{100};
}

/// The most polls of one custom listener type that run at once in one
/// engine: `L::max_concurrent_polls` when declared, else 16.
template <class L>
constexpr std::size_t concurrent_polls() {
  if constexpr (requires { std::size_t{L::max_concurrent_polls}; })
    return L::max_concurrent_polls;
  else
    return 16;
}

std::shared_ptr<const step_def> timer_at_def();
std::shared_ptr<const step_def> sleep_def();

/// The stable name of listener `L`: `L::name` when declared, else the
/// type's spelling.
template <class L>
std::string listener_name() {
  if constexpr (requires { std::string_view{L::name}; }) {
    return std::string{L::name};
  } else {
    std::string_view f = __PRETTY_FUNCTION__;
    auto b = f.find("L = ") + 4;
    auto e = f.find_first_of(";]", b);
    return std::string{f.substr(b, e - b)};
  }
}

template <class L>
concept checkpoint_aware = requires(L l, const typename L::event_type& e) {
  l.event_checkpointed(e);
};

template <class L, class... P>
std::shared_ptr<const step_def> make_listener_def(type_list<P...> params) {
  using E = typename L::event_type;
  using R = typename fn_traits<decltype(&L::poll_for_event)>::result;
  auto poll = [](P... args) -> E {
    L l{};
    if constexpr (is_optional<R>::value) {
      auto e = l.poll_for_event(std::move(args)...);
      if (!e)
        throw no_event_yet{};
      return E{std::move(*e)};
    } else {
      return l.poll_for_event(std::move(args)...);
    }
  };
  auto def = make_step_def("perdure.listener." + listener_name<L>(),
                           std::move(poll), step_options{}, params);
  def->source_name = def->name;
  def->make_source = [] {
    return make_poll_source(
      [](const std::string& bytes) {
        if constexpr (checkpoint_aware<L>) {
          auto e = decode_value<E>(bytes);
          if (e) {
            L l{};
            l.event_checkpointed(*e);
          }
        }
      },
      concurrent_polls<L>(),
      is_optional<R>::value ? repoll_interval<L>()
                            : std::chrono::milliseconds{0});
  };
  return register_step(std::move(def));
}

/// The registered definition of listener `L`; a namespace-scope variable,
/// so it is registered before main and a resumed workflow finds it.
template <class L>
inline const std::shared_ptr<const step_def> listener_def =
  make_listener_def<L>(
    typename fn_traits<decltype(&L::poll_for_event)>::params{});

template <class... T>
std::string gather_name() {
  std::string n = "perdure.gather<";
  ((n += value_signature<T>() + ","), ...);
  n.back() = '>';
  return n;
}

template <class... T>
inline const auto gather_step =
  step(gather_name<T...>(),
       [](T... v) { return std::tuple<T...>{std::move(v)...}; });

inline std::int64_t to_ns(std::chrono::system_clock::time_point t) {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(
           t.time_since_epoch())
    .count();
}

template <class T, class... Params>
step_handle<T, Params...> handle_of(std::shared_ptr<const step_def> def,
                                    type_list<Params...>) {
  return step_handle<T, Params...>{std::move(def)};
}

} // namespace detail

/// A node that completes with listener `L`'s event. For `timer_listener`
/// the argument is the deadline (a `system_clock::time_point`, or a
/// `workflow<std::int64_t>` of ns since the epoch). For a custom listener
/// (a default-constructible type with `using event_type = E`,
/// `E poll_for_event(args...)` and optionally
/// `void event_checkpointed(const E&)`) the arguments are those of
/// `poll_for_event` (values or workflows, resolved before polling).
///
/// Exactly once: the event becomes the node's stored output once; a crash
/// before it is durable polls again, never after. `event_checkpointed` runs
/// after the event is durable, on a listener thread, and may run again
/// after a crash (when the workflow resumes): make it idempotent. A poll
/// that throws is a failed attempt (retried per the step options, default
/// 3 attempts); after the last one the workflow fails with its error.
///
/// Threads: the polls of one listener type run on at most
/// `L::max_concurrent_polls` threads per engine (16 unless `L` declares
/// it); further waits queue in arming order and a wait dropped while
/// queued never polls. A poll holds its thread until it returns, so with
/// more waits than threads a queued wait is polled only once an earlier
/// poll returned. A listener whose waits may outnumber its threads
/// declares `std::optional<E> poll_for_event(args...)` and returns at once:
/// an empty answer (no event yet, not a failed attempt) polls that wait
/// again `L::poll_interval` later (100 ms unless declared), holding no
/// thread meanwhile, so every waiting workflow is polled in turn.
template <class L, class... Args>
auto wait_for_event(Args&&... args) {
  if constexpr (std::is_same_v<L, timer_listener>) {
    static_assert(sizeof...(Args) == 1,
                  "wait_for_event<timer_listener>(deadline)");
    auto h = step_handle<timer_event, std::int64_t>{detail::timer_at_def()};
    auto conv = [](auto&& a) -> decltype(auto) {
      using A = std::decay_t<decltype(a)>;
      if constexpr (std::is_same_v<A, std::chrono::system_clock::time_point>)
        return detail::to_ns(a);
      else
        return std::forward<decltype(a)>(a);
    };
    return h(conv(std::forward<Args>(args))...);
  } else if constexpr (requires { L::event_def(); }) {
    // A listener backed by an engine event source (kafka_listener); its
    // inputs are checked before they can be logged.
    if constexpr (requires { L::check_input(args...); })
      L::check_input(args...);
    auto h = detail::handle_of<typename L::event_type>(L::event_def(),
                                                       typename L::params{});
    return h(std::forward<Args>(args)...);
  } else {
    using params =
      typename detail::fn_traits<decltype(&L::poll_for_event)>::params;
    auto h = detail::handle_of<typename L::event_type>(
      detail::listener_def<L>, params{});
    return h(std::forward<Args>(args)...);
  }
}

/// A node that completes `d` after it first runs: the deadline is fixed
/// then and logged, so a restart keeps it (overdue timers fire at once).
template <class Rep, class Period>
workflow<timer_event> sleep(std::chrono::duration<Rep, Period> d) {
  auto h = step_handle<timer_event, std::int64_t>{detail::sleep_def()};
  return h(static_cast<std::int64_t>(
    std::chrono::duration_cast<std::chrono::nanoseconds>(d).count()));
}

namespace detail {

/// The race of a node and a timer; registered before main.
template <class T>
inline const std::shared_ptr<const step_def> with_timeout_def =
  make_race_def<std::optional<T>, T, timer_event>(
    race_name<T>("with_timeout"), [](auto idx, auto v) -> std::optional<T> {
      if constexpr (decltype(idx)::value == 0) {
        return std::optional<T>{std::move(v)};
      } else {
        (void) v;
        return std::nullopt;
      }
    });

} // namespace detail

/// `first_of(w, sleep(d))` typed as `std::optional<T>`: `w`'s output, or
/// none when `d` passed first (a timeout is a value, not an error; test it
/// with `has_value()`). Its step id is `with_timeout` (`with_timeout_1`,
/// ...). The losing side is canceled (see first_of): on a timeout a
/// signal wait is dropped and its signal stays for the next wait; on a
/// win the timer is removed. The deadline is logged when the timer first
/// runs, which is when the graph holding the race starts (a sleep has no
/// inputs), not when `w` becomes runnable: to time only `w`, return the
/// race from the dynamic step that would run `w`. After a crash the
/// logged winner wins again and a pending deadline keeps its time.
template <class T, class Rep, class Period>
workflow<std::optional<T>> with_timeout(const workflow<T>& w,
                                        std::chrono::duration<Rep, Period> d) {
  static_assert(!detail::is_optional<T>::value,
                "with_timeout of a workflow<std::optional<T>>: the codec "
                "has no optional<optional<T>>; use first_of");
  return workflow<std::optional<T>>{detail::race_node(
    detail::with_timeout_def<T>, "with_timeout", w, sleep(d))};
}

/// A node whose output is the tuple of its inputs' outputs (fan-in):
/// `auto [a, b] = eng.run(gather(e1, e2));`
template <class... T>
workflow<std::tuple<T...>> gather(const workflow<T>&... ws) {
  static_assert(sizeof...(T) > 0);
  return detail::gather_step<T...>(ws...);
}

} // namespace perdure
