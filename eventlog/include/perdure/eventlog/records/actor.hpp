// SPDX-License-Identifier: Apache-2.0
#pragma once

// The payloads of the actor records (record_kinds.hpp 200..204) and of an
// actor stream's directory metadata: the one schema that the actors write
// and the CLI and tests read. Codec structs; states, arguments and results
// are nested as `codec::bytes` holding the user's own FlexBuffer. Adding a
// field is compatible; removing or retyping one is not.

#include "perdure/eventlog/codec.hpp"

#include <string>
#include <vector>

namespace perdure::actor_records {

/// Directory metadata of an actor stream.
struct actor_meta {
  std::string cls;
  std::string signature;
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

PERDURE_FIELDS(actor_meta, cls, signature)
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
