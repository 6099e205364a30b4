// SPDX-License-Identifier: Apache-2.0
#pragma once

// Internals of the actors module shared by actor_log.cpp (records, loading,
// keys), actor_runner.cpp / actor_apply.cpp (one actor's calls) and
// actor_service.cpp (the directory, activation, shutdown). The records'
// payloads are perdure/eventlog/records/actor.hpp.

#include "perdure/actors/actor.hpp"
#include "perdure/eventlog/event_log.hpp"
#include "perdure/eventlog/record_kinds.hpp"
#include "perdure/eventlog/records/actor.hpp"
#include "perdure/runtime/remote_workflows.hpp"

#include <fmt/format.h>

#include <atomic>
#include <cstdint>
#include <deque>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

namespace perdure::detail {

/// The outcome remembered under an idempotency key.
struct remembered {
  bool ok = false;
  std::string result; ///< encoded result when ok
  std::string error;  ///< the message when not
};

/// Idempotency keys in arrival order, bounded by trim().
class key_index {
 public:
  key_index() = default;
  key_index(key_index&&) = default; // nodes (and order_'s pointers) move
  key_index& operator=(key_index&&) = default;
  key_index(const key_index&) = delete;
  key_index& operator=(const key_index&) = delete;
  void put(std::string key, remembered r);
  const remembered* find(const std::string& key) const;
  /// Forgets all but the newest `n` keys.
  void trim(std::size_t n);
  std::vector<actor_records::key_entry> newest(std::size_t n) const;
  /// Calls `f(key, outcome)` for the newest `n` keys, oldest first.
  template <class F>
  void for_newest(std::size_t n, F&& f) const {
    for (auto i = order_.size() > n ? order_.size() - n : 0;
         i < order_.size(); ++i)
      f(order_[i]->first, order_[i]->second);
  }
  std::size_t size() const noexcept {
    return map_.size();
  }

 private:
  std::unordered_map<std::string, remembered> map_;
  /// map_'s entries in arrival order (nodes do not move).
  std::deque<const std::pair<const std::string, remembered>*> order_;
};

/// A sub-workflow call whose completion is not logged yet.
struct pending_sub {
  std::string key;
  std::string method;
  std::string args;
  std::string workflow;
  std::shared_ptr<const void> before; ///< the state the method was applied to
};

/// What activation read back from an actor's stream.
struct loaded_actor {
  std::shared_ptr<const void> state;
  eventlog::seq_t last_seq = 0;
  std::uint32_t since_snapshot = 0;
  std::uint32_t events_since = 0;    ///< event-sourced: events since snapshot
  std::size_t event_bytes_since = 0; ///< calls' records' bytes since it
  std::size_t snapshot_bytes = 0;    ///< the latest snapshot record's bytes
  key_index keys;
  std::optional<pending_sub> pending;
  /// The stored class metadata with what the class added since (methods,
  /// event types, the state's signature); none: nothing new.
  std::optional<actor_records::actor_meta> meta_update;
};

/// "actor/<id>".
std::string stream_of(std::string_view id);

/// Reads actor `stream` (latest snapshot, then later events). `not_found`
/// when it does not exist; `type_mismatch` when it is another class or no
/// actor.
result<loaded_actor> load_actor(const eventlog::event_log& log,
                                const std::string& stream,
                                const actor_class& cls);

/// Compares the class an actor was stored with (`meta`) with `cls`:
/// `type_mismatch` naming what differs (the class, its kind, a mutating
/// method's signature); adding methods, events or fields is compatible.
status check_signature(const actor_records::actor_meta& meta,
                       const actor_class& cls, const std::string& id);

/// load_actor for an event-sourced class: the latest snapshot, then the
/// fold of the later events. An event that does not apply is
/// `type_mismatch` naming the actor, seq and event type.
result<loaded_actor> load_folded(const eventlog::event_log& log,
                                 const eventlog::stream_info& info,
                                 const std::string& stream,
                                 const actor_class& cls);

/// Decodes the payload of record `r` of actor `stream` as an `R`;
/// `corruption` naming the stream and seq when it does not decode.
template <class R>
result<R> decode_rec(const eventlog::record_view& r,
                     const std::string& stream) {
  auto v = codec::decode<R>(r.payload);
  if (!v)
    return unexpected{errc::corruption,
                      fmt::format("actor stream '{}' seq {}: {}", stream,
                                  r.seq, v.error().message())};
  return v;
}

/// The records both kinds of actor read back alike: a snapshot's keys, a
/// failed call's key, a sub-workflow's logged result. Applies `r` to `out`
/// when it is `actor_call_failed` or `actor_call_completed`: then returns
/// whether the scan goes on (false: `bad` says why); nullopt for any other
/// kind.
std::optional<bool> read_call_end(const eventlog::record_view& r,
                                  const std::string& stream,
                                  const std::string& id, loaded_actor& out,
                                  status& bad);

/// Replaces `out`'s keys with those snapshot `s` kept (moved from).
void keys_from_snapshot(actor_records::snapshot& s, loaded_actor& out);

/// The directory metadata of a new actor of class `cls`.
actor_records::actor_meta meta_of(const actor_class& cls);

/// `stored` with what compatible class `cls` adds (new mutating methods,
/// new or changed event types, the state's signature), so that later
/// activations compare against them too; none when nothing is new.
/// @pre check_signature(stored, cls) passed
std::optional<actor_records::actor_meta> merged_meta(
  const actor_records::actor_meta& stored, const actor_class& cls);

/// The error message remembered for a method that threw.
std::string method_error(const std::string& id, const std::string& method,
                         const std::string& type, const std::string& text);

class actor_service;
class cell_runner;

/// One actor's slot: its activation (a runner while active) and the
/// committed state readonly calls read.
struct actor_cell : std::enable_shared_from_this<actor_cell> {
  std::shared_ptr<actor_service> svc;
  std::string id;
  std::string stream;
  const actor_class* cls = nullptr;

  std::mutex mu;
  bool active = false;          ///< guarded by mu
  std::shared_ptr<cell_runner> runner; ///< guarded by mu
  std::uint64_t sent = 0;       ///< mutations sent; guarded by mu
  std::atomic<std::uint64_t> received{0}; ///< mutations the actor took
  std::atomic<std::shared_ptr<const void>> snapshot; ///< committed state
  std::atomic<std::int64_t> last_used{0}; ///< steady clock, ns

  /// Set: the actor lives elsewhere (another partition's engine) and its
  /// calls go through this; the cell is never active (actor_remote.cpp).
  std::shared_ptr<remote_workflows> remote;
  std::deque<mutation> outgoing; ///< remote: calls not sent yet; guarded by mu
  bool sending = false;          ///< remote: a task sends them; guarded by mu

  ~actor_cell();
};

/// A cell for actor `id` of class `cls` that lives elsewhere, reached
/// through `remote` (a new one per resolve: it holds nothing but the
/// order of the calls made through it).
std::shared_ptr<actor_cell> remote_cell(std::shared_ptr<actor_service> svc,
                                        std::string_view id,
                                        const actor_class& cls,
                                        std::shared_ptr<remote_workflows> remote);

/// Sends mutating calls `ms` to remote cell `c`'s actor, after the calls
/// sent through it before, one at a time on the actors' pool; each `done`
/// completes with the answer.
void send_remote(actor_cell& c, std::vector<mutation> ms);

/// The mutating method running on this thread, if any: the chain of
/// mutating calls that waits on it (for cycle detection) and the source of
/// the keys of the calls it makes (stable when it runs again).
struct call_context {
  /// The chain of the call that runs, without it (null: empty).
  std::shared_ptr<const call_chain> outer;
  const std::string* actor = nullptr;  ///< its actor's id; null: none runs
  const std::string* method = nullptr; ///< its method's name
  const std::string* key = nullptr;    ///< its idempotency key
  std::uint64_t calls = 0;             ///< actor calls it made so far
  /// The messages it told so far (actor_ref::tell), logged with its call
  /// in its actor's outbox; null: not a method whose call is logged.
  std::vector<actor_records::tell>* tells = nullptr;
  /// The actors of the engine it runs in (whose outbox sends what it
  /// tells).
  const actor_service* service = nullptr;
};

/// This thread's call context.
call_context& current_call() noexcept;

/// Sets this thread's call context for its lifetime, then restores it.
class call_scope {
 public:
  explicit call_scope(call_context c) : saved_(std::move(current_call())) {
    current_call() = std::move(c);
  }
  ~call_scope() {
    current_call() = std::move(saved_);
  }
  call_scope(const call_scope&) = delete;
  call_scope& operator=(const call_scope&) = delete;

 private:
  call_context saved_;
};

/// Steady-clock nanoseconds.
std::int64_t mono_ns() noexcept;

} // namespace perdure::detail
