// SPDX-License-Identifier: Apache-2.0
#pragma once

// What `show` prints for an actor: its current state and its last calls.

#include "payload_json.hpp"
#include "storage.hpp"

#include "perdure/eventlog/event_log.hpp"
#include "perdure/tools/cli.hpp"

namespace perdure::tools {

struct actor_summary {
  json state;                    ///< the current state (null: none recorded)
  eventlog::seq_t state_seq = 0; ///< the record it comes from
  json last_calls;               ///< seq, time, kind, method, args, ... (oldest first)
  bool event_sourced = false;
  bool folded = false;           ///< `state` includes the events below
  json events_since = json::array(); ///< event-sourced: after state_seq
};

/// The actor stream's state after its last record (an event-sourced
/// actor's folded with `fold` when given) and its last `calls` calls
/// (among its last 256 records).
result<actor_summary> summarize_actor(const eventlog::event_log& log,
                                      const eventlog::stream_info& info,
                                      const actor_fold& fold,
                                      std::size_t calls = 5);

/// Prints a STATE section (and the events not folded into it) and a LAST
/// CALLS table.
void print_actor_summary(const context& ctx, const actor_summary& a);

/// Prints the EVENTS AFTER IT table of an event-sourced actor's events
/// that are not folded into the state shown (rows {seq, type, data}).
void print_unfolded_events(const context& ctx, const json& events);

} // namespace perdure::tools
