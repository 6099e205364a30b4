#pragma once

// Kafka records into virtual actors: `eng.subscribe(kafka_source{...},
// deliver_to(&account::apply))` calls the actor keyed by each record's key
// (actor id = `id_prefix` + key; created with T's default constructor on
// first use), in partition order, with idempotency key
// "kafka/GROUP/TOPIC/PARTITION/OFFSET". Needs the actors module (link
// perdure_actors); nothing of librdkafka or CAF appears here.
//
// Exactly-once: an actor's call commits through the actor, not in the
// transaction of the offsets, so the offsets of a batch are committed only
// after every call of the batch is durable (the next batch's calls run
// meanwhile: at most two batches are applied beyond the stored offsets).
// After a crash consumption resumes from the stored offsets; a record whose
// call was applied returns its logged outcome without running the method
// again. This needs the actor to recognise the keys of two batches: a
// batch ends early at 1024 / (2 × `attempts`) records of one key, which
// fits the default `actor_options::key_window` (1024); a smaller configured
// window narrows the guarantee for hot keys.

#include "perdure/actors/actor.hpp"
#include "perdure/listeners/kafka.hpp"

#include <string>
#include <type_traits>
#include <unordered_map>
#include <utility>

namespace perdure {

/// Options of `deliver_to`.
struct delivery_options {
  /// Attempts of a record whose method throws, each under its own key
  /// ("#2", "#3", ...), before it goes to the dead-letter stream. A retry
  /// runs after the record's later same-key records of the batch.
  int attempts = 3;
  /// The actor id is `id_prefix + record.key`.
  std::string id_prefix = {};
};

namespace detail {

template <class M, class Decode>
record_delivery make_delivery(M m, Decode decode, delivery_options o) {
  using tr = method_traits<M>;
  using T = typename tr::owner;
  using R = method_result_t<M>;
  static_assert(!tr::readonly,
                "deliver_to: the method must be mutating (non-const)");
  static_assert(std::tuple_size_v<typename tr::args> == 1,
                "deliver_to: the method takes exactly one argument");
  // Refs of recently used actors; the consumer thread is the only user.
  // Bounded, so idle actors can still be passivated.
  auto refs = std::make_shared<std::unordered_map<std::string, actor_ref<T>>>();
  record_delivery d;
  d.attempts = o.attempts;
  d.start = [m, decode, refs, prefix = std::move(o.id_prefix)](
              engine& eng, const kafka_record& r,
              const std::string& key) -> record_delivery::waiter {
    auto arg = decode(r); // throws: a poison record
    auto id = prefix + r.key;
    auto it = refs->find(id);
    if (it == refs->end()) {
      if (refs->size() >= 4096)
        refs->clear();
      auto ref = eng.try_actor<T>(id);
      if (!ref)
        return [st = status{std::move(ref).error()}] { return st; };
      it = refs->emplace(id, std::move(*ref)).first;
    }
    auto h = it->second.with({.key = key}).call_async(m, std::move(arg));
    return [h]() -> status {
      if constexpr (std::is_void_v<R>) {
        return h.try_get();
      } else {
        auto res = h.try_get();
        return res ? status{} : std::move(res).error();
      }
    };
  };
  return d;
}

} // namespace detail

/// Delivers each record to `m` of the actor keyed by the record's key; `m`
/// takes `const kafka_record&` (or a `kafka_record`).
template <class M>
record_delivery deliver_to(M m, delivery_options o = {}) {
  return detail::make_delivery(
    m, [](const kafka_record& r) -> const kafka_record& { return r; },
    std::move(o));
}

/// Delivers `decode(record)` to `m` of the actor keyed by the record's key;
/// a `decode` that throws makes the record poison (dead letter,
/// consumption goes on).
template <class M, class Decode>
  requires std::is_invocable_v<Decode, const kafka_record&>
record_delivery deliver_to(M m, Decode decode, delivery_options o = {}) {
  return detail::make_delivery(m, std::move(decode), std::move(o));
}

} // namespace perdure
