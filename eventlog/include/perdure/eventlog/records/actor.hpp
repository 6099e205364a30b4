// SPDX-License-Identifier: Apache-2.0
#pragma once

// The payloads of the actor records (record_kinds.hpp 200..205, 207) and of an
// actor stream's directory metadata: the one schema that the actors write
// and the CLI and tests read. Codec structs; states, arguments and results
// are nested as `codec::bytes` holding the user's own FlexBuffer. Adding a
// field is compatible; removing or retyping one is not.

#include "perdure/eventlog/codec.hpp"

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace perdure::actor_records {

/// A name and a codec type signature (of a method: "<args>-><result>").
struct named_signature {
  std::string name;
  std::string signature;
};
/// Directory metadata of an actor stream: the class as it was created.
/// `signature` is the state's; `methods` the mutating methods' and
/// `events` the event types' (event-sourced classes). Streams written
/// before these fields existed have them empty.
struct actor_meta {
  std::string cls;
  std::string signature;
  bool event_sourced = false;
  std::vector<named_signature> methods;
  std::vector<named_signature> events;
};
/// actor_created: the initial state.
struct created {
  std::string cls;
  std::string signature;
  codec::bytes state;
};
/// actor_called: a mutating call and the state after it. `workflow` is set
/// when the method returned a sub-workflow; its result is then logged by
/// the later actor_call_completed.
struct called {
  std::string key;
  std::string method;
  codec::bytes args;
  codec::bytes result;
  codec::bytes state;
  std::string workflow;
};
/// actor_call_failed: the method threw; the state is unchanged.
struct failed {
  std::string key;
  std::string method;
  codec::bytes args;
  std::string error_type;
  std::string error_text;
};
/// actor_call_completed: the sub-workflow of call `key` ended.
struct completed {
  std::string key;
  std::string workflow;
  bool ok = false;
  codec::bytes result;
  std::string error;
};
/// One event of an event-sourced call: its type's registered name, the
/// codec signature of the type that wrote it (what an upcaster keys on)
/// and the encoded event.
struct stored_event {
  std::string type;
  std::string signature;
  codec::bytes data;
};
/// actor_events: a mutating call of an event-sourced actor and the events
/// it emitted, in order (the state is their fold; none: the state is
/// unchanged). `workflow` as in `called`.
struct events_called {
  std::string key;
  std::string method;
  codec::bytes args;
  codec::bytes result;
  std::vector<stored_event> events;
  std::string workflow;
};
/// actor_tell, in stream "outbox/<sender>" (outbox_stream): a one-way
/// message that a mutating call of actor `sender` told actor `target` of
/// class `cls`, logged in that call's batch. Its seq in the outbox stream
/// is the message's sequence number: the receiver applies it under key
/// tell_key(seq, sender) and keeps the highest seq it applied from the
/// sender in offset inbox_offset(target, sender), in the same batch. In
/// stream "outbox-dead/<sender>" (dead_tell_stream): a message that could
/// not be delivered (no such actor, another class, an unknown method),
/// with `error` saying why.
struct tell {
  std::string cls;
  std::string target;
  std::string method;
  codec::bytes args;
  std::string error;
};

/// "outbox/<sender>".
inline std::string outbox_stream(std::string_view sender) {
  return "outbox/" + std::string{sender};
}
/// "outbox-dead/<sender>".
inline std::string dead_tell_stream(std::string_view sender) {
  return "outbox-dead/" + std::string{sender};
}
/// "actor-inbox/<target>/<sender>": the offset holding the highest seq of
/// the sender's outbox that `target` applied.
inline std::string inbox_offset(std::string_view target,
                                std::string_view sender) {
  return "actor-inbox/" + std::string{target} + "/" + std::string{sender};
}
/// The idempotency key of message `seq` of `sender`: "out:<seq>:<sender>"
/// (keys of this form are reserved for told messages).
inline std::string tell_key(std::uint64_t seq, std::string_view sender) {
  return "out:" + std::to_string(seq) + ":" + std::string{sender};
}
/// "actor-source/<target>/<source>": the offset holding the highest seq
/// that `target` applied from an outside source (source_key).
inline std::string source_offset(std::string_view target,
                                 std::string_view source) {
  return "actor-source/" + std::string{target} + "/" + std::string{source};
}
/// The idempotency key of item `seq` (at least 1) of an ordered source
/// outside perdure whose items reach an actor in seq order, one at a
/// time (a Kafka partition of a cluster feed): "in:<seq>:<source>" (keys
/// of this form are reserved). The actor applies the call only above the
/// highest seq it applied from `source`, which it keeps in offset
/// source_offset(actor, source) in the call's batch; at or below it, the
/// call is answered from the key window when the key is still there, else
/// ok without running (applied before, however many calls came since).
inline std::string source_key(std::uint64_t seq, std::string_view source) {
  return "in:" + std::to_string(seq) + ":" + std::string{source};
}

/// A key made by tell_key or source_key.
struct sequenced_key {
  std::uint64_t seq = 0;
  std::string_view source; ///< the sender's id, or the outside source
  bool told = false;       ///< tell_key (else source_key)
  /// The offset of `target` that holds the highest seq applied from it.
  std::string offset_of(std::string_view target) const {
    return told ? inbox_offset(target, source) : source_offset(target, source);
  }
};

/// The seq and source of a key made by tell_key or source_key; nullopt for
/// another key (also for seq 0, an empty source or a seq over 2^64 - 1).
inline std::optional<sequenced_key> parse_sequenced_key(std::string_view key) {
  sequenced_key out;
  if (key.starts_with("out:"))
    out.told = true;
  else if (!key.starts_with("in:"))
    return std::nullopt;
  auto rest = key.substr(out.told ? 4 : 3);
  auto colon = rest.find(':');
  if (colon == 0 || colon == std::string_view::npos || colon > 20
      || colon + 1 == rest.size())
    return std::nullopt;
  for (auto ch : rest.substr(0, colon)) {
    if (ch < '0' || ch > '9')
      return std::nullopt;
    auto next = out.seq * 10 + static_cast<std::uint64_t>(ch - '0');
    if (next / 10 != out.seq)
      return std::nullopt; // overflows
    out.seq = next;
  }
  if (out.seq == 0)
    return std::nullopt;
  out.source = rest.substr(colon + 1);
  return out;
}

struct key_entry {
  std::string key;
  bool ok = false;
  codec::bytes result;
  std::string error;
};
/// actor_snapshot: the state and the recent idempotency keys.
struct snapshot {
  codec::bytes state;
  std::vector<key_entry> keys;
};

PERDURE_FIELDS(named_signature, name, signature)
PERDURE_FIELDS(actor_meta, cls, signature, event_sourced, methods, events)
PERDURE_FIELDS(stored_event, type, signature, data)
PERDURE_FIELDS(events_called, key, method, args, result, events, workflow)
PERDURE_FIELDS(created, cls, signature, state)
PERDURE_FIELDS(called, key, method, args, result, state, workflow)
PERDURE_FIELDS(failed, key, method, args, error_type, error_text)
PERDURE_FIELDS(completed, key, workflow, ok, result, error)
PERDURE_FIELDS(key_entry, key, ok, result, error)
PERDURE_FIELDS(tell, cls, target, method, args, error)
PERDURE_FIELDS(snapshot, state, keys)

/// The same wire form as key_entry / snapshot (not another schema), with
/// views: encoded (only) from the actors' key index without copying its
/// keys; for keys and errors without NUL bytes.
struct key_entry_view {
  const char* key = "";
  bool ok = false;
  codec::bytes result;
  const char* error = "";
};
struct snapshot_view {
  codec::bytes state;
  std::vector<key_entry_view> keys;
};
PERDURE_FIELDS(key_entry_view, key, ok, result, error)
PERDURE_FIELDS(snapshot_view, state, keys)

} // namespace perdure::actor_records
