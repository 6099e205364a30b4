// SPDX-License-Identifier: Apache-2.0
#pragma once

// The payloads of the actor records (record_kinds.hpp 200..205) and of an
// actor stream's directory metadata: the one schema that the actors write
// and the CLI and tests read. Codec structs; states, arguments and results
// are nested as `codec::bytes` holding the user's own FlexBuffer. Adding a
// field is compatible; removing or retyping one is not.

#include "perdure/eventlog/codec.hpp"

#include <string>
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
