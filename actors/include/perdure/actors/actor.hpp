// SPDX-License-Identifier: Apache-2.0
#pragma once

// Virtual actors: objects whose state outlives processes. Register a class
// with one line, then `eng.actor<T>(id, ctor args...)` (get or create) and
// `eng.get_actor<T>(id)` hand out an `actor_ref<T>`:
//
//   struct counter {
//     int count = 0;
//     int incr(int by) { count += by; return count; }  // mutating: logged
//     int value() const { return count; }              // readonly: concurrent
//   };
//   PERDURE_ACTOR(counter, (count), (incr, value))
//
//   auto c = eng.actor<counter>("my_counter");
//   c.call(&counter::incr, 10);                   // 10, once durable
//   c.call(&counter::value);                      // on the committed state
//
// Event-sourced classes (state = fold of emitted events):
// perdure/actors/event_sourced.hpp. See actors/README.md for the semantics
// (ordering, failures, idempotency, sub-workflows, snapshots, passivation).

#include "perdure/actors/detail/actor_impl.hpp"
#include "perdure/runtime/context.hpp"

#include <chrono>
#include <memory>
#include <string>
#include <utility>

namespace perdure {

/// A method of an actor threw; `what()` names the actor, the method, the
/// exception type and its text as recorded.
class method_failed : public error {
  using error::error;
};

/// Throws the typed exception of `s` (method_failed for errc::failed).
[[noreturn]] void throw_actor_error(status s);

/// Options of one call (see actor_ref::with).
struct call_options {
  /// The idempotency key; empty: generated (derived from the workflow and
  /// step when the call is made inside a step body, so retries repeat it).
  std::string key = {};
};

/// The future of an asynchronous actor call. Copies share the call.
template <class R>
class call_handle {
 public:
  explicit call_handle(std::shared_ptr<detail::call_state> st)
    : st_(std::move(st)) {
  }
  /// Waits; the result, or the error as a status.
  detail::call_result_t<R> try_get() const {
    auto bytes = st_->wait();
    if constexpr (std::is_void_v<R>) {
      return bytes.as_status();
    } else {
      if (!bytes)
        return std::move(bytes).error();
      return codec::decode<R>(*bytes);
    }
  }
  /// Waits; ok, or the error, without decoding the result.
  status try_wait() const {
    return st_->wait_status();
  }
  /// Waits; the result, or throws the typed exception.
  R get() const {
    if constexpr (std::is_void_v<R>) {
      if (auto st = try_get(); !st)
        throw_actor_error(std::move(st));
    } else {
      auto r = try_get();
      if (!r)
        throw_actor_error(std::move(r).error());
      return std::move(r).value();
    }
  }
  /// Waits at most `d`; true once the call is complete.
  template <class Rep, class Period>
  bool wait_for(std::chrono::duration<Rep, Period> d) const {
    return st_->wait_for(
      std::chrono::duration_cast<std::chrono::nanoseconds>(d));
  }
  bool ready() const {
    return st_->done();
  }

 private:
  std::shared_ptr<detail::call_state> st_;
};

/// A reference to virtual actor `T`. Cheap to copy; thread-safe. Mutating
/// (non-const) methods run one at a time in submission order on the actor
/// and return once their event is durable; readonly (const) methods run on
/// the calling thread against the last committed state, beside each other
/// and beside a running mutating call.
template <class T>
class actor_ref {
 public:
  actor_ref(std::shared_ptr<detail::actor_cell> cell, std::string id)
    : cell_(std::move(cell)), id_(std::move(id)) {
  }

  /// The actor's id.
  const std::string& id() const noexcept {
    return id_;
  }

  /// A reference whose next calls use `o` (e.g. a caller-chosen key).
  actor_ref with(call_options o) const {
    actor_ref r = *this;
    r.opts_ = std::move(o);
    return r;
  }

  /// Starts a call of `m` with `args` and returns at once. Mutating: queued
  /// on the actor; a repeated idempotency key returns the logged result
  /// without running. Readonly: runs on the actors' pool against the last
  /// committed state, beside other calls (the arguments are copied).
  template <class M, class... A>
  call_handle<detail::method_result_t<M>> call_async(M m, A&&... args) const {
    using tr = detail::method_traits<M>;
    static_assert(std::is_same_v<typename tr::owner, T>,
                  "call: a method of another class");
    static_assert(std::is_constructible_v<typename tr::args, A&&...>,
                  "call: the arguments do not match the method's parameters");
    auto st = std::make_shared<detail::call_state>();
    if constexpr (tr::readonly) {
      detail::post_readonly(
        *cell_, [self = *this, st, m,
                 copied = std::make_tuple(std::decay_t<A>(
                   std::forward<A>(args))...)]() mutable {
          std::apply(
            [&](auto&... a) { self.run_readonly(*st, m, std::move(a)...); },
            copied);
        });
    } else {
      auto& cls = detail::class_of<T>();
      detail::mutation mu;
      mu.method = cls.find(m);
      mu.done = st;
      if (!mu.method) {
        st->complete(detail::unregistered_method(id_, cls), {});
        return call_handle<detail::method_result_t<M>>{st};
      }
      mu.args = codec::encode(typename tr::args{std::forward<A>(args)...});
      mu.key = opts_.key.empty() ? detail::new_call_key() : opts_.key;
      detail::submit_mutation(*cell_, std::move(mu));
    }
    return call_handle<detail::method_result_t<M>>{std::move(st)};
  }

  /// Starts one call of mutating method `m` per element of `calls` (its
  /// options and its argument tuple), handed to the actor as ONE message:
  /// they run in this order, each as call_async would run it, and their
  /// events are logged in one commit. The handles are in `calls`' order.
  template <class M>
  std::vector<call_handle<detail::method_result_t<M>>> call_all_async(
    M m, std::vector<std::pair<call_options,
                               typename detail::method_traits<M>::args>>
           calls) const {
    using tr = detail::method_traits<M>;
    static_assert(std::is_same_v<typename tr::owner, T>,
                  "call: a method of another class");
    static_assert(!tr::readonly, "call_all_async: mutating methods only");
    using handle = call_handle<detail::method_result_t<M>>;
    std::vector<handle> out;
    out.reserve(calls.size());
    auto& cls = detail::class_of<T>();
    const auto* method = cls.find(m);
    std::vector<detail::mutation> ms;
    ms.reserve(calls.size());
    for (auto& [o, args] : calls) {
      auto st = std::make_shared<detail::call_state>();
      out.emplace_back(st);
      if (!method) {
        st->complete(detail::unregistered_method(id_, cls), {});
        continue;
      }
      detail::mutation mu;
      mu.method = method;
      mu.done = std::move(st);
      mu.value = std::make_shared<typename tr::args>(std::move(args));
      mu.key = o.key.empty() ? detail::new_call_key() : std::move(o.key);
      ms.push_back(std::move(mu));
    }
    detail::submit_mutations(*cell_, std::move(ms));
    return out;
  }

  /// Tells the actor to run mutating method `m` with `args`, one way (the
  /// method's result is not returned).
  ///
  /// Inside a mutating method of an actor of this engine it returns at
  /// once: the message is logged with that method's call, in its actor's
  /// outbox, and sent once the call is durable. The receiver applies it
  /// exactly once, after every message this actor told that receiver
  /// before it (order per sender and receiver), even when a process dies
  /// between (the outbox sends it again, the receiver skips what it
  /// applied) and, on a cluster, when the receiver lives in another
  /// partition. Messages to different receivers go out side by side, in
  /// no order between them: a slow receiver holds up only what was told
  /// to it. Nothing is sent when the
  /// method throws. Sending never waits on the receiver, so actors that
  /// tell each other cannot deadlock as calls in a cycle would. A message
  /// that can never be applied (no such actor, another class) moves to
  /// the stream "outbox-dead/<sender>" and is named in the engine's log;
  /// one whose method throws is applied (its failure is logged at the
  /// receiver). Ok, or invalid_argument (`m` is not registered).
  ///
  /// Elsewhere (a step body, any thread, a method of another engine's
  /// actor) it is the call itself: it returns once the receiver applied it
  /// (a step's retry repeats it under the same key, so it runs once): ok,
  /// or the call's error (failed when the method threw).
  template <class M, class... A>
  status tell(M m, A&&... args) const {
    using tr = detail::method_traits<M>;
    static_assert(std::is_same_v<typename tr::owner, T>,
                  "tell: a method of another class");
    static_assert(!tr::readonly, "tell: mutating methods only");
    static_assert(std::is_constructible_v<typename tr::args, A&&...>,
                  "tell: the arguments do not match the method's parameters");
    if (!detail::in_logged_method(*cell_))
      return call_async(m, std::forward<A>(args)...).try_wait();
    auto& cls = detail::class_of<T>();
    const auto* method = cls.find(m);
    if (!method)
      return detail::unregistered_method(id_, cls);
    detail::record_tell(
      *cell_, *method,
      codec::encode(typename tr::args{std::forward<A>(args)...}));
    return {};
  }

  /// Calls `m` and waits: the result, or the error as a status/result. A
  /// readonly method runs on this thread.
  template <class M, class... A>
  detail::call_result_t<detail::method_result_t<M>> try_call(M m,
                                                             A&&... a) const {
    return call_now(m, std::forward<A>(a)...).try_get();
  }

  /// Calls `m` and waits: the result, or throws `method_failed` (the method
  /// threw), `perdure::error` (storage failed: `io`, `closed`, ...). A
  /// readonly method runs on this thread.
  template <class M, class... A>
  detail::method_result_t<M> call(M m, A&&... a) const {
    return call_now(m, std::forward<A>(a)...).get();
  }

 private:
  // A call that is waited for at once: a readonly one runs right here (no
  // hand-off to the pool), a mutating one as call_async.
  template <class M, class... A>
  call_handle<detail::method_result_t<M>> call_now(M m, A&&... args) const {
    if constexpr (detail::method_traits<M>::readonly) {
      auto st = std::make_shared<detail::call_state>();
      run_readonly(*st, m, std::forward<A>(args)...);
      return call_handle<detail::method_result_t<M>>{std::move(st)};
    } else {
      return call_async(m, std::forward<A>(args)...);
    }
  }

  template <class M, class... A>
  void run_readonly(detail::call_state& st, M m, A&&... args) const {
    if (detail::is_remote(*cell_)) {
      auto& cls = detail::class_of<T>();
      auto* method = cls.find(m);
      if (!method) {
        st.complete(detail::unregistered_method(id_, cls), {});
        return;
      }
      st.complete(detail::call_remote(
        *cell_, *method, {},
        codec::encode(typename detail::method_traits<M>::args{
          std::forward<A>(args)...})));
      return;
    }
    auto state = detail::committed_state(*cell_);
    if (!state) {
      st.complete(std::move(state).error(), {});
      return;
    }
    const T& self = *static_cast<const T*>(state->get());
    using R = detail::method_result_t<M>;
    try {
      if constexpr (std::is_void_v<R>) {
        (self.*m)(std::forward<A>(args)...);
        st.complete({}, codec::encode(std::monostate{}));
      } else {
        st.complete({}, codec::encode((self.*m)(std::forward<A>(args)...)));
      }
    } catch (...) {
      auto [type, text] = detail::describe_current_exception();
      st.complete({errc::failed, "actor '" + id_ + "': readonly method threw "
                                   + type + ": " + text},
                  {});
    }
  }

  std::shared_ptr<detail::actor_cell> cell_;
  std::string id_;
  call_options opts_;
};

/// Options of the virtual actors of one engine; set them with
/// `configure_actors` before the first actor is used.
struct actor_options {
  /// Write a snapshot every this many events (at least 1); state-logged
  /// actors. For both kinds of actor, a snapshot also waits until the
  /// calls logged since the previous one take as many bytes as that
  /// snapshot did: a snapshot holds the state and the results of up to
  /// key_window calls, and snapshots never write more than calls do.
  std::uint32_t snapshot_every = 100;
  /// Keep every event (for the CLI's history and replay); false drops the
  /// events before each snapshot.
  bool keep_history = true;
  /// An actor idle this long is passivated (its memory freed).
  std::chrono::milliseconds idle_timeout = std::chrono::seconds{60};
  /// How many recent idempotency keys a snapshot keeps (the window in which
  /// a repeated key is recognised across snapshots).
  std::uint32_t key_window = 1024;
  /// How many actor methods may block at once in calls to other actors.
  /// Methods run on the engine's actor threads (engine_options::
  /// actor_threads); a method that waits for another actor's call gives its
  /// thread up for a new one, so callers never starve their callees, up to
  /// this many waiting at once. Beyond it a call made from a method fails
  /// `busy` instead of waiting.
  std::size_t max_blocked_calls = 1024;
  /// Event-sourced actors: write a snapshot once this many events were
  /// logged since the last one (at least 1) ...
  std::uint32_t events_per_snapshot = 1000;
  /// ... or once the records of those events take this many bytes. The
  /// snapshot is logged in a batch of its own between calls, never with a
  /// call (no caller waits for it).
  std::size_t event_bytes_per_snapshot = std::size_t{1} << 20;
  /// Event-sourced actors: copy each event, in its call's batch, to its
  /// class's feed `actor-feed/<class>`, which projections read. Off, a
  /// call writes one record instead of two (an application that runs no
  /// projections: about a quarter more calls per second through
  /// `deliver_to`), and `project()` on this engine fails
  /// `invalid_argument`. Events logged while it is off never reach a feed.
  bool event_feed = true;
};

/// Sets the actor options of `eng`. Fails `busy` once an actor was used.
status configure_actors(engine& eng, actor_options opts);

/// Declares actor classes `T...` to `eng` (each registered with
/// PERDURE_ACTOR). Messages told to an actor (actor_ref::tell) reach it
/// once its class is known to the engine: any use of the class makes it
/// known, and so does this. Call it after opening the engine so that
/// messages a crash or a stop left in outboxes go out at once.
template <class... T>
void use_actors(engine& eng) {
  (detail::learn_class(eng, detail::class_of<T>()), ...);
}

/// How many actors of `eng` are active (in memory) now.
std::size_t active_actors(engine& eng);

// -- the engine's actor entry points ------------------------------------------

template <class T, class... Args>
result<actor_ref<T>> engine::try_actor(std::string id, Args&&... args) {
  std::function<std::shared_ptr<const void>()> make = [&] {
    return std::shared_ptr<const void>{
      std::make_shared<T>(std::forward<Args>(args)...)};
  };
  auto cell = detail::resolve_actor(*this, id, detail::class_of<T>(), &make,
                                    sizeof...(Args) > 0);
  if (!cell)
    return std::move(cell).error();
  return actor_ref<T>{std::move(*cell), std::move(id)};
}

template <class T, class... Args>
actor_ref<T> engine::actor(std::string id, Args&&... args) {
  return value_or_throw(try_actor<T>(std::move(id), std::forward<Args>(args)...));
}

template <class T>
result<actor_ref<T>> engine::try_get_actor(std::string id) {
  auto cell = detail::resolve_actor(*this, id, detail::class_of<T>(), nullptr);
  if (!cell)
    return std::move(cell).error();
  return actor_ref<T>{std::move(*cell), std::move(id)};
}

template <class T>
actor_ref<T> engine::get_actor(std::string id) {
  return value_or_throw(try_get_actor<T>(std::move(id)));
}

} // namespace perdure

#define PERDURE_DETAIL_STRIP(...) __VA_ARGS__
#define PERDURE_DETAIL_ACTOR_FIELDS(Class, ...)                               \
  __VA_OPT__(PERDURE_FIELDS(Class, __VA_ARGS__))
#define PERDURE_DETAIL_ACTOR_METHODS(...)                                     \
  PERDURE_DETAIL_FOR_EACH(PERDURE_DETAIL_ACTOR_METHOD, __VA_ARGS__)
#define PERDURE_DETAIL_ACTOR_METHOD(m)                                        \
  ::perdure::detail::make_method<perdure_self>(#m, &perdure_self::m)

/// Registers actor class `Class` at namespace scope right after it: its
/// state fields (for the codec; empty `()` when the class has
/// perdure_save/perdure_load hooks) and its methods, each a parenthesized
/// comma-separated list: PERDURE_ACTOR(counter, (count), (incr, value)).
/// Methods must not be overloaded. The class name is stored with the actor.
#define PERDURE_ACTOR(Class, fields, methods)                                 \
  PERDURE_DETAIL_ACTOR_FIELDS(Class, PERDURE_DETAIL_STRIP fields)             \
  [[maybe_unused]] inline ::std::vector<::perdure::detail::method_entry>      \
  perdure_actor_methods(::perdure::detail::actor_tag<Class>) {                \
    using perdure_self [[maybe_unused]] = Class;                              \
    return {PERDURE_DETAIL_ACTOR_METHODS(PERDURE_DETAIL_STRIP methods)};      \
  }                                                                           \
  [[maybe_unused]] constexpr const char* perdure_actor_name(                  \
    ::perdure::detail::actor_tag<Class>) noexcept {                           \
    return #Class;                                                            \
  }
