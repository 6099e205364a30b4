// SPDX-License-Identifier: Apache-2.0
#pragma once

// Kafka records into virtual actors: `eng.subscribe(kafka_source{...},
// deliver_to(&account::apply))` calls the actor keyed by each record's key
// (actor id = `id_prefix` + key; created with T's default constructor on
// first use), in partition order, with idempotency key
// "kafka/GROUP/TOPIC/PARTITION/OFFSET". Needs the actors module (link
// perdure_actors); nothing of librdkafka or CAF appears here.
//
// The records of one key in a consumed batch reach their actor as one
// message (call_all_async) and are logged in one commit.
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

#include <stdexcept>
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
  using args = typename tr::args;
  // The actor of `id` (the error as a status).
  auto ref_of = [refs](engine& eng,
                       const std::string& id) -> result<const actor_ref<T>*> {
    auto it = refs->find(id);
    if (it == refs->end()) {
      if (refs->size() >= 4096)
        refs->clear();
      auto ref = eng.try_actor<T>(id);
      if (!ref)
        return std::move(ref).error();
      it = refs->emplace(id, std::move(*ref)).first;
    }
    return &it->second;
  };
  auto waiter_of = [](call_handle<R> h) -> record_delivery::waiter {
    return [h = std::move(h)] { return h.try_wait(); };
  };
  record_delivery d;
  d.attempts = o.attempts;
  // The actor is the record's key: a record without one has nowhere to go.
  static constexpr const char* no_key =
    "the record has no key, and deliver_to calls the actor keyed by it";
  d.start = [m, decode, ref_of, waiter_of, prefix = o.id_prefix](
              engine& eng, const kafka_record& r,
              const std::string& key) -> record_delivery::waiter {
    if (r.key.empty())
      throw std::invalid_argument{no_key}; // a poison record
    args arg{decode(r)}; // throws: a poison record
    auto ref = ref_of(eng, prefix + r.key);
    if (!ref)
      return [st = status{std::move(ref).error()}] { return st; };
    return waiter_of((*ref)->with({.key = key}).call_async(
      m, std::get<0>(std::move(arg))));
  };
  d.start_group = [m, decode, ref_of, waiter_of,
                   prefix = std::move(o.id_prefix)](
                    engine& eng, std::vector<record_delivery::item>& items) {
    if (!items.empty() && items.front().record->key.empty()) {
      for (auto& i : items)
        i.poison = no_key;
      return;
    }
    std::vector<std::pair<call_options, args>> calls;
    std::vector<record_delivery::item*> started;
    calls.reserve(items.size());
    started.reserve(items.size());
    for (auto& i : items) {
      try {
        calls.emplace_back(call_options{.key = i.key}, args{decode(*i.record)});
        started.push_back(&i);
      } catch (const std::exception& e) {
        i.poison = e.what();
      } catch (...) {
        i.poison = "unknown exception";
      }
    }
    if (started.empty())
      return;
    auto ref = ref_of(eng, prefix + items.front().record->key);
    if (!ref) {
      for (auto* i : started)
        i->wait = [st = status{ref.error()}] { return st; };
      return;
    }
    auto hs = (*ref)->call_all_async(m, std::move(calls));
    for (std::size_t k = 0; k < hs.size(); ++k)
      started[k]->wait = waiter_of(std::move(hs[k]));
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
