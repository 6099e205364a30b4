// SPDX-License-Identifier: Apache-2.0
#pragma once

// The record kinds perdure writes. Numbers are stored: append only, never
// renumber. Tools print them by name without the user's code.

#include <cstdint>
#include <string_view>

namespace perdure::eventlog {

enum class record_kind : std::uint16_t {
  user = 0,                 ///< written by applications and tests directly
  change_note = 10,         ///< in a change feed: a record appended elsewhere
  // workflows (1xx)
  workflow_submitted = 100, ///< the static graph, ids and options
  step_started = 101,
  step_succeeded = 102,
  step_failed = 103,
  step_continued = 104,     ///< a step returned a sub-graph
  workflow_succeeded = 105,
  workflow_failed = 106,
  workflow_canceled = 107,
  workflow_resumed = 108,
  event_received = 109,     ///< a listener's event became a node's output
  timer_set = 110,
  signal_sent = 111,        ///< in stream signals/ID: a signal to workflow ID
  promise_settled = 112,    ///< in stream signals/ID: a promise resolved
  child_started = 113,      ///< in stream children/ID: a child workflow
  workflow_continued = 114, ///< in stream runs/ID/N: run N continued as new
  run_record = 115,         ///< in stream runs/ID/N: a record of run N
  schedule_fired = 120,     ///< in stream schedule/NAME: a tick's workflow
  // actors (2xx)
  actor_created = 200,
  actor_called = 201,       ///< a mutating call: method, args, result, state
  actor_call_failed = 202,
  actor_snapshot = 203,
  actor_call_completed = 204, ///< the sub-workflow of a call ended
  actor_events = 205,       ///< an event-sourced call: its events, result
  actor_feed = 206,         ///< one event in its class's feed (projections)
  actor_tell = 207,         ///< in stream outbox/ID: a message ID told
  // listeners (3xx)
  source_record = 300,
  dead_letter = 301,
};

/// The stable name of `kind` ("step_succeeded"), or "unknown".
std::string_view kind_name(std::uint16_t kind) noexcept;

constexpr std::uint16_t to_u16(record_kind k) noexcept {
  return static_cast<std::uint16_t>(k);
}

} // namespace perdure::eventlog
