// SPDX-License-Identifier: Apache-2.0
#pragma once

// Implementation detail of perdure/actors/actor.hpp (include that): the
// type-erased description of an actor class (its state codec and method
// table), the shared state of one call, and the entry points implemented in
// actors/src.

#include "perdure/actors/event_sourced.hpp"
#include "perdure/runtime/engine.hpp"
#include "perdure/runtime/errors.hpp"
#include "perdure/runtime/graph.hpp"
#include "perdure/runtime/remote_workflows.hpp"

#include <any>
#include <chrono>
#include <condition_variable>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <tuple>
#include <type_traits>
#include <variant>
#include <vector>

namespace perdure::detail {

/// ADL tag: `perdure_actor_methods(actor_tag<T>)` is found in T's namespace.
template <class T>
struct actor_tag {};

// -- member function traits -------------------------------------------------

template <class M>
struct method_traits;

#define PERDURE_DETAIL_METHOD_TRAITS(CONST, NOEXCEPT, READONLY)               \
  template <class C, class R, class... P>                                     \
  struct method_traits<R (C::*)(P...) CONST NOEXCEPT> {                       \
    using owner = C;                                                          \
    using raw_result = R;                                                     \
    using args = std::tuple<std::decay_t<P>...>;                              \
    static constexpr bool readonly = READONLY;                                \
  };
PERDURE_DETAIL_METHOD_TRAITS(, , false)
PERDURE_DETAIL_METHOD_TRAITS(, noexcept, false)
PERDURE_DETAIL_METHOD_TRAITS(const, , true)
PERDURE_DETAIL_METHOD_TRAITS(const, noexcept, true)
#undef PERDURE_DETAIL_METHOD_TRAITS

template <class R>
struct unwrap_result {
  using type = R;
  static constexpr bool sub_workflow = false;
};
template <class U>
struct unwrap_result<workflow<U>> {
  using type = U;
  static constexpr bool sub_workflow = true;
};

/// What a call of method pointer `M` yields to its caller.
template <class M>
using method_result_t =
  typename unwrap_result<typename method_traits<M>::raw_result>::type;

/// `result<R>`, or `status` for void.
template <class R>
using call_result_t = std::conditional_t<std::is_void_v<R>, status, result<R>>;

// -- actor classes ------------------------------------------------------------

/// What applying a mutating method to a copy of the state produced.
struct applied {
  std::shared_ptr<const void> state; ///< the new state; null when it threw
  std::string result;                ///< the encoded result (no sub-workflow)
  std::shared_ptr<node> graph;       ///< a sub-workflow whose output is the result
  std::string error_type;            ///< set when the method threw
  std::string error_text;
  /// Event-sourced classes: the events it emitted (`state` is their fold).
  std::vector<actor_records::stored_event> events;
};

/// One registered method.
struct method_entry {
  std::string name;
  bool readonly = false;
  /// Mutating methods: "<codec signature of the argument tuple>-><of the
  /// result>", stored with the actor and compared at activation.
  std::string signature;
  std::any ptr; ///< the member function pointer
  /// Mutating methods: applies the method with encoded `args` to a copy of
  /// the state `*state`.
  std::function<applied(const void* state, std::string_view args)> apply;
  /// As `apply`, with the arguments as a `method_traits<M>::args` tuple in
  /// memory (moved from), which saves decoding what was just encoded.
  std::function<applied(const void* state, void* args)> apply_tuple;
  /// Encodes such a tuple (for the call's record).
  std::function<std::string(const void* args)> encode_tuple;
  /// Readonly methods: runs the method with encoded `args` on `*state`
  /// and returns its encoded result; failed when it threw (a call that did
  /// not come through an actor_ref: a forwarded one).
  std::function<result<std::string>(const void* state, std::string_view args)>
    read;
};

/// The type-erased description of an actor class.
struct actor_class {
  std::string name;
  std::string signature; ///< the codec signature of the state
  std::vector<method_entry> methods;
  std::function<std::string(const void*)> encode;
  std::function<result<std::shared_ptr<const void>>(std::string_view)> decode;
  /// Event-sourced classes (derived from event_sourced<T, Events...>).
  bool event_sourced = false;
  std::vector<actor_records::named_signature> events; ///< names, signatures
  /// Applies stored event `type` (codec signature `signature`, bytes
  /// `data`) to `*state` (see event_sourced::perdure_fold).
  std::function<status(void* state, std::string_view type,
                       std::string_view signature, std::string_view data)>
    fold;
  /// A copy of `*state`.
  std::function<std::shared_ptr<void>(const void* state)> clone;

  /// The method named `n`, or null.
  const method_entry* find(std::string_view n) const {
    for (auto& m : methods)
      if (m.name == n)
        return &m;
    return nullptr;
  }
  /// The method whose pointer is `m`, or null.
  template <class M>
  const method_entry* find(M m) const {
    for (auto& e : methods)
      if (auto p = std::any_cast<M>(&e.ptr); p && *p == m)
        return &e;
    return nullptr;
  }
};

/// The error of a call of a method `cls` did not register (by actor `id`).
inline status unregistered_method(const std::string& id,
                                  const actor_class& cls) {
  return {errc::invalid_argument, "actor '" + id
                                    + "': the method is not registered in "
                                      "PERDURE_ACTOR("
                                    + cls.name + ", ...)"};
}

template <class R>
std::string encode_result(const R& r) {
  return codec::encode(r);
}

template <class T, class M>
method_entry make_method(const char* name, M m) {
  using tr = method_traits<M>;
  static_assert(std::is_same_v<typename tr::owner, T>,
                "PERDURE_ACTOR: a method of another class");
  using raw = typename tr::raw_result;
  method_entry e;
  e.name = name;
  e.readonly = tr::readonly;
  e.ptr = m;
  if constexpr (!tr::readonly) {
    using R = typename unwrap_result<raw>::type;
    using shown = std::conditional_t<std::is_void_v<R>, std::monostate, R>;
    e.signature = codec::type_signature<typename tr::args>() + "->"
                  + codec::type_signature<shown>();
  }
  if constexpr (tr::readonly) {
    static_assert(!unwrap_result<raw>::sub_workflow,
                  "a readonly (const) actor method cannot return a "
                  "sub-workflow; make it non-const");
    e.read = [m](const void* state,
                 std::string_view args) -> result<std::string> {
      auto decoded = codec::decode<typename tr::args>(args);
      if (!decoded)
        return unexpected{errc::type_mismatch, decoded.error().message()};
      const T& self = *static_cast<const T*>(state);
      try {
        auto call = [&](auto&&... a) -> decltype(auto) {
          return (self.*m)(std::move(a)...);
        };
        if constexpr (std::is_void_v<raw>) {
          std::apply(call, std::move(*decoded));
          return codec::encode(std::monostate{});
        } else {
          return encode_result(std::apply(call, std::move(*decoded)));
        }
      } catch (...) {
        auto [type, text] = describe_current_exception();
        return unexpected{errc::failed,
                          "readonly method threw " + type + ": " + text};
      }
    };
  } else {
    auto run = [m](const void* state, typename tr::args& args) {
      applied out;
      try {
        auto next = std::make_shared<T>(*static_cast<const T*>(state));
        constexpr bool es = std::is_base_of_v<event_sourced_base, T>;
        [[maybe_unused]] event_sink sink;
        if constexpr (es)
          next->perdure_set_sink(&sink);
        auto call = [&](auto&&... a) -> decltype(auto) {
          return ((*next).*m)(std::move(a)...);
        };
        if constexpr (std::is_void_v<raw>) {
          std::apply(call, std::move(args));
          out.result = codec::encode(std::monostate{});
        } else if constexpr (unwrap_result<raw>::sub_workflow) {
          out.graph = std::apply(call, std::move(args)).node();
        } else {
          out.result = encode_result(std::apply(call, std::move(args)));
        }
        if constexpr (es) {
          next->perdure_set_sink(nullptr);
          out.events = std::move(sink.events);
        }
        out.state = std::move(next);
      } catch (...) {
        std::tie(out.error_type, out.error_text) =
          describe_current_exception();
      }
      return out;
    };
    e.apply = [run](const void* state, std::string_view args) {
      auto decoded = codec::decode<typename tr::args>(args);
      if (!decoded) {
        applied out;
        out.error_type = "perdure::type_mismatch";
        out.error_text = decoded.error().message();
        return out;
      }
      return run(state, *decoded);
    };
    e.apply_tuple = [run](const void* state, void* args) {
      return run(state, *static_cast<typename tr::args*>(args));
    };
    e.encode_tuple = [](const void* args) {
      return codec::encode(*static_cast<const typename tr::args*>(args));
    };
  }
  return e;
}

/// The description of actor class `T` (registered with PERDURE_ACTOR).
template <class T>
const actor_class& class_of() {
  static const actor_class cls = [] {
    actor_class c;
    c.name = perdure_actor_name(actor_tag<T>{});
    c.signature = codec::type_signature<T>();
    c.methods = perdure_actor_methods(actor_tag<T>{});
    c.encode = [](const void* s) {
      return codec::encode(*static_cast<const T*>(s));
    };
    c.decode = [](std::string_view b) -> result<std::shared_ptr<const void>> {
      auto v = codec::decode<T>(b);
      if (!v)
        return std::move(v).error();
      return std::shared_ptr<const void>{std::make_shared<T>(std::move(*v))};
    };
    c.clone = [](const void* s) -> std::shared_ptr<void> {
      return std::make_shared<T>(*static_cast<const T*>(s));
    };
    if constexpr (std::is_base_of_v<event_sourced_base, T>) {
      c.event_sourced = true;
      c.events = T::perdure_event_table();
      c.fold = [](void* s, std::string_view type, std::string_view sig,
                  std::string_view data) -> status {
        try {
          return T::perdure_fold(*static_cast<T*>(s), type, sig, data);
        } catch (...) {
          auto [what, text] = describe_current_exception();
          return {errc::failed, "its apply() threw " + what + ": " + text};
        }
      };
    }
    return c;
  }();
  return cls;
}

// -- calls ---------------------------------------------------------------------

/// The shared state of one call: completed once with the encoded result or
/// an error. Thread-safe.
class call_state {
 public:
  void complete(status st, std::string bytes);
  /// complete() with `r`'s value, or with its error.
  void complete(result<std::string> r);
  result<std::string> wait() const;
  status wait_status() const; ///< as wait(), without copying the result
  bool wait_for(std::chrono::nanoseconds d) const;
  bool done() const;
  /// Calls `fn` with the call's status once it completed: at once, on the
  /// caller's thread, if it has; otherwise on the thread that completes
  /// it, after its waiters were woken. At most one per call (a second
  /// replaces the first if it has not run). `fn` must be quick and must
  /// not block: it runs on an actor's or the log's thread.
  void on_done(std::function<void(const status&)> fn);

 private:
  mutable std::mutex mu_;
  mutable std::condition_variable cv_;
  bool done_ = false;
  status error_;
  std::string bytes_;
  std::function<void(const status&)> on_done_;
};

struct actor_cell; // one activation slot of an actor (actors/src)

/// The mutating calls that wait on a call, outermost first, as (actor id,
/// method name): a call onto an actor in it would wait on itself.
using call_chain = actor_call_path;

/// A mutating call as submitted to an actor.
struct mutation {
  const method_entry* method = nullptr;
  std::string args; ///< encoded std::tuple of the decayed parameters
  /// Or the tuple in memory (then `args` is empty until the actor encodes
  /// it for the call's record, on its own thread).
  std::shared_ptr<void> value;
  std::string key;  ///< idempotency key
  bool reentrant = false; ///< made by a step of the actor's own sub-workflow
  /// The chain of the mutating method that made the call (null: none).
  std::shared_ptr<const call_chain> chain;
  std::shared_ptr<call_state> done;
};

/// Resolves actor `id` of class `cls` in `eng`, activating it. With
/// `make_initial` a missing actor is created from its result (durable on
/// return); without, a missing actor is `not_found`. Another class is
/// `type_mismatch`. An actor that lives elsewhere (engine_options::remote)
/// is not looked at: its cell sends the calls there (is_remote), and
/// `with_args` (make_initial was given constructor arguments) is
/// invalid_argument for it.
result<std::shared_ptr<actor_cell>> resolve_actor(
  engine& eng, std::string_view id, const actor_class& cls,
  const std::function<std::shared_ptr<const void>()>* make_initial,
  bool with_args = false);

/// The last committed state (activating the actor again if it was
/// passivated).
result<std::shared_ptr<const void>> committed_state(actor_cell& c);

/// Runs readonly call `f` on the actors' pool (on this thread once the
/// pool has shut down; `f` then finds the engine closing).
void post_readonly(actor_cell& c, std::function<void()> f);

/// Queues `m` on the actor; `m.done` completes once it is durable.
void submit_mutation(actor_cell& c, mutation m);

/// Queues `ms` on the actor as one message: applied in this order and
/// logged in one commit; each `done` completes once it is durable.
void submit_mutations(actor_cell& c, std::vector<mutation> ms);

/// A key for a call without one: derived from the workflow, step and the
/// call's position inside a step body (stable across retries), else random.
std::string new_call_key();

/// The id of actor cell `c`.
const std::string& cell_id(const actor_cell& c);

/// Whether a mutating actor method whose call is logged runs on this
/// thread in the engine of cell `c` (what it tells `c`'s actor is logged
/// with its call, and sent by its engine's outbox).
bool in_logged_method(const actor_cell& c) noexcept;

/// Logs, with the call of the mutating method running on this thread, the
/// message that tells `c`'s actor to run `m` with encoded `args`.
/// @pre in_logged_method(c)
void record_tell(actor_cell& c, const method_entry& m, std::string args);

/// Makes class `cls` known to `eng`'s actors (see use_actors).
void learn_class(engine& eng, const actor_class& cls);

/// Whether cell `c`'s actor lives elsewhere (engine_options::remote):
/// its calls are answered there.
bool is_remote(const actor_cell& c);

/// Calls method `m` of remote cell `c`'s actor with encoded `args` and
/// key `key` (empty for a readonly method) on this thread and waits for
/// the answer (remote_workflows::call_actor); `waiting`: the mutating
/// methods waiting on it (null: none).
/// @pre is_remote(c)
result<std::string> call_remote(actor_cell& c, const method_entry& m,
                                const std::string& key, std::string args,
                                const call_chain* waiting = nullptr);

} // namespace perdure::detail
