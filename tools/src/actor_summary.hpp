// SPDX-License-Identifier: Apache-2.0
#pragma once

// What `show` prints for an actor: its current state and its last calls.

#include "payload_json.hpp"
#include "storage.hpp"

#include "perdure/eventlog/event_log.hpp"

namespace perdure::tools {

struct actor_summary {
  json state;                    ///< the current state (null: none recorded)
  eventlog::seq_t state_seq = 0; ///< the record it comes from
  json last_calls;               ///< seq, time, kind, method, args, ... (oldest first)
};

/// The actor stream's state after its last record and its last `calls`
/// calls (among its last 256 records).
result<actor_summary> summarize_actor(const eventlog::event_log& log,
                                      const eventlog::stream_info& info,
                                      std::size_t calls = 5);

/// Prints a STATE section and a LAST CALLS table.
void print_actor_summary(const context& ctx, const actor_summary& a);

} // namespace perdure::tools
