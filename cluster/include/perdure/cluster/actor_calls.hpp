// SPDX-License-Identifier: Apache-2.0
#pragma once

// Virtual actors across the cluster: any node calls any actor. An actor
// lives in the partition its id maps to (engine_host::routing(), the same
// map as workflows: `order-7/cart` lives with `order-7`); a call made on a
// node that does not lead that partition is forwarded to its owner's door
// and returns the owner's answer.
//
//   // on every node, the same classes:
//   opts.actor_calls = cluster::served_actors<counter, account>();
//   auto host = cluster::engine_host::start(std::move(opts));
//   // on any node:
//   auto c = cluster::host_actor<counter>{**host, "counter-7"};
//   c.call(&counter::incr, 10);            // once, on counter-7's owner
//   c.try_call(&counter::value);           // its committed state
//   auto h = c.call_async(&counter::incr, 1); // returns at once
//   h.get();                               // waits: 11
//
// A mutating call carries an idempotency key (chosen here, or the
// caller's through with()): the owner logs the key with the call, so a
// call tried again across a failover (the forward's retries, or the
// caller's own with the same key) runs once and answers the logged result,
// as long as the key is among the actor's last key_window calls. Readonly
// calls run on the owner against the committed state.
//
// Inside a partition's engine (an actor method, a step body) the engine's
// own actor_ref reaches an actor of another partition the same way, with
// the key derived from the calling method or step (docs/cluster.md,
// "Calls to actors of another partition").
//
// call_async returns at once with a handle (actors/actor.hpp's
// call_handle); the call runs on one of the host's async_threads, the
// calls of one actor from this host one at a time in the order they were
// made. Not here (yet): creating an actor with constructor arguments (a
// missing actor is created with T{}; a class without a default
// constructor must be created on its owner with engine::actor).
//
// Library perdure_cluster_actors (links perdure_cluster_engine and
// perdure_actors).

#include "perdure/cluster/engine_host.hpp"

#include <perdure/actors/actor.hpp>

#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <tuple>
#include <type_traits>
#include <utility>
#include <vector>

namespace perdure::cluster {

/// A class served to forwarded calls: its description and how to create
/// a missing actor of it (null: not created, not_found).
struct served_class {
  const detail::actor_class* cls = nullptr;
  std::function<std::shared_ptr<const void>()> make;
};

/// The handler of engine_host_options::actor_calls for `classes`
/// (served_actors<T...>() builds them). Unknown classes and methods are
/// invalid_argument; an actor of another class is type_mismatch.
actor_call_handler serve_actor_classes(std::vector<served_class> classes);

/// engine_host_options::actor_calls serving actor classes `T...` (each
/// registered with PERDURE_ACTOR; a missing actor is created with T{}
/// when T is default-constructible).
template <class... T>
actor_call_handler served_actors() {
  std::vector<served_class> classes;
  (
    [&] {
      served_class c;
      c.cls = &detail::class_of<T>();
      if constexpr (std::is_default_constructible_v<T>)
        c.make = [] {
          return std::shared_ptr<const void>{std::make_shared<T>()};
        };
      classes.push_back(std::move(c));
    }(),
    ...);
  return serve_actor_classes(std::move(classes));
}

/// A reference to virtual actor `T` with id `id` through engine_host
/// `host` (which must outlive it): its calls run on the actor's owner,
/// wherever that is. Cheap to copy; thread-safe.
template <class T>
class host_actor {
 public:
  host_actor(engine_host& host, std::string id)
    : host_(&host), id_(std::move(id)) {
  }

  const std::string& id() const noexcept {
    return id_;
  }

  /// A reference whose next calls use `o` (the caller's idempotency key:
  /// give one when the caller itself may try a call again, e.g. from
  /// another node after this one died).
  host_actor with(call_options o) const {
    host_actor r = *this;
    r.opts_ = std::move(o);
    return r;
  }

  /// Calls `m` with `args` on the actor's owner and waits for its result
  /// (a mutating call: once it is durable). Errors: the call's (failed
  /// when the method threw), those of engine_host::request (tried again
  /// until forward_deadline while the owner changes).
  template <class M, class... A>
  detail::call_result_t<detail::method_result_t<M>> try_call(
    M m, A&&... args) const {
    using R = detail::method_result_t<M>;
    auto req = prepare(m, std::forward<A>(args)...);
    if (!req)
      return std::move(req).error();
    auto bytes = host_->request(request_kind::actor_call, id_,
                                req->first, std::move(req->second));
    if constexpr (std::is_void_v<R>) {
      return bytes.as_status();
    } else {
      if (!bytes)
        return std::move(bytes).error();
      return codec::decode<R>(*bytes);
    }
  }

  /// Starts the call of `m` with `args` on the actor's owner and returns
  /// at once; the handle waits for its result (try_get, get, wait_for).
  /// The call runs as try_call runs it, on one of the host's
  /// async_threads; the calls of this actor made on this host run one at
  /// a time in the order call_async was called (a mutating call's key is
  /// chosen now, so the handle's call runs once). A host stopping ends
  /// the calls not sent yet with `closed`.
  template <class M, class... A>
  call_handle<detail::method_result_t<M>> call_async(M m,
                                                     A&&... args) const {
    auto st = std::make_shared<detail::call_state>();
    auto req = prepare(m, std::forward<A>(args)...);
    if (!req) {
      st->complete(std::move(req).error());
      return call_handle<detail::method_result_t<M>>{std::move(st)};
    }
    host_->request_async(
      request_kind::actor_call, id_, req->first, std::move(req->second),
      [st](result<std::string> r) { st->complete(std::move(r)); });
    return call_handle<detail::method_result_t<M>>{std::move(st)};
  }

  /// try_call, throwing the typed exception (method_failed when the
  /// method threw).
  template <class M, class... A>
  detail::method_result_t<M> call(M m, A&&... args) const {
    auto r = try_call(m, std::forward<A>(args)...);
    if constexpr (std::is_void_v<detail::method_result_t<M>>) {
      if (!r)
        throw_actor_error(std::move(r));
    } else {
      if (!r)
        throw_actor_error(std::move(r).error());
      return std::move(r).value();
    }
  }

 private:
  // The method's name and the request's bytes (its key chosen here).
  template <class M, class... A>
  result<std::pair<std::string, std::string>> prepare(M m,
                                                      A&&... args) const {
    using tr = detail::method_traits<M>;
    static_assert(std::is_same_v<typename tr::owner, T>,
                  "call: a method of another class");
    static_assert(std::is_constructible_v<typename tr::args, A&&...>,
                  "call: the arguments do not match the method's parameters");
    auto& cls = detail::class_of<T>();
    auto* method = cls.find(m);
    if (!method)
      return detail::unregistered_method(id_, cls);
    std::string key;
    if constexpr (!tr::readonly)
      key = opts_.key.empty() ? detail::new_call_key() : opts_.key;
    return std::pair{
      std::string{method->name},
      encode_actor_call(cls.name, key,
                        codec::encode(typename tr::args{
                          std::forward<A>(args)...}))};
  }

  engine_host* host_;
  std::string id_;
  call_options opts_;
};

} // namespace perdure::cluster
