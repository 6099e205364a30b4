// SPDX-License-Identifier: Apache-2.0
#pragma once

// Kafka records into virtual actors on a cluster: the feed target of
// `cluster::subscribe(host, src, cluster::actor_target(&account::apply))`
// calls the actor `id_prefix + record.key` (created with T{} on first use,
// on the owner of its partition) once per record, in partition order per
// actor, with idempotency key sequenced_feed_key(src, record, attempt): the
// actor keeps, in its own log, the highest offset of each Kafka partition it
// applied, so a record the feed sends again (after a crash before its
// offsets were committed, or from a consumer paused past its session
// timeout) does not run the method again, however many calls the actor
// took since; while the key is among its last key_window calls it answers
// the logged result (a failed attempt says failed, so the next attempt
// runs). Every node serves the class (engine_host_options::actor_calls =
// served_actors<T>()).
//
// Library perdure_cluster_kafka with perdure_cluster_actors.

#include "perdure/cluster/actor_calls.hpp"
#include "perdure/cluster/kafka_feed.hpp"

#include <perdure/listeners/kafka_actors.hpp>
#include <stdexcept>
#include <string>
#include <tuple>
#include <utility>

namespace perdure::cluster {

/// The feed target that delivers records to actors: one call of `m` per record
/// with `decode(record)` as its argument; a `decode` that throws, a record
/// without a key or a method that throws `o.attempts` times makes the record a
/// dead letter.
template <class M, class Decode>
requires std::is_invocable_v<Decode, const kafka_record&>
    feed_target actor_target(M m, Decode decode, delivery_options o = {}) {
  using tr = detail::method_traits<M>;
  using T = typename tr::owner;
  using args = typename tr::args;
  static_assert(!tr::readonly,
                "actor_target: the method must be mutating (non-const)");
  static_assert(std::tuple_size_v<args> == 1,
                "actor_target: the method takes exactly one argument");
  auto& cls = detail::class_of<T>();
  auto* method = cls.find(m);
  if (!method)
    throw error{detail::unregistered_method("actor_target", cls)};
  feed_target t;
  t.attempts = o.attempts;
  t.sequenced = true;
  t.make = [decode, prefix = std::move(o.id_prefix), cls_name = cls.name,
            name = method->name](const kafka_record& r) {
    if (r.key.empty())
      throw std::invalid_argument{
          "the record has no key, and actor_target calls the actor keyed by "
          "it"};
    auto arg = codec::encode(args{decode(r)}); // throws: a poison record
    feed_action a;
    a.target = prefix + r.key;
    a.send = [id = a.target, cls_name, name,
              arg = std::move(arg)](engine_host& h, const std::string& key) {
      return h
          .request(request_kind::actor_call, id, name,
                   encode_actor_call(cls_name, key, arg))
          .as_status();
    };
    return a;
  };
  return t;
}

/// actor_target whose method takes the record itself
/// (`const kafka_record&` or a `kafka_record`).
template <class M> feed_target actor_target(M m, delivery_options o = {}) {
  return actor_target(
      m, [](const kafka_record& r) -> const kafka_record& { return r; },
      std::move(o));
}

} // namespace perdure::cluster
